"""The timeline's *Jump to* months of a search, with how many pictures each has.

The whole library and one-label searches read the month summary (``tagging/month_counts.py``, kept by
PostgreSQL triggers): a few hundred rows instead of grouping every match (0.2-0.3 s at a million
assets). Other searches, SQLite, and a summary built in another time zone group the matches.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from media.selectors import assets_visible_to
from search.nodes import Node
from search.selectors import assets_filter, bare_label_id
from search.timeline import TimelineMonth, timeline_months_grouped
from tagging.month_counts import month_counts_available, month_counts_of


def timeline_months(*, user: AbstractBaseUser | AnonymousUser, query: Node | None) -> list[TimelineMonth]:
    """The months of the user's assets matching ``query`` (current time zone), newest first."""
    if not user.is_authenticated:
        return []
    label_id = bare_label_id(query)
    if (query is None or label_id is not None) and month_counts_available():
        counts = month_counts_of(owner_id=user.pk, label_id=label_id)
        return [TimelineMonth(month=month, count=counts[month]) for month in sorted(counts, reverse=True)]
    return timeline_months_grouped(assets=assets_filter(assets=assets_visible_to(user), query=query))
