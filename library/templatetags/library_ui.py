"""Template helpers for the library's selection bar and cards: the search a "select all matching" form
carries, and the user's manual collections (suggestions for "Add to collection")."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

from albums.selectors import collections_of

register = template.Library()


@register.filter
def search_params(params: QueryDict) -> str:
    """The page's query string without its cursor (nor the timeline's month, nor the viewer's picture):
    the whole search, not the page being shown."""
    copy = params.copy()
    for key in ("cursor", "month", "view"):
        copy.pop(key, None)
    return copy.urlencode()


@register.simple_tag(takes_context=True)
def manual_collection_names(context: Any) -> list[str]:
    request = context.get("request")
    if request is None:
        return []
    return list(collections_of(request.user).filter(query="").values_list("name", flat=True)[:500])


@register.simple_tag
def manual_collections_holding(asset: Any) -> list[Any]:
    """The manual collections ``asset`` is in (smart ones would each need their search run)."""
    from albums.models import Collection

    return list(Collection.objects.filter(owner_id=asset.owner_id, items__asset=asset).order_by("name"))


@register.filter
def clock(seconds: Any) -> str:
    """Seconds as m:ss (h:mm:ss from an hour), for video durations and moments."""
    try:
        total = max(int(float(seconds) + 0.5), 0)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
