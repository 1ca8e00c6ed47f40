"""What a share link shows to anyone holding it: one collection, read-only. The grid, one image at a
time (with its boxes and labels), and the originals or a zip only when the owner allowed downloads.

Every URL here starts with the link's key and every file is checked against the collection's images
as they are now: nothing else of the owner's (no other image, label, search or page) is reachable. A
revoked or expired link answers 410 saying so; a key that never existed, 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from albums.models import ShareLink
from albums.selectors import share_link_open
from assetsite.pagination import InvalidCursor, keyset_page
from library.collection_ops import collection_members
from library.downloads import zip_response
from library.views import _box_style  # the asset page's box geometry: one definition
from media.files import THUMBNAIL_FIELDS, file_response
from media.models import Asset
from media.zips import ZipRefused
from tagging.models import AssetTag, ReviewState
from tagging.selectors import asset_detections, asset_tags

GONE = {
    "revoked": "Its owner turned this link off. Ask them for a new one.",
    "expired": "This link has expired. Ask its owner for a new one.",
}


class LinkGone(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _private(response: HttpResponse) -> HttpResponse:
    # The key is in the URL: keep it out of search engines, shared caches and Referer headers.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response.setdefault("Cache-Control", "private, no-cache")
    return response


def _link(key: str) -> ShareLink:
    found = share_link_open(key)
    if found.link is None:
        if found.gone:
            raise LinkGone(found.gone)
        raise Http404("No such share link.")
    return found.link


def _gone(request: HttpRequest, reason: str) -> HttpResponse:
    return _private(render(request, "share/gone.html", {"message": GONE[reason]}, status=410))


def _members(link: ShareLink) -> QuerySet[Asset]:
    return collection_members(link.collection)


def _member_or_404(link: ShareLink, asset_id: Any) -> Asset:
    asset = _members(link).filter(pk=asset_id).first()
    if asset is None:
        raise Http404("No such image in this shared collection.")
    return asset


def _shared(view: Any) -> Any:
    """Open the link first: 404 for unknown keys, 410 for revoked or expired ones."""

    def wrapper(request: HttpRequest, key: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            link = _link(key)
        except LinkGone as gone:
            return _gone(request, gone.reason)
        return _private(view(request, link, key, *args, **kwargs))

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@_shared
def share_grid(request: HttpRequest, link: ShareLink, key: str) -> HttpResponse:
    members = _members(link).prefetch_related(
        Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
    )
    try:
        page = keyset_page(queryset=members, cursor=request.GET.get("cursor"), size=48)
    except InvalidCursor:
        raise Http404("This page link is invalid; start from the first page.") from None
    context = {
        "link": link,
        "key": key,
        "collection": link.collection,
        "assets": page.items,
        "total": members.count(),
        "next_url": f"?cursor={page.next_cursor}" if page.next_cursor else None,
        "previous_url": f"?cursor={page.previous_cursor}" if page.previous_cursor else None,
    }
    return render(request, "share/share.html", context)


@_shared
def share_asset(request: HttpRequest, link: ShareLink, key: str, asset_id: Any) -> HttpResponse:
    """One image of the collection, large, with its boxes; ← and → go through the collection."""
    asset = _member_or_404(link, asset_id)
    members = _members(link)
    newer = members.filter(
        Q(created_at__gt=asset.created_at) | Q(created_at=asset.created_at, id__gt=asset.id)
    ).order_by("created_at", "id").first()
    older = members.filter(
        Q(created_at__lt=asset.created_at) | Q(created_at=asset.created_at, id__lt=asset.id)
    ).first()
    boxes = [
        {"detection": d, "style": _box_style(d, asset.width, asset.height)}
        for d in asset_detections(asset=asset)
        if d.review != ReviewState.REJECTED and d.box is not None
    ]
    context = {
        "link": link,
        "key": key,
        "collection": link.collection,
        "asset": asset,
        "tags": asset_tags(asset=asset),
        "boxes": boxes,
        "aspect": asset.width / asset.height if asset.height else 1.0,
        "previous": newer,
        "next": older,
    }
    return render(request, "share/asset.html", context)


@_shared
def share_thumbnail(request: HttpRequest, link: ShareLink, key: str, asset_id: Any, size: str) -> HttpResponse:
    field = THUMBNAIL_FIELDS.get(size)
    if field is None:
        raise Http404("No such thumbnail size.")
    asset = _member_or_404(link, asset_id)
    name = getattr(asset, field).name
    if not name:
        raise Http404("This image has no thumbnail.")
    # no-cache: a revoked link must stop showing pictures at once, even from the browser's cache.
    return file_response(request, name=name, content_type="image/webp", etag=f"{asset.sha256}-{size}",
                         cache_control="private, no-cache")


def _downloads_allowed(link: ShareLink) -> None:
    if not link.allow_download:
        raise Http404("The owner of this collection did not allow downloads.")


@_shared
def share_original(request: HttpRequest, link: ShareLink, key: str, asset_id: Any) -> HttpResponse:
    _downloads_allowed(link)
    asset = _member_or_404(link, asset_id)
    return file_response(request, name=asset.file.name, content_type=asset.mime_type, etag=asset.sha256,
                         filename=asset.original_filename, as_attachment=True, cache_control="private, no-cache")


@_shared
def share_download(request: HttpRequest, link: ShareLink, key: str) -> HttpResponse:
    """The whole collection as a zip of its originals (when the owner allowed downloads)."""
    _downloads_allowed(link)
    try:
        return zip_response(_members(link), title=link.collection.name)
    except ZipRefused as error:
        return render(request, "share/gone.html", {"message": str(error), "title": "Download not possible"},
                      status=400)
