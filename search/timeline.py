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

from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from media.models import Asset

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Sorts after every id in "-id" order: rows dated exactly at the cursor's instant are all included.
_LAST_ID = uuid.UUID(int=0)


def timeline_date() -> Coalesce:
    return Coalesce("taken_at", "created_at")


# The months' counts come from the newest this-many matches; older months are found one index probe
# each and shown without a count, so the jump control does not count a whole large library.
MONTHS_SAMPLE = 5_000


@dataclass(frozen=True)
class TimelineMonth:
    month: date  # the first day
    count: int | None  # None: older than the newest MONTHS_SAMPLE matches, not counted
    exact: bool = True  # False: at least ``count`` (the month goes on past the counted matches)

    @property
    def key(self) -> str:
        return self.month.strftime("%Y-%m")


def timeline_months(*, assets: QuerySet[Asset], sample: int | None = None) -> list[TimelineMonth]:
    """The months (in the current time zone) of ``assets`` (already searched and owner-scoped), newest
    first, with how many pictures each has: exact for a search with at most ``sample`` (MONTHS_SAMPLE)
    matches; past that the newest matches are counted and each older month is found by one probe of
    the timeline index (the newest match before it), uncounted."""
    sample = MONTHS_SAMPLE if sample is None else sample
    # Not "sort_date": ``assets`` may already carry that annotation (the timeline's own order).
    dated = assets.order_by().annotate(timeline_at=timeline_date())
    newest = list(dated.order_by("-timeline_at", "-id").values_list("timeline_at", flat=True)[: sample + 1])
    counts: dict[date, int] = {}
    for value in newest[:sample]:
        month = _month_of(value)
        counts[month] = counts.get(month, 0) + 1
    months = [TimelineMonth(month=month, count=count) for month, count in counts.items()]
    if len(newest) <= sample:
        return months
    before: date | None = None
    if months:
        # The last counted month may go on past the sample.
        months[-1] = TimelineMonth(month=months[-1].month, count=months[-1].count, exact=False)
        before = months[-1].month
    while True:
        older_ones = dated if before is None else dated.filter(timeline_at__lt=_month_start(before))
        older = older_ones.order_by("-timeline_at", "-id").values_list("timeline_at", flat=True).first()
        if older is None:
            return months
        before = _month_of(older)
        months.append(TimelineMonth(month=before, count=None, exact=False))


def _month_of(value: datetime) -> date:
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return local.date().replace(day=1)


def _month_start(month: date) -> datetime:
    return timezone.make_aware(datetime.combine(month, time.min))


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
