"""File endpoints of the API: the original, the thumbnails and a video's proxy, for an API token, the session, or a
signed URL. Another user's asset is a 404; a changed or expired signature is a 403 that says so."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from assetsite.api import ApiError, ErrorSerializer
from media import signing
from media.files import original_response, proxy_response, thumbnail_response
from media.models import Asset
from media.selectors import asset_get

SIGNED_PARAMETERS = [
    OpenApiParameter("expires", OpenApiTypes.INT, description="Of a signed URL: when it stops working (Unix time)."),
    OpenApiParameter("signature", OpenApiTypes.STR, description="Of a signed URL: opens this file without a token."),
]
FILE_RESPONSES = {
    # The real Content-Type is the file's (image/jpeg, image/webp, ...); one binary type suits generated clients.
    (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
    (206, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The byte range asked for with Range."
    ),
    304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)."),
    401: ErrorSerializer,
    403: OpenApiResponse(ErrorSerializer, description="A signed URL that was changed or has expired."),
    404: ErrorSerializer,
}


class FileView(APIView):
    """Serves one stored file to its owner (token or session) or to whoever holds a signed URL for it."""

    permission_classes = [AllowAny]  # the owner or the signature is checked in asset_for()
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "files"

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # <img> and video elements send Accept: image/*; errors are still rendered as JSON.
        return super().perform_content_negotiation(request, force=True)

    def signed_in_user(self, request: Request) -> AbstractBaseUser | None:
        """The signed-in user whose things the file must belong to; None when a valid signature opens it.

        A signature that was changed or has expired is a 403 saying so; no credentials at all a 401.
        """
        params = request.query_params.dict()
        if signing.is_signed(params):
            try:
                signing.verify(request.path, params)
            except signing.SignatureInvalid as problem:
                raise ApiError(str(problem), code="signature_invalid", status_code=status.HTTP_403_FORBIDDEN) from None
            return None
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        return request.user

    def asset_for(self, request: Request, asset_id: uuid.UUID | str) -> Asset:
        user = self.signed_in_user(request)
        asset = Asset.objects.filter(pk=asset_id).first() if user is None else asset_get(user=user, asset_id=asset_id)
        if asset is None:
            raise NotFound("No such asset.")
        return asset


@extend_schema(parameters=SIGNED_PARAMETERS + [
    OpenApiParameter("download", OpenApiTypes.BOOL, description="1: as an attachment with the uploaded file name."),
], responses=FILE_RESPONSES)
class AssetOriginalView(FileView):
    """The original file, byte for byte as uploaded; ETag (its SHA-256) and Range are answered."""

    def get(self, request: Request, asset_id: uuid.UUID) -> Any:
        asset = self.asset_for(request, asset_id)
        return original_response(request, asset, download=request.query_params.get("download") == "1")


@extend_schema(parameters=SIGNED_PARAMETERS, responses=FILE_RESPONSES)
class AssetThumbnailView(FileView):
    """A WebP thumbnail: ``small`` (256 px on the long side) or ``large`` (1024 px)."""

    def get(self, request: Request, asset_id: uuid.UUID, size: str) -> Any:
        return thumbnail_response(request, self.asset_for(request, asset_id), size)


@extend_schema(parameters=SIGNED_PARAMETERS, responses=FILE_RESPONSES)
class AssetProxyView(FileView):
    """A video's web-playable proxy (H.264 in MP4, longest side VIDEO_PROXY_MAX_SIDE), made by the worker
    after tagging when browsers may not play the original (HEVC, MOV, MKV). 404 when there is none."""

    def get(self, request: Request, asset_id: uuid.UUID) -> Any:
        return proxy_response(request, self.asset_for(request, asset_id))
