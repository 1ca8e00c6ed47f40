"""The label-pair summary (LabelPairCount): how many of an owner's live assets carry two labels together.

Kept by the same statement-level triggers as the label summary (0005), whose functions are replaced
here to write both. A tag change recomputes the pairs of the assets it touches from their tags after
and before the statement (before = after without the inserted rows, plus the deleted or pre-update
ones), so inserts, deletes and updates share one formula. Two transactions changing tags of the same
asset must not both miss each other's uncommitted rows, so the tag triggers now lock the touched
assets FOR NO KEY UPDATE (not FOR SHARE): tag writers of one asset take turns, and the later one's
next statement sees the earlier one's committed tags. Trash and restore add or remove all pairs of
the asset's tags, as for the single-label counts.
"""

import django.db.models.deletion
from django.conf import settings
import importlib

from django.db import migrations, models

PAIRS_OF_STATEMENT = """
    WITH after AS (
        SELECT t.id, t.asset_id, t.label_id FROM tagging_assettag t
        WHERE t.asset_id IN (SELECT asset_id FROM touched)
    ), sides AS (
        SELECT 1 AS sign, id, asset_id, label_id FROM after
        UNION ALL
        SELECT -1, id, asset_id, label_id FROM after WHERE id NOT IN (SELECT id FROM added)
        UNION ALL
        SELECT -1, id, asset_id, label_id FROM removed
    )
    INSERT INTO tagging_labelpaircount (owner_id, label_id, other_id, assets)
    SELECT a.owner_id, x.label_id, y.label_id, sum(x.sign)
    FROM sides x JOIN sides y ON y.asset_id = x.asset_id AND y.sign = x.sign AND y.label_id <> x.label_id
    JOIN media_asset a ON a.id = x.asset_id
    WHERE a.trashed_at IS NULL
    GROUP BY a.owner_id, x.label_id, y.label_id HAVING sum(x.sign) <> 0;
"""


def _pairs(touched: str, added: str, removed: str) -> str:
    empty = "(SELECT id, asset_id, label_id FROM tagging_assettag WHERE false)"
    return (
        PAIRS_OF_STATEMENT.replace("FROM touched", f"FROM {touched}")
        .replace("FROM added", f"FROM {added or empty + ' e'}")
        .replace("FROM removed", f"FROM {removed or empty + ' r'}")
    )


LOCK_TOUCHED = "PERFORM 1 FROM media_asset WHERE id IN (SELECT asset_id FROM {}) ORDER BY id FOR NO KEY UPDATE;"

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION tagging_label_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {LOCK_TOUCHED.format("changed")}
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tagging_labelcount (owner_id, label_id, assets)
        SELECT c.owner_id, c.label_id, count(*) FROM changed c JOIN media_asset a ON a.id = c.asset_id
        WHERE a.trashed_at IS NULL GROUP BY c.owner_id, c.label_id;
        {_pairs("changed", "changed", "")}
    ELSE
        INSERT INTO tagging_labelcount (owner_id, label_id, assets)
        SELECT c.owner_id, c.label_id, -count(*) FROM changed c JOIN media_asset a ON a.id = c.asset_id
        WHERE a.trashed_at IS NULL GROUP BY c.owner_id, c.label_id;
        {_pairs("changed", "", "changed")}
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tagging_label_count_tags_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM media_asset WHERE id IN (SELECT asset_id FROM old_rows UNION SELECT asset_id FROM new_rows)
        ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO tagging_labelcount (owner_id, label_id, assets)
    SELECT owner_id, label_id, sum(delta) FROM (
        SELECT o.owner_id, o.label_id, -1 AS delta FROM old_rows o JOIN media_asset a ON a.id = o.asset_id
        WHERE a.trashed_at IS NULL
        UNION ALL
        SELECT n.owner_id, n.label_id, 1 FROM new_rows n JOIN media_asset a ON a.id = n.asset_id
        WHERE a.trashed_at IS NULL
    ) d GROUP BY owner_id, label_id HAVING sum(delta) <> 0;
    {_pairs("(SELECT asset_id FROM old_rows UNION SELECT asset_id FROM new_rows) u", "new_rows", "old_rows")}
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tagging_label_count_trash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tagging_labelcount (owner_id, label_id, assets)
    SELECT t.owner_id, t.label_id, sum(CASE WHEN n.trashed_at IS NULL THEN 1 ELSE -1 END)
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN tagging_assettag t ON t.asset_id = n.id
    WHERE (o.trashed_at IS NULL) <> (n.trashed_at IS NULL)
    GROUP BY t.owner_id, t.label_id;
    INSERT INTO tagging_labelpaircount (owner_id, label_id, other_id, assets)
    SELECT n.owner_id, x.label_id, y.label_id, sum(CASE WHEN n.trashed_at IS NULL THEN 1 ELSE -1 END)
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN tagging_assettag x ON x.asset_id = n.id
    JOIN tagging_assettag y ON y.asset_id = n.id AND y.label_id <> x.label_id
    WHERE (o.trashed_at IS NULL) <> (n.trashed_at IS NULL)
    GROUP BY n.owner_id, x.label_id, y.label_id;
    RETURN NULL;
END $$;
"""

BACKFILL = """
INSERT INTO tagging_labelpaircount (owner_id, label_id, other_id, assets)
SELECT a.owner_id, x.label_id, y.label_id, count(*)
FROM tagging_assettag x JOIN tagging_assettag y ON y.asset_id = x.asset_id AND y.label_id <> x.label_id
JOIN media_asset a ON a.id = x.asset_id
WHERE a.trashed_at IS NULL GROUP BY a.owner_id, x.label_id, y.label_id
"""


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE tagging_assettag, media_asset IN SHARE MODE")
    schema_editor.execute(FUNCTIONS)
    schema_editor.execute(BACKFILL)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    previous = importlib.import_module("tagging.migrations.0005_label_counts").TRIGGERS
    functions = previous[: previous.index("CREATE TRIGGER")].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    schema_editor.execute(functions)


class Migration(migrations.Migration):

    dependencies = [
        ('tagging', '0008_assettag_drop_duplicate_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LabelPairCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('assets', models.IntegerField()),
                ('label', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tagging.label')),
                ('other', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tagging.label')),
                ('owner', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['owner', 'label'], name='label_pair_owner_label')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
