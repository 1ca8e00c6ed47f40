"""The asset API people and integrations use: upload, list and search, read, rename, tag by hand, delete.

An asset is shown whole: the file's metadata (media), what the detector found (tagging) and the manual
tags (review). The list takes ``q`` and the structured filters of ``search.filters.AssetFilter``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from assetsite.api import ApiError, ErrorSerializer
from assetsite.pagination import KeysetCursorPagination
from media import signing
from media.api import FILE_RESPONSES, SIGNED_PARAMETERS, FileView
from media.decoding import DecodeBusy
from media.files import file_response
from media.links import asset_file_paths, signed_file_paths
from media.models import Asset
from media.renditions import FORMATS as RENDITION_FORMATS
from media.renditions import (
    FocusBox,
    RenditionInvalid,
    RenditionSpec,
    rendition_find,
    rendition_make,
    rendition_spec_parse,
)
from media.selectors import asset_get, asset_mark_new, assets_visible_to
from media.services import AssetRejected, asset_create, asset_trash, asset_update
from media.uploads import oversize_message
from review.services import asset_manual_tags_set, assets_retag
from search.api import AssetSearchBackend, QueryErrorPositionMixin
from search.filters import AssetFilter
from search.labels import label_candidates
from search.nodes import moment_labels
from tagging.labels import LABEL_MAX_LENGTH
from tagging.models import AssetTag, Detection, DetectionRun, DetectionSource, ReviewState, Track
from tagging.selectors import focus_box
from tagging.serializers import DetectionSerializer, MomentSerializer, RunSerializer, TagSerializer, TrackSerializer
from tagging.tracking import joined_spans

MAX_MANUAL_TAGS = 50


class AssetUrlsSerializer(serializers.Serializer):
    api = serializers.URLField()
    page = serializers.URLField(help_text="The asset's page on the site (browser session).")
    original = serializers.URLField(help_text="The original file; works with the API token.")
    thumbnail_small = serializers.URLField()
    thumbnail_large = serializers.URLField()
    rendition = serializers.URLField(help_text="Add ?width=&height=&fit=&focus=&format=&quality= (see docs/api.md).")
    tracks = serializers.URLField(help_text="A video's tracks, paged (empty for images).")
    proxy = serializers.URLField(
        allow_null=True,
        help_text="A video's web-playable proxy (H.264 MP4) when browsers may not play the original (HEVC, MOV, "
        "MKV): made by the worker after tagging; null until then, for images and for web-playable videos.",
    )


class SignedUrlsSerializer(serializers.Serializer):
    original = serializers.CharField()
    thumbnail_small = serializers.CharField()
    thumbnail_large = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ManualTagsField(serializers.ListField):
    """The labels a person put on the asset. Writing the list adds tags (without a box) and removes
    the manual detections of labels left out; automatic detections are not touched."""

    child = serializers.CharField(max_length=LABEL_MAX_LENGTH)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", required=False, max_length=MAX_MANUAL_TAGS, **kwargs)

    def to_representation(self, asset: Asset) -> list[str]:
        return sorted(
            {
                d.label.name
                for d in asset.detections.all()
                if d.source == DetectionSource.MANUAL and d.review != ReviewState.REJECTED
            }
        )

    def run_validation(self, data: Any = serializers.empty) -> dict[str, list[str]]:
        # source="*" merges what this returns into validated_data; the list is checked first.
        return {"manual_tags": super().run_validation(data)}


class AssetSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="tagging_status", read_only=True)
    error = serializers.CharField(source="tagging_error", read_only=True)
    filename = serializers.CharField(source="original_filename", read_only=True)
    urls = serializers.SerializerMethodField()
    signed_urls = serializers.SerializerMethodField(
        help_text="With ?signed=1: the same files as signed URLs that need no token until expires_at; else null."
    )
    detections = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    last_run = serializers.SerializerMethodField()
    manual_tags = ManualTagsField()
    tracks = serializers.SerializerMethodField(
        help_text="Videos: the first VIDEO_TRACKS_IN_ASSET tracks by start time (rejected ones left out); "
        "all of them, paged, at urls.tracks. [] for images."
    )
    tracks_total = serializers.SerializerMethodField(help_text="How many tracks (rejected ones left out).")
    moments = serializers.SerializerMethodField(
        help_text="In search results (q or label filters) for a video: when the labels searched for are on "
        "screen, by start time, so a player can seek. Null otherwise."
    )

    class Meta:
        model = Asset
        fields = [
            "id",
            "filename",
            "title",
            "status",
            "error",
            "format",
            "mime_type",
            "width",
            "height",
            "byte_size",
            "sha256",
            "taken_at",
            "taken_offset",
            "camera",
            "created_at",
            "updated_at",
            "tagged_at",
            "favorite",
            "urls",
            "signed_urls",
            "detections",
            "tags",
            "last_run",
            "manual_tags",
            "kind",
            "duration",
            "fps",
            "video_codec",
            "tracks",
            "tracks_total",
            "moments",
        ]
        read_only_fields = [field for field in fields if field not in {"title", "manual_tags", "favorite"}]
        extra_kwargs = {
            "favorite": {"help_text": "A heart: true to mark the asset, false to take it off."},
            "taken_offset": {
                "help_text": "Minutes east of UTC on the camera's clock (EXIF OffsetTimeOriginal); null when the "
                "file gives none, and taken_at is then the camera's time read as UTC."
            },
            "kind": {"help_text": "image or video."},
            "duration": {"help_text": "Videos: seconds; null for images."},
        }

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(AssetUrlsSerializer)
    def get_urls(self, asset: Asset) -> dict[str, str | None]:
        paths = {
            "api": reverse("api:asset-detail", args=[asset.pk]),
            "page": reverse("asset-detail", args=[asset.pk]),
            **asset_file_paths(asset),
            "rendition": reverse("api:asset-rendition", args=[asset.pk]),
            "tracks": reverse("api:asset-tracks", args=[asset.pk]),
        }
        urls: dict[str, str | None] = {name: self._absolute(path) for name, path in paths.items()}
        urls["proxy"] = self._absolute(reverse("api:asset-proxy", args=[asset.pk])) if asset.video_proxy.name else None
        return urls

    @extend_schema_field(SignedUrlsSerializer(allow_null=True))
    def get_signed_urls(self, asset: Asset) -> dict[str, str] | None:
        request = self.context.get("request")
        if request is None or request.query_params.get("signed") not in ("1", "true"):
            return None
        signed = signed_file_paths(asset)
        return {name: value if name == "expires_at" else self._absolute(value) for name, value in signed.items()}

    @extend_schema_field(DetectionSerializer(many=True))
    def get_detections(self, asset: Asset) -> list[dict]:
        # Rejected detections are kept (so re-tagging does not resurrect them) but not shown as tags.
        visible = [d for d in asset.detections.all() if d.review != ReviewState.REJECTED]
        return DetectionSerializer(visible, many=True, context=self.context).data

    def _visible_tracks(self, asset: Asset) -> list[Track]:
        return [track for track in asset.tracks.all() if track.review != ReviewState.REJECTED]

    @extend_schema_field(TrackSerializer(many=True))
    def get_tracks(self, asset: Asset) -> list[dict]:
        shown = self._visible_tracks(asset)[: settings.VIDEO_TRACKS_IN_ASSET]
        return TrackSerializer(shown, many=True, context=self.context).data

    def get_tracks_total(self, asset: Asset) -> int:
        return len(self._visible_tracks(asset))

    @extend_schema_field(MomentSerializer(many=True, allow_null=True))
    def get_moments(self, asset: Asset) -> list[dict] | None:
        wanted = self.context.get("moment_labels")
        if not wanted or not asset.is_video:
            return None
        spans = [
            (track.label.name, track.start, track.end)
            for track in self._visible_tracks(asset)
            if track.label.name in wanted and all(c.accepts(track.confidence) for c in wanted[track.label.name])
        ]
        # Two dogs crossing the frame one after the other, or together, are one moment with a dog in it.
        return [
            {"label": label, "start": start, "end": end}
            for label, start, end in joined_spans(spans, max_gap=settings.VIDEO_TRACK_MAX_GAP)
        ]

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_last_run(self, asset: Asset) -> dict | None:
        runs = list(asset.detection_runs.all()[:1])
        return RunSerializer(runs[0]).data if runs else None


class UploadedAssetSerializer(AssetSerializer):
    restored_from_trash = serializers.SerializerMethodField(
        help_text="True when this content was in your trash: the upload brought that asset back (with its tags, "
        "reviews and collections) instead of refusing a duplicate."
    )

    class Meta(AssetSerializer.Meta):
        fields = [*AssetSerializer.Meta.fields, "restored_from_trash"]

    def get_restored_from_trash(self, asset: Asset) -> bool:
        return bool(self.context.get("restored_from_trash"))


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The image (JPEG, PNG, WebP, GIF, TIFF or HEIC/HEIF) or video (MP4, MOV, WebM or MKV with "
        "H.264, HEVC, AV1, VP8 or VP9)."
    )


class AssetViewSet(QueryErrorPositionMixin, viewsets.ModelViewSet):  # PATCH, not PUT: see http_method_names
    """The signed-in user's assets. The list takes ``q`` and the structured filters of AssetFilter."""

    serializer_class = AssetSerializer
    filter_backends = [AssetSearchBackend]
    filterset_class = AssetFilter
    pagination_class = KeysetCursorPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    throttle_scope: str | None = None  # "retag" on retag (ScopedRateThrottle ignores None)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return assets_visible_to(self.request.user).prefetch_related(
            Prefetch(
                "detections",
                queryset=Detection.objects.select_related("label", "run", "asset", "suggested_label"),
            ),
            Prefetch("tags", queryset=AssetTag.objects.select_related("label")),
            Prefetch("detection_runs", queryset=DetectionRun.objects.order_by("-started_at", "-id")),
            Prefetch("tracks", queryset=Track.objects.select_related("label", "suggested_label")),
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        query = getattr(self, "search_query", None)  # set by AssetSearchBackend on the list
        if query is not None:
            context["moment_labels"] = moment_labels(query)
        return context

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: UploadedAssetSerializer,
            200: OpenApiResponse(
                UploadedAssetSerializer,
                description="The same content was uploaded before (restored_from_trash: it was in the trash and is "
                "back in the library).",
            ),
            400: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
            503: OpenApiResponse(ErrorSerializer, description=(
                "Too many large images being decoded (server_busy), or the file store is unreachable "
                "(storage_unavailable); see Retry-After.")),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = request.FILES.get("file")  # parses the body, which fills oversize_uploads
        oversize = getattr(request._request, "oversize_uploads", [])
        if upload is None:
            if oversize:
                raise ApiError(
                    oversize_message(request._request, oversize[0]),
                    code="file_too_large",
                    status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                )
            raise ApiError("Send the image or video as the multipart/form-data field 'file'.", code="file_missing")
        try:
            result = asset_create(owner=request.user, file=upload, filename=upload.name)
        except AssetRejected as rejection:
            raise ApiError(
                rejection.message, code=rejection.code, status_code=rejection.status, retry_after=rejection.retry_after
            ) from None
        serializer = UploadedAssetSerializer(
            asset_mark_new(result.asset) if result.created else result.asset,
            context={**self.get_serializer_context(), "restored_from_trash": result.restored},
        )
        return Response(serializer.data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            asset_update(
                asset=serializer.instance,
                title=serializer.validated_data.get("title"),
                favorite=serializer.validated_data.get("favorite"),
            )
            labels = serializer.validated_data.get("manual_tags")
            if labels is not None:
                asset_manual_tags_set(asset=serializer.instance, labels=labels)

    def perform_destroy(self, instance: Asset) -> None:
        # To the trash: GET /api/trash/ lists it, POST /api/trash/{id}/restore/ brings it back.
        asset_trash(asset=instance)

    @extend_schema(request=None, responses={202: AssetSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"], throttle_classes=[UserRateThrottle, ScopedRateThrottle],
            throttle_scope="retag")
    def retag(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """Run the detector on the asset again. Manual and reviewed detections are kept."""
        asset = self.get_object()
        assets_retag(assets=Asset.objects.filter(pk=asset.pk))
        asset.refresh_from_db()
        return Response(self.get_serializer(asset).data, status=status.HTTP_202_ACCEPTED)


# --- renditions and signed URLs -------------------------------------------------------------------


class RenditionMissThrottle(UserRateThrottle):
    """Renditions not in the cache cost a decode and an encode: a budget per user (or address)."""

    scope = "renditions"


def _focus_for(asset: Asset, spec: RenditionSpec) -> FocusBox | None:
    if spec.fit != "cover":
        return None
    return focus_box(asset=asset, labels=None if spec.focus == "auto" else label_candidates(spec.focus))


def _spec_or_400(params: dict[str, str]) -> RenditionSpec:
    try:
        return rendition_spec_parse(params)
    except RenditionInvalid as problem:
        raise ApiError(problem.message, code="invalid_parameter", extra={"parameter": problem.parameter}) from None


@extend_schema(
    parameters=[
        OpenApiParameter("width", OpenApiTypes.INT, description="Pixels (1 to RENDITION_MAX_SIDE, default 4096)."),
        OpenApiParameter("height", OpenApiTypes.INT, description="Pixels; contain needs one of width/height."),
        OpenApiParameter("fit", str, enum=["contain", "cover"], description="contain (default) or cover."),
        OpenApiParameter(
            "focus", OpenApiTypes.STR,
            description="cover only: auto (the largest confident object, else the centre) or a label.",
        ),
        OpenApiParameter("format", str, enum=list(RENDITION_FORMATS), description="jpeg (default), webp or png."),
        OpenApiParameter("quality", OpenApiTypes.INT, description="1-100 (default 85; png ignores it)."),
        *SIGNED_PARAMETERS,
    ],
    responses={**FILE_RESPONSES, 400: ErrorSerializer, 429: ErrorSerializer},
)
class AssetRenditionView(FileView):
    """The picture resized (contain) or cropped around its subject (cover), cached after the first request.

    The header X-Rendition-Focus says which box a cover crop centred on ("centre" when none).
    """

    def get(self, request: Request, asset_id: uuid.UUID) -> Any:
        asset = self.asset_for(request, asset_id)
        spec = _spec_or_400(request.query_params.dict())
        focus = _focus_for(asset, spec)
        rendition = rendition_find(asset=asset, spec=spec, focus=focus)
        if rendition is None:
            throttle = RenditionMissThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            try:
                rendition = rendition_make(asset=asset, spec=spec, focus=focus)
            except DecodeBusy as busy:
                raise ApiError(f"{busy} Try again in a few seconds.", code="server_busy", status_code=503,
                               retry_after=busy.retry_after) from None
        response = file_response(
            request,
            name=rendition.name,
            content_type=rendition.content_type,
            etag=rendition.etag,
            filename=rendition.filename,
            as_attachment=request.query_params.get("download") == "1",
            cache_control="private, max-age=86400",
        )
        response["X-Rendition-Focus"] = focus.description if focus is not None else "centre"
        response["X-Rendition-Cache"] = "hit" if rendition.cached else "miss"
        return response


SIGNABLE = ["original", "thumbnail_small", "thumbnail_large", "rendition", "crop", "proxy"]


class SignedUrlRequestSerializer(serializers.Serializer):
    file = serializers.ChoiceField(choices=SIGNABLE, help_text="Which file the URL opens.")
    rendition = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text='For file=rendition: its parameters, e.g. {"width": "800", "fit": "cover", "focus": "dog"}.',
    )
    detection = serializers.IntegerField(required=False, help_text="For file=crop: the detection's id.")
    lifetime = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Seconds the URL works (default FILE_URL_LIFETIME, at most FILE_URL_MAX_LIFETIME).",
    )


class SignedUrlSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class AssetSignedUrlView(APIView):
    """A signed URL for one file of your asset: it works without a token (an <img> elsewhere, an email)."""

    @extend_schema(
        parameters=[OpenApiParameter("asset_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=SignedUrlRequestSerializer,
        responses={201: SignedUrlSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request: Request, asset_id: uuid.UUID) -> Response:
        asset = asset_get(user=request.user, asset_id=asset_id)
        if asset is None:
            raise NotFound("No such asset.")
        serializer = SignedUrlRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lifetime = data.get("lifetime") or settings.FILE_URL_LIFETIME
        if lifetime > settings.FILE_URL_MAX_LIFETIME:
            raise ApiError(
                f"lifetime: at most {settings.FILE_URL_MAX_LIFETIME} seconds.", code="invalid",
                extra={"parameter": "lifetime"},
            )
        params: dict[str, str] = {}
        if data["file"] == "rendition":
            params = _spec_or_400(dict(data.get("rendition") or {})).params()
            path = reverse("api:asset-rendition", args=[asset.pk])
        elif data["file"] == "crop":
            detection = asset.detections.filter(pk=data.get("detection") or 0, x__isnull=False).first()
            if detection is None:
                raise ApiError("detection: give the id of one of this asset's detections with a box.", code="invalid",
                               extra={"parameter": "detection"})
            path = reverse("api:detection-crop", args=[detection.pk])
        elif data["file"] == "proxy":
            if not asset.video_proxy.name:
                raise ApiError("file: this asset has no web-playable proxy (see urls.proxy).", code="invalid",
                               extra={"parameter": "file"})
            path = reverse("api:asset-proxy", args=[asset.pk])
        else:
            path = asset_file_paths(asset)[data["file"]]
        url, expires = signing.sign(path, params, lifetime=lifetime)
        return Response(
            {"url": request.build_absolute_uri(url), "expires_at": datetime.fromtimestamp(expires, UTC)},
            status=status.HTTP_201_CREATED,
        )
