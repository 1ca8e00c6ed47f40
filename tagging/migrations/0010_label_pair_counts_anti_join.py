"""The pair summary's trigger functions (0009) with ``NOT EXISTS`` where they had ``id NOT IN (SELECT id
FROM added)``: PostgreSQL hashes a NOT IN subquery only while it fits work_mem (4 MB by default), and
falls back to rescanning it for every row, so one statement of a few hundred thousand tag rows (a
bulk import, the benchmark's seeding) ran for tens of minutes. An anti-join spills to disk instead.
Same results, same locks; nothing to backfill."""

import importlib
import re

from django.db import migrations

PAIRS = importlib.import_module("tagging.migrations.0009_label_pair_counts")
NOT_IN = re.compile(r"WHERE id NOT IN \(SELECT id FROM (changed|new_rows|\(SELECT id, asset_id, label_id FROM "
                    r"tagging_assettag WHERE false\) e)\)")  # fmt: skip
FUNCTIONS = NOT_IN.sub(
    lambda match: f"WHERE NOT EXISTS (SELECT 1 FROM (SELECT id FROM {match.group(1)}) n WHERE n.id = after.id)",
    PAIRS.FUNCTIONS,
)


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PAIRS.FUNCTIONS)


class Migration(migrations.Migration):

    dependencies = [
        ('tagging', '0009_label_pair_counts'),
    ]

    operations = [
        migrations.RunPython(install, uninstall),
    ]
