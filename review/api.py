"""API for reviewing what the detector found: add, accept, reject, relabel and remove detections;
bulk actions over ids or a search query.

Every lookup starts from ``assets_visible_to``: another user's asset or detection is a 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from assetsite.api import ApiError, ErrorSerializer
from assetsite.pagination import KeysetCursorPagination
from media.api import FILE_RESPONSES, SIGNED_PARAMETERS, FileView
from media.decoding import DecodeBusy
from media.models import Asset
from media.selectors import asset_get, assets_visible_to
from review.selectors import (
    CropUnavailable,
    TooManyAssets,
    bulk_selection,
    detection_crop,
    detection_get,
    review_queue,
    track_get,
)
from review.services import (
    assets_bulk_action,
    detection_add_manual,
    detection_delete,
    detection_review,
    track_review,
)
from review.validation import BULK_ACTIONS, MAX_SIDE, InvalidInput, box_check, label_action_problem, label_clean
from search.api import InvalidQuerySerializer, QueryErrorPositionMixin, filterset_or_400
from search.filters import AssetFilter
from tagging.boxes import Box
from tagging.labels import LABEL_MAX_LENGTH
from tagging.models import Detection, Track
from tagging.serializers import DetectionSerializer, TrackSerializer

ASSET_ID = OpenApiParameter("asset_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
DETECTION_ID = OpenApiParameter("detection_id", OpenApiTypes.INT, OpenApiParameter.PATH)
TRACK_ID = OpenApiParameter("track_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def asset_or_404(request: Request, asset_id: str) -> Asset:
    asset = asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise NotFound("No such asset.")
    return asset


class LabelField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=LABEL_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return label_clean(super().to_internal_value(data))
        except InvalidInput as problem:
            raise serializers.ValidationError(problem.message, code=problem.code) from None


class BoxInputSerializer(serializers.Serializer):
    x = serializers.IntegerField(min_value=0, max_value=MAX_SIDE, help_text="Left edge, pixels from the left.")
    y = serializers.IntegerField(min_value=0, max_value=MAX_SIDE, help_text="Top edge, pixels from the top.")
    width = serializers.IntegerField(min_value=1, max_value=MAX_SIDE)
    height = serializers.IntegerField(min_value=1, max_value=MAX_SIDE)


class DetectionCreateSerializer(serializers.Serializer):
    label = LabelField()
    box = BoxInputSerializer(
        required=False, allow_null=True, help_text="In pixels of the upright image; leave out for a tag without a box."
    )

    def validate_box(self, value: dict[str, int] | None) -> Box | None:
        if value is None:
            return None
        asset: Asset = self.context["asset"]
        box = Box(**value)
        try:
            box_check(box, width=asset.width, height=asset.height)
        except InvalidInput as problem:
            raise serializers.ValidationError(problem.message, code=problem.code) from None
        return box


class DetectionUpdateSerializer(serializers.Serializer):
    label = LabelField(required=False, help_text="A new label; the detection counts as accepted with it.")
    review = serializers.ChoiceField(choices=["accepted", "rejected"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send label and/or review.", code="empty")
        return attrs


@extend_schema_view(get=extend_schema(parameters=[ASSET_ID]), post=extend_schema(parameters=[ASSET_ID]))
class AssetDetectionsView(generics.GenericAPIView):
    """The asset's detections, rejected ones included (with their review state); add a manual one."""

    serializer_class = DetectionSerializer
    pagination_class = None
    queryset = Detection.objects.none()  # for the schema; lookups go through asset_or_404

    @extend_schema(responses={200: DetectionSerializer(many=True), 404: ErrorSerializer})
    def get(self, request: Request, asset_id: str) -> Response:
        asset = asset_or_404(request, asset_id)
        detections = asset.detections.select_related("label", "run", "asset", "suggested_label")
        return Response(DetectionSerializer(detections, many=True, context={"request": request}).data)

    @extend_schema(
        request=DetectionCreateSerializer,
        responses={201: DetectionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request: Request, asset_id: str) -> Response:
        asset = asset_or_404(request, asset_id)
        serializer = DetectionCreateSerializer(data=request.data, context={"asset": asset})
        serializer.is_valid(raise_exception=True)
        detection = detection_add_manual(
            asset=asset, label=serializer.validated_data["label"], box=serializer.validated_data.get("box")
        )
        data = DetectionSerializer(detection, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(parameters=[DETECTION_ID]),
    patch=extend_schema(parameters=[DETECTION_ID]),
    delete=extend_schema(parameters=[DETECTION_ID]),
)
class DetectionView(generics.GenericAPIView):
    """One detection of one of your assets: read, review (accept, reject, relabel) or remove."""

    serializer_class = DetectionSerializer
    queryset = Detection.objects.none()  # for the schema; get_object scopes to the user's assets

    def get_object(self) -> Detection:
        detection = detection_get(user=self.request.user, detection_id=self.kwargs["detection_id"])
        if detection is None:
            raise NotFound("No such detection.")
        return detection

    @extend_schema(responses={200: DetectionSerializer, 404: ErrorSerializer})
    def get(self, request: Request, detection_id: str) -> Response:
        return Response(DetectionSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(
        request=DetectionUpdateSerializer,
        responses={200: DetectionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def patch(self, request: Request, detection_id: str) -> Response:
        detection = self.get_object()
        serializer = DetectionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = serializer.validated_data.get("review")
        # Relabelling without a review says the (relabelled) detection is right.
        accept = review != "rejected"
        detection = detection_review(detection=detection, accept=accept, label=serializer.validated_data.get("label"))
        return Response(DetectionSerializer(detection, context={"request": request}).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(
                description="Removed: a manual detection is deleted, an automatic one is rejected (kept hidden, so "
                "re-tagging does not bring it back)."
            ),
            404: ErrorSerializer,
        }
    )
    def delete(self, request: Request, detection_id: str) -> Response:
        detection_delete(detection=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewQueueCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Automatic detections of yours that nobody has reviewed yet.")


class ReviewQueueCountView(APIView):
    """How many detections wait in your review queue: the queue page reads it after each review, so
    its counter is the server's, not a tally of keypresses."""

    @extend_schema(responses={200: ReviewQueueCountSerializer})
    def get(self, request: Request) -> Response:
        return Response({"count": review_queue(user=request.user).count()})


@extend_schema_view(get=extend_schema(parameters=[ASSET_ID]))
class AssetTracksView(generics.ListAPIView):
    """A video's tracks by start time, paged (rejected ones included, with their review state);
    an image has none."""

    serializer_class = TrackSerializer
    pagination_class = KeysetCursorPagination
    queryset = Track.objects.none()  # for the schema; get_queryset goes through asset_or_404

    def get_queryset(self):  # type: ignore[no-untyped-def]
        asset = asset_or_404(self.request, self.kwargs["asset_id"])
        return Track.objects.filter(asset=asset).select_related("label", "suggested_label").order_by("start", "id")

    @extend_schema(responses={200: TrackSerializer(many=True), 404: ErrorSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TrackUpdateSerializer(serializers.Serializer):
    label = LabelField(required=False, help_text="A new label for the whole track; it counts as accepted with it.")
    review = serializers.ChoiceField(choices=["accepted", "rejected"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send label and/or review.", code="empty")
        return attrs


@extend_schema_view(get=extend_schema(parameters=[TRACK_ID]), patch=extend_schema(parameters=[TRACK_ID]))
class TrackView(generics.GenericAPIView):
    """One track of one of your videos: read, or review it whole (accept, reject, relabel)."""

    serializer_class = TrackSerializer
    queryset = Track.objects.none()  # for the schema; get_object scopes to the user's assets

    def get_object(self) -> Track:
        track = track_get(user=self.request.user, track_id=self.kwargs["track_id"])
        if track is None:
            raise NotFound("No such track.")
        return track

    @extend_schema(responses={200: TrackSerializer, 404: ErrorSerializer})
    def get(self, request: Request, track_id: str) -> Response:
        return Response(TrackSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(
        request=TrackUpdateSerializer, responses={200: TrackSerializer, 400: ErrorSerializer, 404: ErrorSerializer}
    )
    def patch(self, request: Request, track_id: str) -> Response:
        track = self.get_object()
        serializer = TrackUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        accept = serializer.validated_data.get("review") != "rejected"
        track = track_review(track=track, accept=accept, label=serializer.validated_data.get("label"))
        return Response(TrackSerializer(track, context={"request": request}).data)


class BulkSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(BULK_ACTIONS))
    ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        min_length=1,
        max_length=settings.BULK_MAX_ASSETS,
        help_text=f"Asset ids (at most {settings.BULK_MAX_ASSETS}). Give ids or q.",
    )
    q = serializers.CharField(
        required=False, max_length=2000, help_text="A search query (as for GET /api/assets/?q=). Give ids or q."
    )
    label = LabelField(required=False, help_text="For add_tag and remove_tag.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("q" in attrs):
            raise serializers.ValidationError("Give either ids or q.", code="ids_or_q")
        problem = label_action_problem(attrs["action"], attrs.get("label", ""))
        if problem:
            raise serializers.ValidationError({"label": [problem]}, code="required")
        return attrs


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    matched = serializers.IntegerField(help_text="Your assets the ids or query picked.")
    changed = serializers.IntegerField(help_text="Assets the action changed.")
    not_found = serializers.ListField(
        child=serializers.UUIDField(), help_text="Given ids that are not among your assets."
    )


class AssetBulkView(QueryErrorPositionMixin, APIView):
    """One action on many of your assets, picked by ids or by a search query."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "bulk"

    @extend_schema(
        request=BulkSerializer,
        responses={200: BulkResultSerializer, 400: InvalidQuerySerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if "ids" in data:
                selection = bulk_selection(user=request.user, ids=data["ids"])
            else:
                visible = assets_visible_to(request.user)
                filterset = filterset_or_400(AssetFilter(data={"q": data["q"]}, queryset=visible, request=request))
                selection = bulk_selection(user=request.user, matching=filterset.qs)
        except TooManyAssets as error:
            raise ApiError(str(error), code="too_many_assets") from None
        action = data["action"]
        changed = assets_bulk_action(assets=selection.assets, action=action, label=data.get("label", ""))
        return Response(
            {"action": action, "matched": selection.matched, "changed": changed, "not_found": selection.not_found}
        )


@extend_schema(parameters=[DETECTION_ID, *SIGNED_PARAMETERS], responses={**FILE_RESPONSES, 422: ErrorSerializer})
class DetectionCropView(FileView):
    """The box's region of the original at full resolution (EXIF orientation applied)."""

    def get(self, request: Request, detection_id: int) -> Any:
        user = self.signed_in_user(request)
        if user is None:  # a signed URL: it names exactly this detection
            # Through the join, not Asset.objects: a trashed asset's boxes are not served either.
            detection = (
                Detection.objects.filter(pk=detection_id, asset__trashed_at__isnull=True)
                .select_related("asset", "label")
                .first()
            )
        else:
            detection = detection_get(user=user, detection_id=detection_id)
        if detection is None:
            raise NotFound("No such detection.")
        box = detection.box
        if box is None:
            raise NotFound("This detection has no box, so there is nothing to crop.")
        etag = f'"{detection.asset.sha256}-crop-{box.x}-{box.y}-{box.width}-{box.height}"'
        if etag in request.headers.get("If-None-Match", ""):
            return HttpResponse(status=304, headers={"ETag": etag})
        try:
            crop = detection_crop(detection=detection)
        except CropUnavailable as problem:
            raise ApiError(str(problem), code="crop_unavailable", status_code=422) from None
        except DecodeBusy as busy:
            raise ApiError(f"{busy} Try again in a few seconds.", code="server_busy", status_code=503,
                           retry_after=busy.retry_after) from None
        response = HttpResponse(crop.content, content_type=crop.content_type)
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=3600"
        response["Content-Disposition"] = content_disposition_header(
            request.query_params.get("download") == "1", crop.filename
        )
        return response
