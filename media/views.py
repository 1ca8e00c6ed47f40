"""Owner-checked file downloads: the original and the thumbnails. The pages are ``library.views``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest

from media.models import Asset
from media.selectors import asset_get

THUMBNAIL_FIELDS = {"small": "thumbnail_small", "large": "thumbnail_large"}


def owned_asset_or_404(request: HttpRequest, asset_id: Any) -> Asset:
    """The signed-in user's asset; anyone else's is a 404, as if it did not exist."""
    asset = asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such asset.")
    return asset


@login_required
def asset_file(request: HttpRequest, asset_id: str) -> FileResponse:
    """The original file, exactly as uploaded."""
    asset = owned_asset_or_404(request, asset_id)
    response = FileResponse(
        default_storage.open(asset.file.name, "rb"),
        content_type=asset.mime_type,
        as_attachment=request.GET.get("download") == "1",
        filename=asset.original_filename,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def asset_thumbnail(request: HttpRequest, asset_id: str, size: str) -> FileResponse:
    field = THUMBNAIL_FIELDS.get(size)
    if field is None:
        raise Http404("No such thumbnail size.")
    asset = owned_asset_or_404(request, asset_id)
    name = getattr(asset, field).name
    if not name:
        raise Http404("This asset has no thumbnail.")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=86400"
    return response
