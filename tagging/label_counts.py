"""The per-owner label summaries (``LabelCount``, ``LabelPairCount``): read them, fold their delta rows.

PostgreSQL triggers write the deltas (migrations 0005, 0009); on other databases the table stays empty and
``label_counts_available`` is False, so callers count from the tags instead.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, Sum

from tagging.models import LabelCount, LabelPairCount

# Fold an owner's deltas once there are this many rows: reading stays a few hundred index entries.
COMPACT_AFTER_ROWS = 500


def label_counts_available() -> bool:
    return connection.vendor == "postgresql"


def label_counts_of(*, owner_id: int) -> dict[int, int]:
    """Label id -> how many of the owner's assets outside the trash carry it (labels with none left out)."""
    rows = (
        LabelCount.objects.filter(owner_id=owner_id)
        .order_by()
        .values("label_id")
        .annotate(total=Sum("assets"))
        .values_list("label_id", "total")
    )
    return {label_id: total for label_id, total in rows if total > 0}


def label_pairs_of(*, owner_id: int, label_id: int) -> dict[int, int]:
    """Other label id -> how many of the owner's assets outside the trash carry both it and ``label_id``."""
    rows = (
        LabelPairCount.objects.filter(owner_id=owner_id, label_id=label_id)
        .order_by()
        .values("other_id")
        .annotate(total=Sum("assets"))
        .values_list("other_id", "total")
    )
    return {other_id: total for other_id, total in rows if total > 0}


def label_counts_compact(*, min_rows: int = COMPACT_AFTER_ROWS) -> int:
    """Replace each owner's delta rows by one row per label or pair (owners with at least ``min_rows`` rows).

    Deletes exactly the rows it sums, so deltas that triggers append meanwhile are kept; returns how
    many owners were folded.
    """
    if not label_counts_available():
        return 0
    return len(_compact_counts(min_rows=min_rows) | _compact_pairs(min_rows=min_rows))


def _compact_counts(*, min_rows: int) -> set[int]:
    owners = list(
        LabelCount.objects.order_by()
        .values("owner_id")
        .annotate(rows=Count("id"))
        .filter(rows__gte=min_rows)
        .values_list("owner_id", flat=True)
    )
    for owner_id in owners:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                WITH gone AS (DELETE FROM tagging_labelcount WHERE owner_id = %s RETURNING label_id, assets)
                INSERT INTO tagging_labelcount (owner_id, label_id, assets)
                SELECT %s, label_id, sum(assets) FROM gone GROUP BY label_id HAVING sum(assets) <> 0
                """,
                [owner_id, owner_id],
            )
    return set(owners)


def _compact_pairs(*, min_rows: int) -> set[int]:
    owners = list(
        LabelPairCount.objects.order_by()
        .values("owner_id")
        .annotate(rows=Count("id"))
        .filter(rows__gte=min_rows)
        .values_list("owner_id", flat=True)
    )
    for owner_id in owners:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                WITH gone AS (
                    DELETE FROM tagging_labelpaircount WHERE owner_id = %s RETURNING label_id, other_id, assets
                )
                INSERT INTO tagging_labelpaircount (owner_id, label_id, other_id, assets)
                SELECT %s, label_id, other_id, sum(assets) FROM gone GROUP BY label_id, other_id
                HAVING sum(assets) <> 0
                """,
                [owner_id, owner_id],
            )
    return set(owners)
