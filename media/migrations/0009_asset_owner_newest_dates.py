"""The newest-first index gains taken_at and trashed_at as key columns (renamed asset_owner_newest):
PostgreSQL then checks a taken-date range and "not in the trash" on the index entries while walking a
user's pictures newest first, and lists a search's ids index-only (docs/search.md, "Ten million
detections"). The new index is built before the old one goes, so newest-first pages always have one.

On PostgreSQL both run CONCURRENTLY: a library of millions of pictures keeps taking uploads and tags
while the index builds (minutes at that size) instead of waiting behind a lock on media_asset."""

from typing import Any

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class ConcurrentlyOnPostgres:
    """The CONCURRENTLY operation on PostgreSQL, its plain counterpart (``plain``) elsewhere (SQLite)."""

    plain: Any

    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexConcurrentlyOnPostgres(ConcurrentlyOnPostgres, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgres(ConcurrentlyOnPostgres, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('media', '0008_asset_video_proxy'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='asset',
            index=models.Index(fields=['owner', '-created_at', '-id', 'taken_at', 'trashed_at'], name='asset_owner_newest'),
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='asset',
            name='asset_owner_created',
        ),
    ]
