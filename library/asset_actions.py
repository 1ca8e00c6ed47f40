"""Small actions on one asset from the pages (plain form posts; the scripts use the API): a heart, and
moving it to the trash."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from media.services import asset_trash, asset_update
from media.views import owned_asset_or_404


def back_to(request: HttpRequest, default: str) -> str:
    """The form's ``next`` when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


class AssetFavoriteView(LoginRequiredMixin, View):
    """Put a heart on the asset (favorite=1) or take it off (favorite=0); back to where the form was."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        favorite = request.POST.get("favorite", "1") not in ("0", "false", "")
        asset_update(asset=asset, favorite=favorite)
        messages.success(request, f"{'Added' if favorite else 'Removed'} “{asset.display_name}” "
                                  f"{'to' if favorite else 'from'} your favourites.")
        return HttpResponseRedirect(back_to(request, reverse("asset-detail", args=[asset.pk])))


class AssetTrashView(LoginRequiredMixin, View):
    """Move the asset to the trash (from its page); the message says how to get it back."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        asset_trash(asset=asset)
        messages.success(request, f"Moved “{asset.display_name}” to the trash. Restore it from the Trash page.")
        return HttpResponseRedirect(reverse("library"))
