"""The trash API: what you deleted, restoring it (everything back: tags, reviews, collections), and
deleting for good. Assets stay in the trash for TRASH_DAYS, then the sweeper deletes them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assetsite.api import ErrorSerializer
from assetsite.pagination import KeysetCursorPagination
from library.api import AssetSerializer
from media.models import Asset
from media.selectors import trash_of, trash_purge_date, trashed_asset_get
from media.services import asset_delete, asset_restore, trash_empty


class TrashedAssetSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_filename")
    purge_at = serializers.SerializerMethodField(help_text="When the sweeper deletes it for good (TRASH_DAYS).")

    class Meta:
        model = Asset
        fields = ["id", "filename", "title", "format", "width", "height", "byte_size", "created_at", "trashed_at",
                  "purge_at"]
        read_only_fields = fields

    def get_purge_at(self, asset: Asset) -> Any:
        return serializers.DateTimeField().to_representation(trash_purge_date(asset))

class EmptiedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.UUIDField(), help_text="The assets deleted for good.")

class TrashListView(generics.ListAPIView):
    """Your trashed assets, most recently deleted first (GET); empty the trash for good (DELETE)."""

    serializer_class = TrashedAssetSerializer
    pagination_class = KeysetCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return trash_of(self.request.user)

    @extend_schema(operation_id="trash_empty", request=None, responses={200: EmptiedSerializer})
    def delete(self, request: Request) -> Response:
        ids = list(trash_of(request.user).values_list("pk", flat=True))
        deleted = trash_empty(assets=trash_of(request.user).filter(pk__in=ids))
        return Response({"deleted": deleted, "ids": ids})

def _trashed(request: Request, asset_id: str) -> Asset:
    asset = trashed_asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise NotFound("No such asset in your trash.")
    return asset

class TrashItemView(APIView):
    """Delete one trashed asset for good: its files, thumbnails, renditions, tags and history."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Deleted for good."),
                                            404: ErrorSerializer})
    def delete(self, request: Request, asset_id: str) -> Response:
        asset_delete(asset=_trashed(request, asset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

class TrashRestoreView(APIView):
    """Bring a trashed asset back into the library exactly as it was (detections, reviews, collections)."""

    @extend_schema(request=None, responses={200: AssetSerializer, 404: ErrorSerializer})
    def post(self, request: Request, asset_id: str) -> Response:
        asset = asset_restore(asset=_trashed(request, asset_id))
        return Response(AssetSerializer(asset, context={"request": request}).data)
