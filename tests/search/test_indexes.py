"""The search tables' indexes after all migrations: no index repeats the leading columns of another
(each one costs every tag and detection write and disk, docs/search.md "Sizes"), and the partial index of a user's
live asset ids that facets of a search read index-only is there. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def indexes(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Name -> (columns, unique) of every index and unique constraint on ``table``, primary key left out.

    The columns include INCLUDEd ones (PostgreSQL reports them after the key columns).
    """
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(info["columns"]), bool(info["unique"]))
        for name, info in found.items()
        if not info["primary_key"] and (info["index"] or info["unique"]) and info["columns"]
    }


# Key columns of the covering indexes of migration 0002 on PostgreSQL (the rest are INCLUDEd).
KEYS = {"asset_tag_owner_label_cover": 3, "asset_tag_asset_cover": 2}


def keys(name: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    return columns[: KEYS[name]] if connection.vendor == "postgresql" and name in KEYS else columns


def redundant_indexes(table: str) -> list[tuple[str, str]]:
    """(index, the index that serves it): a plain index is redundant when another starts with its key
    columns and holds all its columns."""
    found = indexes(table)
    return [
        (name, other)
        for name, (cols, unique) in found.items()
        for other, (other_cols, _) in found.items()
        if name != other
        and not unique
        and keys(other, other_cols)[: len(keys(name, cols))] == keys(name, cols)
        and set(cols) <= set(other_cols)
    ]


def test_no_tag_summary_index_is_covered_by_another() -> None:
    found = indexes("tagging_assettag")
    assert {"asset_tag_owner_label_cover", "asset_tag_asset_cover", "asset_tag_unique_label"} <= set(found)
    assert redundant_indexes("tagging_assettag") == [], "indexes another one already serves"
    assert "asset_tag_owner_label" not in found


def test_no_detection_index_is_covered_by_another() -> None:
    """Every detection row a worker writes updates each index: the foreign keys' own indexes on asset and
    label are served by (asset, source, review) and (label, confidence)."""
    found = indexes("tagging_detection")
    assert {"detection_asset_source", "detection_label_confidence"} <= set(found)
    assert redundant_indexes("tagging_detection") == [], "indexes another one already serves"


def test_live_assets_index() -> None:
    found = indexes("media_asset")
    assert found.get("asset_owner_live") == (("owner_id", "id"), False)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_indexdef('asset_owner_live'::regclass)")
            assert "WHERE (trashed_at IS NULL)" in cursor.fetchone()[0]


def test_newest_first_index_holds_the_dates_it_filters_on() -> None:
    """Walking a user's pictures newest first, PostgreSQL checks a taken range and the trash on the index
    entries (key columns, not INCLUDEd: only key columns can be index conditions)."""
    found = indexes("media_asset")
    assert found.get("asset_owner_newest") == (("owner_id", "created_at", "id", "taken_at", "trashed_at"), False)
    assert "asset_owner_created" not in found
