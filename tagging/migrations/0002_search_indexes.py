"""Covering indexes on the tag summary for search (see docs/search.md for the plans they give).

- asset_tag_owner_label_cover: one user's rows of one label, best confidence first, with the asset
  and the other columns a condition may test. Feeds rare-label searches, sort by confidence and
  the per-user facet counts without touching the table.
- asset_tag_asset_cover: all tags of one asset with what conditions test, so the EXISTS probe
  "does this asset have a dog with confidence >= 0.8" and the per-asset object count are
  index-only.

On PostgreSQL the extra columns are INCLUDEd and the index is built CONCURRENTLY (so a big table
keeps taking writes); SQLite has no INCLUDE, so there they are trailing key columns. The indexes
live only in the database, not in the model state, so makemigrations does not try to drop them.
"""

from __future__ import annotations

from django.db import migrations

POSTGRES = {
    "asset_tag_owner_label_cover": (
        "ON tagging_assettag (owner_id, label_id, confidence DESC) INCLUDE (asset_id, count, max_area)"
    ),
    "asset_tag_asset_cover": "ON tagging_assettag (asset_id, label_id) INCLUDE (owner_id, count, confidence, max_area)",
}
OTHER = {
    "asset_tag_owner_label_cover": (
        "ON tagging_assettag (owner_id, label_id, confidence DESC, asset_id, count, max_area)"
    ),
    "asset_tag_asset_cover": "ON tagging_assettag (asset_id, label_id, owner_id, count, confidence, max_area)",
}


def create_indexes(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, definition in (POSTGRES if postgres else OTHER).items():
        concurrently = "CONCURRENTLY " if postgres else ""
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in POSTGRES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("tagging", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
