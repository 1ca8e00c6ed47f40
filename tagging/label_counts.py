"""The per-owner label summaries (``LabelCount``, ``LabelPairCount``): read them, fold their delta rows
(and the month summary's, ``MonthCount``).

PostgreSQL triggers write the deltas (migrations 0005, 0009); on other databases the table stays empty and
``label_counts_available`` is False, so callers count from the tags instead.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet, Sum

from tagging.models import LabelCount, LabelPairCount, MonthCount

# Fold an owner's deltas once this many rows repeat a key: reading stays a few hundred index entries
# more than the folded summary.
COMPACT_AFTER_ROWS = 500


def label_counts_available() -> bool:
    return connection.vendor == "postgresql"


def delta_totals(rows: QuerySet[Any], key: str) -> dict[Any, int]:
    """``key`` -> the sum of ``assets`` over a summary's delta rows, keys whose total is 0 left out."""
    totals = rows.order_by().values(key).annotate(total=Sum("assets")).values_list(key, "total")
    return {value: total for value, total in totals if total > 0}


def label_counts_of(*, owner_id: int) -> dict[int, int]:
    """Label id -> how many of the owner's assets outside the trash carry it (labels with none left out)."""
    return delta_totals(LabelCount.objects.filter(owner_id=owner_id), "label_id")


def label_pairs_of(*, owner_id: int, label_id: int) -> dict[int, int]:
    """Other label id -> how many of the owner's assets outside the trash carry both it and ``label_id``."""
    return delta_totals(LabelPairCount.objects.filter(owner_id=owner_id, label_id=label_id), "other_id")


def label_counts_compact(*, min_rows: int = COMPACT_AFTER_ROWS) -> int:
    """Fold each owner's delta rows into one row per key, for owners with at least ``min_rows`` rows
    beyond one per key, in the label, pair and month summaries (``MonthCount``, tagging/month_counts.py).

    Counting rows beyond one per key (not all rows) leaves a large library's folded summary (thousands
    of pairs and months) alone until new deltas pile up. Deletes exactly the rows it sums, so deltas
    that triggers append meanwhile are kept; returns how many owners were folded.
    """
    if not label_counts_available():
        return 0
    summaries = ((LabelCount, "label_id"), (LabelPairCount, "label_id, other_id"), (MonthCount, "label_id, month"))
    folded: set[int] = set()
    for model, keys in summaries:
        folded |= _compact(model, keys=keys, min_rows=min_rows)
    return len(folded)


def _compact(model: type[LabelCount | LabelPairCount | MonthCount], *, keys: str, min_rows: int) -> set[int]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT owner_id FROM (SELECT owner_id, count(*) AS n FROM {table} GROUP BY owner_id, {keys}) k"
            " GROUP BY owner_id HAVING sum(n) - count(*) >= %s",
            [min_rows],
        )
        owners = [owner_id for (owner_id,) in cursor.fetchall()]
    for owner_id in owners:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH gone AS (DELETE FROM {table} WHERE owner_id = %s RETURNING {keys}, assets)
                INSERT INTO {table} (owner_id, {keys}, assets)
                SELECT %s, {keys}, sum(assets) FROM gone GROUP BY {keys} HAVING sum(assets) <> 0
                """,
                [owner_id, owner_id],
            )
    return set(owners)
