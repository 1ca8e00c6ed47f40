"""Upgrading keeps every row: assets made before the trash and hearts existed come through
media 0004 visible, not favourites, not trashed, and the trash's partial indexes start empty."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("media", "0003_asset_kind_duration_fps_video_codec"), ("albums", None)]


@pytest.mark.django_db(transaction=True)
def test_migration_0004_keeps_every_asset_and_marks_none_trashed(django_user_model):
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state([BEFORE[0]]).apps
        owner = old.get_model("auth", "User").objects.create(username="before-upgrade")
        Asset = old.get_model("media", "Asset")
        for n in range(5):
            Asset.objects.create(owner=owner, file=f"originals/00/{n}.png", original_filename=f"{n}.png",
                                 sha256=f"{n:064d}", format="PNG", mime_type="image/png", width=10, height=10,
                                 byte_size=100)
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
        from media.models import Asset as Current

        assert Current.all_objects.filter(owner_id=owner.pk).count() == 5
        assert Current.objects.filter(owner_id=owner.pk).count() == 5  # none in the trash
        assert not Current.all_objects.filter(owner_id=owner.pk, favorite=True).exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
