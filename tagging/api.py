"""The asset API with what tagging knows about each asset: detections, tag summary, provenance;
search over it (``?q=``, structured filters, sorting, keyset cursors) and label facets."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from assetsite.api import ApiError
from media.api import AssetSerializer, AssetViewSet, ErrorSerializer
from media.models import Asset
from media.selectors import assets_visible_to
from tagging.filters import AssetFilter
from tagging.models import AssetTag, Detection, DetectionRun, DetectionSource, ReviewState
from tagging.query import QueryError
from tagging.review_services import asset_manual_tags_set
from tagging.search import MAX_FACETS, InvalidCursor, KeysetPage, keyset_page, label_facets

MAX_MANUAL_TAGS = 50


class BoxSerializer(serializers.Serializer):
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class NormalizedBoxSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRun
        fields = [
            "id",
            "model_name",
            "weights",
            "device",
            "score_threshold",
            "label_thresholds",
            "max_detections",
            "min_box_size",
            "batch_size",
            "started_at",
            "duration_ms",
            "detection_count",
            "succeeded",
            "error",
        ]


class DetectionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")
    box = serializers.SerializerMethodField()
    box_normalized = serializers.SerializerMethodField()
    reviewed = serializers.BooleanField(read_only=True)
    model = serializers.CharField(source="run.model_name", default=None, read_only=True, allow_null=True)
    detected_at = serializers.DateTimeField(source="run.started_at", default=None, read_only=True, allow_null=True)
    suggested_label = serializers.CharField(
        source="suggested_label.name", default=None, read_only=True, allow_null=True,
        help_text="What the detector called this box before a person relabelled it.",
    )

    class Meta:
        model = Detection
        fields = [
            "id",
            "label",
            "confidence",
            "box",
            "box_normalized",
            "source",
            "review",
            "reviewed",
            "model",
            "detected_at",
            "suggested_label",
            "created_at",
        ]

    @extend_schema_field(BoxSerializer(allow_null=True))
    def get_box(self, detection: Detection) -> dict[str, int] | None:
        box = detection.box
        return None if box is None else {"x": box.x, "y": box.y, "width": box.width, "height": box.height}

    @extend_schema_field(NormalizedBoxSerializer(allow_null=True))
    def get_box_normalized(self, detection: Detection) -> dict[str, float] | None:
        box = detection.box
        if box is None:
            return None
        normalized = box.normalized(detection.asset.width, detection.asset.height)
        return {key: round(value, 6) for key, value in normalized.items()}


class TagSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")

    class Meta:
        model = AssetTag
        fields = ["label", "confidence", "count", "max_area", "has_manual"]


class ManualTagsField(serializers.ListField):
    """The labels a person put on the asset. Writing the list adds tags (without a box) and removes
    the manual detections of labels left out; automatic detections are not touched."""

    child = serializers.CharField(max_length=100)

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


class TaggedAssetSerializer(AssetSerializer):
    detections = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    last_run = serializers.SerializerMethodField()
    manual_tags = ManualTagsField()

    class Meta(AssetSerializer.Meta):
        fields = [*AssetSerializer.Meta.fields, "detections", "tags", "last_run", "manual_tags"]
        read_only_fields = [*AssetSerializer.Meta.read_only_fields, "detections", "tags", "last_run"]

    @extend_schema_field(DetectionSerializer(many=True))
    def get_detections(self, asset: Asset) -> list[dict]:
        # Rejected detections are kept (so re-tagging does not resurrect them) but not shown as tags.
        visible = [d for d in asset.detections.all() if d.review != ReviewState.REJECTED]
        return DetectionSerializer(visible, many=True, context=self.context).data

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_last_run(self, asset: Asset) -> dict | None:
        runs = list(asset.detection_runs.all()[:1])
        return RunSerializer(runs[0]).data if runs else None


# --- search -------------------------------------------------------------------------------------


class InvalidQuery(ApiError):
    """A ``q`` that does not parse: 400 with where the problem is."""

    def __init__(self, error: QueryError) -> None:
        super().__init__(error.message, code="invalid_query")
        self.position = error.position
        self.token = error.token


class QueryErrorPositionMixin:
    """Adds ``position`` and ``token`` to the standard error body for an invalid query."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        if isinstance(exc, InvalidQuery):
            response.data.update(position=exc.position, token=exc.token)
        return response


def filterset_or_400(filterset: AssetFilter) -> AssetFilter:
    if not filterset.is_valid():
        if filterset.query_error is not None:
            raise InvalidQuery(filterset.query_error)
        raise filter_utils.translate_validation(filterset.errors)
    return filterset


class AssetSearchBackend(DjangoFilterBackend):
    """AssetFilter on the list only: a detail URL must not 404 because of a stray ``?q=``."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        if getattr(view, "action", None) != "list":
            return queryset
        return filterset_or_400(self.get_filterset(request, queryset, view)).qs


class SearchCursorPagination(BasePagination):
    """Keyset cursors over whatever order the search chose (see tagging.search.keyset_page).

    The cursor holds the sort key and id of the row at the page edge, so pages stay stable while
    new uploads arrive, whichever sort is used.
    """

    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        size = self.page_size
        try:
            size = min(max(int(request.query_params.get(self.page_size_query_param, size)), 1), self.max_page_size)
        except ValueError:
            pass  # like DRF: an unreadable page_size gets the default
        try:
            self.page: KeysetPage = keyset_page(
                queryset=queryset, cursor=request.query_params.get(self.cursor_query_param), size=size
            )
        except InvalidCursor as error:
            raise ApiError(str(error), code="invalid_cursor") from None
        return self.page.items

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, self.cursor_query_param), self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` or `previous` link's cursor.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (1-{self.max_page_size}, default {self.page_size}).",
                "schema": {"type": "integer"},
            },
        ]


class FacetSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Assets in the current result set with this label.")


class InvalidQuerySerializer(ErrorSerializer):
    position = serializers.IntegerField(required=False, help_text="0-based offset of the bad token in q.")
    token = serializers.CharField(required=False)


class LabelFacetView(QueryErrorPositionMixin, generics.GenericAPIView):
    """Labels in the current result set with how many assets have each: facets and autocomplete."""

    filter_backends = [DjangoFilterBackend]  # for the schema; filtering is done in get()
    filterset_class = AssetFilter
    pagination_class = None
    serializer_class = FacetSerializer

    def get_queryset(self) -> QuerySet[Asset]:
        return assets_visible_to(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("prefix", OpenApiTypes.STR, description="Only labels starting with this (autocomplete)."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"At most this many labels (1-{MAX_FACETS}, default 30)."
            ),
        ],
        responses={200: FacetSerializer(many=True), 400: InvalidQuerySerializer},
    )
    def get(self, request: Request) -> Response:
        filterset = filterset_or_400(
            AssetFilter(data=request.query_params, queryset=self.get_queryset(), request=request)
        )
        try:
            limit = min(max(int(request.query_params.get("limit", 30)), 1), MAX_FACETS)
        except ValueError:
            raise ApiError(f"limit must be a whole number from 1 to {MAX_FACETS}.", code="invalid") from None
        facets = label_facets(
            user=request.user,
            query=filterset.search_query,
            prefix=request.query_params.get("prefix", "")[:100],
            limit=limit,
        )
        return Response([{"label": facet.label, "count": facet.count} for facet in facets])


class TaggedAssetViewSet(QueryErrorPositionMixin, AssetViewSet):
    """The signed-in user's assets. The list takes ``q`` and the structured filters of AssetFilter."""

    serializer_class = TaggedAssetSerializer
    filter_backends = [AssetSearchBackend]
    filterset_class = AssetFilter
    pagination_class = SearchCursorPagination

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            super().perform_update(serializer)
            labels = serializer.validated_data.get("manual_tags")
            if labels is not None:
                asset_manual_tags_set(asset=serializer.instance, labels=labels)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            super()
            .get_queryset()
            .prefetch_related(
                Prefetch(
                    "detections",
                    queryset=Detection.objects.select_related("label", "run", "asset", "suggested_label"),
                ),
                Prefetch("tags", queryset=AssetTag.objects.select_related("label")),
                Prefetch("detection_runs", queryset=DetectionRun.objects.order_by("-started_at", "-id")),
            )
        )
