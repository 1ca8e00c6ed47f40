"""REST API for assets: upload, list, read, rename, delete. The tagging app extends the serializer."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from assetsite.api import ApiError
from media.models import Asset
from media.selectors import asset_mark_new, assets_visible_to
from media.services import AssetRejected, asset_create, asset_delete, asset_update
from media.uploads import oversize_message


class AssetUrlsSerializer(serializers.Serializer):
    api = serializers.URLField()
    page = serializers.URLField()
    original = serializers.URLField()
    thumbnail_small = serializers.URLField()
    thumbnail_large = serializers.URLField()


class AssetSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="tagging_status", read_only=True)
    error = serializers.CharField(source="tagging_error", read_only=True)
    filename = serializers.CharField(source="original_filename", read_only=True)
    urls = serializers.SerializerMethodField()

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
        ]
        read_only_fields = [field for field in fields if field != "title"]

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


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The image (JPEG, PNG, WebP, GIF, TIFF or HEIC/HEIF) or video (MP4, MOV, WebM or MKV with "
        "H.264, HEVC, AV1, VP8 or VP9)."
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class AssetViewSet(viewsets.ModelViewSet):  # PATCH, not PUT: see http_method_names
    """The signed-in user's assets. Another user's asset is a 404, never a 403."""

    serializer_class = AssetSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return assets_visible_to(self.request.user)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: AssetSerializer,
            200: OpenApiResponse(AssetSerializer, description="The same content was uploaded before."),
            400: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
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
            raise ApiError(rejection.message, code=rejection.code, status_code=rejection.status) from None
        serializer = self.get_serializer(asset_mark_new(result.asset) if result.created else result.asset)
        return Response(serializer.data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        asset_update(asset=serializer.instance, title=serializer.validated_data.get("title"))

    def perform_destroy(self, instance: Asset) -> None:
        asset_delete(asset=instance)

