"""The collections API: manual and smart collections, adding and removing images, share links.

Another user's collection is a 404. Deleting a collection, or removing an image from it, never deletes
an image. ``GET /api/assets/?collection={id}`` lists a collection's images with every search parameter.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from albums.models import NAME_MAX_LENGTH, QUERY_MAX_LENGTH, Collection
from albums.selectors import collection_get, collections_of, share_link_live
from albums.services import (
    CollectionInvalid,
    collection_add,
    collection_delete,
    collection_remove,
    share_link_create,
    share_link_revoke,
)
from assetsite.api import ApiError, ErrorSerializer
from library.collection_ops import (
    CollectionSummary,
    collection_create_checked,
    collection_summaries,
    collection_update_checked,
)
from media.selectors import assets_visible_to
from review.selectors import TooManyAssets, bulk_selection
from search.api import InvalidQuery, InvalidQuerySerializer, QueryErrorPositionMixin, filterset_or_400
from search.filters import AssetFilter
from search.query import QueryError


def _invalid(error: CollectionInvalid) -> ApiError:
    return ApiError(error.message, code=error.code, extra={"parameter": error.field})


class ShareStateSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    allow_download = serializers.BooleanField()


class CollectionSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=NAME_MAX_LENGTH, help_text="Unique among your collections (any case).")
    query = serializers.CharField(
        max_length=QUERY_MAX_LENGTH, required=False, allow_blank=True,
        help_text="A smart collection's search (its images are whatever it finds now); empty for a manual one. "
        "Set when creating; a manual collection stays manual.",
    )
    kind = serializers.SerializerMethodField(help_text="manual or smart")
    count = serializers.SerializerMethodField(help_text="Images in it now (trash excluded); null if its search fails.")
    problem = serializers.SerializerMethodField(help_text="Why a smart collection's search cannot run, else empty.")
    share = serializers.SerializerMethodField(help_text="The live share link's settings (its URL is shown once).")
    urls = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def _summary(self, collection: Collection) -> CollectionSummary:
        summaries: dict[Any, CollectionSummary] = self.context.setdefault("summaries", {})
        if collection.pk not in summaries:
            summaries[collection.pk] = collection_summaries([collection])[0]
        return summaries[collection.pk]

    def get_kind(self, collection: Collection) -> str:
        return "smart" if collection.is_smart else "manual"

    def get_count(self, collection: Collection) -> int | None:
        return self._summary(collection).count

    def get_problem(self, collection: Collection) -> str:
        return self._summary(collection).problem

    @extend_schema(responses=ShareStateSerializer(allow_null=True))
    def get_share(self, collection: Collection) -> dict[str, Any] | None:
        link = share_link_live(collection=collection)
        if link is None:
            return None
        return {"created_at": link.created_at, "expires_at": link.expires_at, "allow_download": link.allow_download}

    def get_urls(self, collection: Collection) -> dict[str, str]:
        request = self.context.get("request")
        paths = {
            "api": reverse("api:collection-detail", args=[collection.pk]),
            "page": reverse("collection-detail", args=[collection.pk]),
            "assets": reverse("api:asset-list") + f"?collection={collection.pk}",
        }
        return {key: request.build_absolute_uri(path) if request else path for key, path in paths.items()}


class CollectionViewSet(QueryErrorPositionMixin, viewsets.ModelViewSet):
    """Your collections. POST {"name"} makes a manual one, {"name", "query"} a smart one."""

    serializer_class = CollectionSerializer
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return collections_of(self.request.user).select_related("owner")

    def get_object(self) -> Collection:
        collection = collection_get(user=self.request.user, collection_id=self.kwargs["pk"])
        if collection is None:
            raise NotFound("No such collection.")
        return collection

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        collections = list(self.get_queryset())
        summaries = {summary.collection.pk: summary for summary in collection_summaries(collections)}
        serializer = self.get_serializer(collections, many=True, context={"request": request,
                                                                           "summaries": summaries})
        return Response(serializer.data)

    @extend_schema(responses={201: CollectionSerializer, 400: InvalidQuerySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            collection = collection_create_checked(owner=request.user, name=data["name"], query=data.get("query", ""))
        except CollectionInvalid as error:
            raise _invalid(error) from None
        except QueryError as error:
            raise InvalidQuery(error) from None
        return Response(self.get_serializer(collection).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: CollectionSerializer, 400: InvalidQuerySerializer, 404: ErrorSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        collection = self.get_object()
        serializer = self.get_serializer(collection, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            collection = collection_update_checked(collection=collection, name=data.get("name"),
                                                   query=data.get("query"))
        except CollectionInvalid as error:
            raise _invalid(error) from None
        except QueryError as error:
            raise InvalidQuery(error) from None
        return Response(self.get_serializer(collection).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # PUT is not offered
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(responses={204: None, 404: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the collection (and its share link). Its images stay in your library."""
        collection_delete(collection=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembersSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=10_000,
                                help_text="Asset ids.")
    q = serializers.CharField(required=False, max_length=2000,
                              help_text="POST only: instead of ids, every image this search finds now.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("q" in attrs):
            raise serializers.ValidationError("Give either ids or q.", code="ids_or_q")
        return attrs


class MembersResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Images added (not in it before) or removed (that were in it).")
    matched = serializers.IntegerField(help_text="Your images the ids or the search picked.")
    not_found = serializers.ListField(child=serializers.UUIDField(), help_text="Ids that are not your images.")


class CollectionAssetsView(QueryErrorPositionMixin, APIView):
    """Put images in a manual collection (POST) or take them out (DELETE); they stay in your library."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "bulk"

    def _collection(self, request: Request, collection_id: str) -> Collection:
        collection = collection_get(user=request.user, collection_id=collection_id)
        if collection is None:
            raise NotFound("No such collection.")
        return collection

    def _data(self, request: Request) -> dict[str, Any]:
        serializer = MembersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=MembersSerializer,
                   responses={200: MembersResultSerializer, 400: InvalidQuerySerializer, 404: ErrorSerializer})
    def post(self, request: Request, collection_id: str) -> Response:
        collection = self._collection(request, collection_id)
        data = self._data(request)
        try:
            if "ids" in data:
                selection = bulk_selection(user=request.user, ids=data["ids"])
            else:
                visible = assets_visible_to(request.user)
                filterset = filterset_or_400(AssetFilter(data={"q": data["q"]}, queryset=visible, request=request))
                selection = bulk_selection(user=request.user, matching=filterset.qs)
            added = collection_add(collection=collection, assets=selection.assets)
        except TooManyAssets as error:
            raise ApiError(str(error), code="too_many_assets") from None
        except CollectionInvalid as error:
            raise _invalid(error) from None
        return Response({"changed": added, "matched": selection.matched, "not_found": selection.not_found})

    @extend_schema(request=MembersSerializer, responses={200: MembersResultSerializer, 404: ErrorSerializer})
    def delete(self, request: Request, collection_id: str) -> Response:
        collection = self._collection(request, collection_id)
        data = self._data(request)
        if "ids" not in data:
            raise ApiError("To take images out, give their ids.", code="ids_required", extra={"parameter": "ids"})
        selection = bulk_selection(user=request.user, ids=data["ids"])
        try:
            removed = collection_remove(collection=collection, asset_ids=list(selection.assets.values_list("pk",
                                                                                                       flat=True)))
        except CollectionInvalid as error:
            raise _invalid(error) from None
        return Response({"changed": removed, "matched": selection.matched, "not_found": selection.not_found})


class ShareRequestSerializer(serializers.Serializer):
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=3650,
                                               help_text="Days the link works (default: until revoked).")
    allow_download = serializers.BooleanField(required=False, default=False,
                                              help_text="Let people with the link download the originals.")


class ShareLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Shown once: only a digest is stored. Anyone with it sees the collection.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    allow_download = serializers.BooleanField()


class CollectionShareView(APIView):
    """A read-only link to the collection for people without an account (POST), or turning it off (DELETE).

    A new link replaces the collection's earlier one, which then answers 410.
    """

    @extend_schema(request=ShareRequestSerializer,
                   responses={201: ShareLinkSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def post(self, request: Request, collection_id: str) -> Response:
        collection = collection_get(user=request.user, collection_id=collection_id)
        if collection is None:
            raise NotFound("No such collection.")
        serializer = ShareRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            link, key = share_link_create(collection=collection, **serializer.validated_data)
        except CollectionInvalid as error:
            raise _invalid(error) from None
        return Response(
            {
                "url": request.build_absolute_uri(reverse("share", args=[key])),
                "created_at": link.created_at,
                "expires_at": link.expires_at,
                "allow_download": link.allow_download,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Revoked (or there was none)."),
                                            404: ErrorSerializer})
    def delete(self, request: Request, collection_id: str) -> Response:
        collection = collection_get(user=request.user, collection_id=collection_id)
        if collection is None:
            raise NotFound("No such collection.")
        share_link_revoke(collection=collection)
        return Response(status=status.HTTP_204_NO_CONTENT)
