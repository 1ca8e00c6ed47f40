"""Drop tag-summary indexes that others already cover (measured at 1M detections, docs/search.md).

- asset_tag_owner_label (owner, label, confidence DESC): a prefix of asset_tag_owner_label_cover (0002).
- the ForeignKeys' own one-column indexes: asset starts asset_tag_unique_label (asset, label), label
  starts asset_tag_label_asset (label, asset), owner starts asset_tag_owner_label_cover.

On SQLite changing a column's index rebuilds the table, which loses the covering indexes that 0002
created outside the model state: they are created again there.
"""

import django.db.models.deletion
from django.conf import settings
import importlib

from django.db import migrations, models


def recreate_covering_indexes(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        return  # ALTER TABLE left them in place
    importlib.import_module("tagging.migrations.0002_search_indexes").create_indexes(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0005_asset_taken_offset'),
        ('tagging', '0007_track_videoprogress_run_video'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='assettag',
            name='asset_tag_owner_label',
        ),
        migrations.AlterField(
            model_name='assettag',
            name='asset',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tags', to='media.asset'),
        ),
        migrations.AlterField(
            model_name='assettag',
            name='label',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='asset_tags', to='tagging.label'),
        ),
        migrations.AlterField(
            model_name='assettag',
            name='owner',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(recreate_covering_indexes, migrations.RunPython.noop, elidable=False),
    ]
