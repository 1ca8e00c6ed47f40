"""The search API's shared parts: one error shape for a bad query, the FilterSet as a DRF backend,
and label facets (``GET /api/labels/``). The asset list itself is ``library.api.AssetViewSet``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from assetsite.api import ApiError, ErrorSerializer
from media.models import Asset
from media.selectors import assets_visible_to
from search.filters import AssetFilter
from search.query import QueryError
from search.selectors import FACET_SAMPLE, MAX_FACETS, label_facets


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
        filterset = filterset_or_400(self.get_filterset(request, queryset, view))
        view.search_query = filterset.search_query  # the serializer shows a video hit's moments from it
        return filterset.qs


class FacetSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Assets in the current result set with this label.")
    exact = serializers.BooleanField(
        help_text=f"false: the search has more than {FACET_SAMPLE:,} matches and this counts the label in a sample of "
        f"{FACET_SAMPLE + 1:,} of them, so at least this many carry it."
    )


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
        return Response([{"label": facet.label, "count": facet.count, "exact": facet.exact} for facet in facets])
