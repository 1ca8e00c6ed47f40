"""The library's timeline mode (``sort=taken``): the jump-to-month control and where a jump starts.

The order and the months are ``search.timeline``; this turns ``?month=YYYY-MM`` into a keyset cursor
and builds the control's choices for the current search.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import QueryDict

from assetsite.pagination import keyset_cursor
from media.models import Asset
from search.months import timeline_months
from search.nodes import Node
from search.timeline import InvalidMonth, month_parse, month_start_values


def timeline_jump(params: QueryDict, *, queryset: QuerySet[Asset], sort: str) -> str | None:
    """The cursor to page from: ``month`` (timeline only) starts at that month's newest picture, else
    ``cursor``. Raises InvalidMonth."""
    month = params.get("month")
    if not month:
        return params.get("cursor")
    if sort != "taken":
        raise InvalidMonth("Jumping to a month works in the timeline (sort by date taken).")
    return keyset_cursor(queryset=queryset, values=month_start_values(month_parse(month)))


def timeline_context(
    params: QueryDict, *, user: AbstractBaseUser | AnonymousUser, query: Node | None
) -> dict[str, Any]:
    months = timeline_months(user=user, query=query)
    years: dict[int, list[Any]] = {}
    for item in months:
        years.setdefault(item.month.year, []).append(item)
    kept = [(key, value) for key, value in params.lists() if key not in {"cursor", "month", "view"}]
    return {
        "timeline": True,
        "timeline_years": sorted(years.items(), reverse=True),
        "timeline_month": params.get("month", ""),
        "timeline_params": [(key, value) for key, values in kept for value in values],
    }
