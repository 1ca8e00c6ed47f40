"""The asset API people and integrations use: upload, list and search, read, rename, tag by hand, delete.

An asset is shown whole: the file's metadata (media), what the detector found (tagging) and the manual
tags (review). The list takes ``q`` and the structured filters of ``search.filters.AssetFilter``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from assetsite.api import ApiError, ErrorSerializer
from assetsite.pagination import KeysetCursorPagination
from media.models import Asset
from media.selectors import asset_mark_new, assets_visible_to
from media.services import AssetRejected, asset_create, asset_delete, asset_update
from review.services import asset_manual_tags_set, assets_retag
from search.api import AssetSearchBackend, QueryErrorPositionMixin
from search.filters import AssetFilter
from tagging.labels import LABEL_MAX_LENGTH
from tagging.models import AssetTag, Detection, DetectionRun, DetectionSource, ReviewState
from tagging.serializers import DetectionSerializer, RunSerializer, TagSerializer

MAX_MANUAL_TAGS = 50


class AssetUrlsSerializer(serializers.Serializer):
    api = serializers.URLField()
    page = serializers.URLField()
    original = serializers.URLField()
    thumbnail_small = serializers.URLField()
    thumbnail_large = serializers.URLField()


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
    detections = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    last_run = serializers.SerializerMethodField()
    manual_tags = ManualTagsField()

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
            "camera",
            "created_at",
            "updated_at",
            "tagged_at",
            "urls",
            "detections",
            "tags",
            "last_run",
            "manual_tags",
        ]
        read_only_fields = [field for field in fields if field not in {"title", "manual_tags"}]

    @extend_schema_field(AssetUrlsSerializer)
    def get_urls(self, asset: Asset) -> dict[str, str]:
        request = self.context.get("request")

        def absolute(path: str) -> str:
            return request.build_absolute_uri(path) if request is not None else path

        return {
            "api": absolute(reverse("api:asset-detail", args=[asset.pk])),
            "page": absolute(reverse("asset-detail", args=[asset.pk])),
            "original": absolute(reverse("asset-file", args=[asset.pk])),
            "thumbnail_small": absolute(reverse("asset-thumbnail", args=[asset.pk, "small"])),
            "thumbnail_large": absolute(reverse("asset-thumbnail", args=[asset.pk, "large"])),
        }

    @extend_schema_field(DetectionSerializer(many=True))
    def get_detections(self, asset: Asset) -> list[dict]:
        # Rejected detections are kept (so re-tagging does not resurrect them) but not shown as tags.
        visible = [d for d in asset.detections.all() if d.review != ReviewState.REJECTED]
        return DetectionSerializer(visible, many=True, context=self.context).data

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_last_run(self, asset: Asset) -> dict | None:
        runs = list(asset.detection_runs.all()[:1])
        return RunSerializer(runs[0]).data if runs else None


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The image: JPEG, PNG, WebP, GIF, TIFF or HEIC/HEIF.")


class AssetViewSet(QueryErrorPositionMixin, viewsets.ModelViewSet):  # PATCH, not PUT: see http_method_names
    """The signed-in user's assets. The list takes ``q`` and the structured filters of AssetFilter."""

    serializer_class = AssetSerializer
    filter_backends = [AssetSearchBackend]
    filterset_class = AssetFilter
    pagination_class = KeysetCursorPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return assets_visible_to(self.request.user).prefetch_related(
            Prefetch(
                "detections",
                queryset=Detection.objects.select_related("label", "run", "asset", "suggested_label"),
            ),
            Prefetch("tags", queryset=AssetTag.objects.select_related("label")),
            Prefetch("detection_runs", queryset=DetectionRun.objects.order_by("-started_at", "-id")),
        )

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: AssetSerializer,
            200: OpenApiResponse(AssetSerializer, description="The same content was uploaded before."),
            400: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
            503: OpenApiResponse(ErrorSerializer, description="Too many large images being decoded; see Retry-After."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = request.FILES.get("file")  # parses the body, which fills oversize_uploads
        oversize = getattr(request._request, "oversize_uploads", [])
        if upload is None:
            if oversize:
                raise ApiError(
                    f"{oversize[0]} is larger than the upload limit of {settings.ASSET_MAX_BYTES / 1e6:.1f} MB.",
                    code="file_too_large",
                    status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                )
            raise ApiError("Send the image as the multipart/form-data field 'file'.", code="file_missing")
        try:
            result = asset_create(owner=request.user, file=upload, filename=upload.name)
        except AssetRejected as rejection:
            raise ApiError(
                rejection.message, code=rejection.code, status_code=rejection.status, retry_after=rejection.retry_after
            ) from None
        serializer = self.get_serializer(asset_mark_new(result.asset) if result.created else result.asset)
        return Response(serializer.data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            asset_update(asset=serializer.instance, title=serializer.validated_data.get("title"))
            labels = serializer.validated_data.get("manual_tags")
            if labels is not None:
                asset_manual_tags_set(asset=serializer.instance, labels=labels)

    def perform_destroy(self, instance: Asset) -> None:
        asset_delete(asset=instance)

    @extend_schema(request=None, responses={202: AssetSerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def retag(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """Run the detector on the asset again. Manual and reviewed detections are kept."""
        asset = self.get_object()
        assets_retag(assets=Asset.objects.filter(pk=asset.pk))
        asset.refresh_from_db()
        return Response(self.get_serializer(asset).data, status=status.HTTP_202_ACCEPTED)
