"""The timeline's month summary (``MonthCount``): how many of an owner's live assets fall in each month,
all of them or those carrying one label, kept by PostgreSQL triggers (migration 0011).

Months are in the zone the summary was built in (``tagging_timeline_zone()``). While that is not
``TIME_ZONE`` (the setting changed after the migration), ``month_counts_available`` is False and the
timeline groups its matches live; the sweeper then rebuilds the summary in the new zone
(``month_counts_zone_follow``). On other databases the table stays empty and the timeline groups live.
"""

from __future__ import annotations

import importlib
import logging
from datetime import date

from django.conf import settings
from django.db import connection, transaction

from tagging.label_counts import delta_totals
from tagging.models import MonthCount

logger = logging.getLogger(__name__)


def month_counts_zone() -> str | None:
    """The time zone the summary counts months in; None without the summary (not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT tagging_timeline_zone()")
        return str(cursor.fetchone()[0])


def month_counts_available() -> bool:
    return month_counts_zone() == settings.TIME_ZONE


def month_counts_of(*, owner_id: int, label_id: int | None = None) -> dict[date, int]:
    """Month (its first day) -> how many of the owner's assets outside the trash fall in it (with
    ``label_id``: those carrying that label); months with none left out."""
    return delta_totals(MonthCount.objects.filter(owner_id=owner_id, label_id=label_id), "month")


def month_counts_rebuild(*, zone: str) -> int | None:
    """Count every month again in ``zone`` and make the triggers use it; returns the summary's rows, or
    None if it already counts in ``zone`` (another process rebuilt it first).

    Blocks writes to assets and tags while it counts (a few seconds per million assets), so it runs
    only when the zone changed. The source tables are locked before the summary (the order in which
    every trigger takes them), so a rebuild and a writer never wait on each other in a circle, and two
    rebuilds take turns on the summary's lock."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE tagging_assettag, media_asset IN SHARE MODE")
        cursor.execute("LOCK TABLE tagging_monthcount IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT tagging_timeline_zone()")
        if cursor.fetchone()[0] == zone:
            return None
        # The SQL the migration installed: rebuilding in a new zone runs the same statements.
        migration = importlib.import_module("tagging.migrations.0011_month_counts")
        cursor.execute(migration.zone_functions(zone))
        cursor.execute("DELETE FROM tagging_monthcount")
        cursor.execute(migration.BACKFILL)
        return cursor.rowcount


def month_counts_zone_follow() -> bool:
    """Rebuild the summary if ``TIME_ZONE`` changed since it was built; True if this call did."""
    zone = month_counts_zone()
    if zone is None or zone == settings.TIME_ZONE:
        return False
    rows = month_counts_rebuild(zone=settings.TIME_ZONE)
    if rows is None:
        return False
    logger.warning("timeline months: TIME_ZONE is now %s (was %s), recounted %d rows", settings.TIME_ZONE, zone, rows)
    return True
