"""Owner-checked file downloads: the original, the thumbnails and a video's web-playable proxy. The
pages are ``library.views``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from media.files import original_response, proxy_response, thumbnail_response
from media.models import Asset
from media.selectors import asset_get


def owned_asset_or_404(request: HttpRequest, asset_id: Any) -> Asset:
    """The signed-in user's asset; anyone else's is a 404, as if it did not exist."""
    asset = asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such asset.")
    return asset


@login_required
def asset_file(request: HttpRequest, asset_id: str) -> HttpResponse:
    """The original file, exactly as uploaded (ETag and Range answered, as in the API)."""
    asset = owned_asset_or_404(request, asset_id)
    return original_response(request, asset, download=request.GET.get("download") == "1")


@login_required
def asset_thumbnail(request: HttpRequest, asset_id: str, size: str) -> HttpResponse:
    return thumbnail_response(request, owned_asset_or_404(request, asset_id), size)


@login_required
def asset_proxy(request: HttpRequest, asset_id: str) -> HttpResponse:
    """A video's web-playable proxy (H.264 MP4), for browsers that cannot play the original."""
    return proxy_response(request, owned_asset_or_404(request, asset_id))
