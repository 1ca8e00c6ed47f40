"""The timeline: pictures by the day they were taken (the upload time where the camera wrote none),
newest first, with the months there are for the jump-to control.

The order is ``-sort_date, -id`` (``search.selectors.assets_sort`` with ``sort=taken``); the expression
index ``asset_owner_timeline`` on ``(owner, COALESCE(taken_at, created_at) DESC, id DESC)`` serves it.
Jumping to a month is a keyset cursor just past that month's end, so it pages like any other page.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from media.models import Asset

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Sorts after every id in "-id" order: rows dated exactly at the cursor's instant are all included.
_LAST_ID = uuid.UUID(int=0)


def timeline_date() -> Coalesce:
    return Coalesce("taken_at", "created_at")


@dataclass(frozen=True)
class TimelineMonth:
    month: date  # the first day
    count: int

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


def timeline_months_grouped(*, assets: QuerySet[Asset]) -> list[TimelineMonth]:
    """The months (in the current time zone) of ``assets`` (already searched and owner-scoped), newest
    first, with how many pictures each has, by grouping every match (``search.months`` reads the
    summary where it can)."""
    rows = (
        assets.order_by()
        .annotate(timeline_month=TruncMonth(timeline_date()))
        .values("timeline_month")
        .annotate(count=Count("id"))
        .order_by("-timeline_month")
    )
    months = []
    for row in rows:
        value = row["timeline_month"]
        if isinstance(value, datetime):
            value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
        months.append(TimelineMonth(month=value.replace(day=1), count=row["count"]))
    return months


class InvalidMonth(ValueError):
    pass


def month_parse(text: str) -> date:
    """``2024-06`` -> date(2024, 6, 1). Raises InvalidMonth."""
    match = MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1 <= int(match.group(1)) <= 9998:
        raise InvalidMonth(f"Give the month to jump to as YYYY-MM, not “{text[:20]}”.")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_start_values(month: date) -> list[object]:
    """Keyset values (``sort_date``, ``id``) that start a ``-sort_date, -id`` page at ``month``'s newest
    picture: the first instant of the next month (current time zone), and an id every row sorts after."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    end = timezone.make_aware(datetime.combine(following, time.min))
    return [end, _LAST_ID]
