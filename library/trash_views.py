"""The trash page: what was deleted, with restore, delete for good and empty-trash (plain forms), and
the thumbnails of trashed images (only their owner sees them; nothing else serves a trashed file)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from assetsite.pagination import InvalidCursor, keyset_page
from media.files import THUMBNAIL_FIELDS, file_response
from media.models import Asset
from media.selectors import trash_of, trash_purge_date, trashed_asset_get
from media.services import asset_delete, asset_restore, trash_empty


def _trashed_or_404(request: HttpRequest, asset_id: Any) -> Asset:
    asset = trashed_asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such image in your trash.")
    return asset


class TrashView(LoginRequiredMixin, View):
    template_name = "library/trash.html"
    page_size = 60

    def get(self, request: HttpRequest) -> HttpResponse:
        trash = trash_of(request.user)
        try:
            page = keyset_page(queryset=trash, cursor=request.GET.get("cursor"), size=self.page_size)
        except InvalidCursor:
            return HttpResponseRedirect(reverse("trash"))
        context = {
            "items": [{"asset": asset, "purge_at": trash_purge_date(asset)} for asset in page.items],
            "total": trash.count(),
            "trash_days": settings.TRASH_DAYS,
            "next_url": f"?cursor={page.next_cursor}" if page.next_cursor else None,
            "previous_url": f"?cursor={page.previous_cursor}" if page.previous_cursor else None,
        }
        return render(request, self.template_name, context)


class TrashRestoreView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = asset_restore(asset=_trashed_or_404(request, asset_id))
        messages.success(request, f"Restored “{asset.display_name}” with its tags and collections.")
        return HttpResponseRedirect(reverse("trash"))


class TrashDeleteView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = _trashed_or_404(request, asset_id)
        name = asset.display_name
        asset_delete(asset=asset)
        messages.success(request, f"Deleted “{name}” for good.")
        return HttpResponseRedirect(reverse("trash"))


class TrashEmptyView(LoginRequiredMixin, View):
    """GET asks first (a page of its own, so it works without JavaScript); POST empties the trash."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "library/trash_empty.html", {"total": trash_of(request.user).count()})

    def post(self, request: HttpRequest) -> HttpResponse:
        count = trash_empty(assets=trash_of(request.user))
        messages.success(request, f"Deleted {count} image{'s' if count != 1 else ''} for good.")
        return HttpResponseRedirect(reverse("trash"))


@login_required
def trashed_thumbnail(request: HttpRequest, asset_id: str, size: str) -> HttpResponse:
    field = THUMBNAIL_FIELDS.get(size)
    if field is None:
        raise Http404("No such thumbnail size.")
    asset = _trashed_or_404(request, asset_id)
    name = getattr(asset, field).name
    if not name:
        raise Http404("This image has no thumbnail.")
    return file_response(request, name=name, content_type="image/webp", etag=f"{asset.sha256}-{size}",
                         cache_control="private, no-cache")
