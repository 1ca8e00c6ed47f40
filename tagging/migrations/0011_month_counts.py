"""The timeline's month summary (MonthCount): per owner and month, how many live assets, all of them and
per label, kept by statement-level triggers like the label summary (0005).

Months are in ``TIME_ZONE`` as the migration (or ``month_counts_rebuild``) found it: the zone is a
literal inside ``tagging_timeline_month``, and ``tagging_timeline_zone()`` says which, so a later
change of ``TIME_ZONE`` is noticed (the timeline groups live until the sweeper rebuilds). The tag
triggers fire after the label summary's (names sort after ``tagging_label_count_*``), which has
already locked the touched assets, so a concurrent trash or date change and a tag change of one asset
take turns exactly as for the label counts.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def zone_functions(zone: str) -> str:
    """The two functions that fix the summary's time zone (a literal, so the month is cheap to compute)."""
    literal = "'" + zone.replace("'", "''") + "'"
    return f"""
CREATE OR REPLACE FUNCTION tagging_timeline_zone() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT {literal}::text $$;
CREATE OR REPLACE FUNCTION tagging_timeline_month(moment timestamptz) RETURNS date LANGUAGE sql STABLE
    AS $$ SELECT date_trunc('month', moment AT TIME ZONE {literal})::date $$;
"""


MONTH_OF = "tagging_timeline_month(COALESCE({0}.taken_at, {0}.created_at))"
# An update moves an asset between months only if its trash state, owner or timeline date changed.
MOVED = (
    "((o.trashed_at IS NULL) <> (n.trashed_at IS NULL) OR o.owner_id <> n.owner_id"
    " OR COALESCE(o.taken_at, o.created_at) IS DISTINCT FROM COALESCE(n.taken_at, n.created_at))"
)

TRIGGERS = f"""
CREATE FUNCTION tagging_month_count_assets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
    SELECT c.owner_id, NULL, {MONTH_OF.format("c")}, CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed c WHERE c.trashed_at IS NULL GROUP BY 1, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION tagging_month_count_assets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The worker's status updates change none of it: one cheap probe, nothing written.
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {MOVED}) THEN
        RETURN NULL;
    END IF;
    WITH moved AS (
        SELECT o.id, o.owner_id, {MONTH_OF.format("o")} AS month, -1 AS delta
        FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.trashed_at IS NULL AND {MOVED}
        UNION ALL
        SELECT n.id, n.owner_id, {MONTH_OF.format("n")}, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.trashed_at IS NULL AND {MOVED}
    ), labels AS (
        INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
        SELECT t.owner_id, t.label_id, m.month, sum(m.delta) FROM moved m JOIN tagging_assettag t ON t.asset_id = m.id
        GROUP BY 1, 2, 3 HAVING sum(m.delta) <> 0
    )
    INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
    SELECT owner_id, NULL, month, sum(delta) FROM moved GROUP BY 1, 3 HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION tagging_month_count_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
    SELECT c.owner_id, c.label_id, {MONTH_OF.format("a")}, CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed c JOIN media_asset a ON a.id = c.asset_id WHERE a.trashed_at IS NULL GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;

CREATE FUNCTION tagging_month_count_tags_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
    SELECT owner_id, label_id, month, sum(delta) FROM (
        SELECT o.owner_id, o.label_id, {MONTH_OF.format("a")} AS month, -1 AS delta
        FROM old_rows o JOIN media_asset a ON a.id = o.asset_id WHERE a.trashed_at IS NULL
        UNION ALL
        SELECT n.owner_id, n.label_id, {MONTH_OF.format("a")}, 1
        FROM new_rows n JOIN media_asset a ON a.id = n.asset_id WHERE a.trashed_at IS NULL
    ) d GROUP BY 1, 2, 3 HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER tagging_month_count_assets_inserted AFTER INSERT ON media_asset
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tagging_month_count_assets();
CREATE TRIGGER tagging_month_count_assets_deleted AFTER DELETE ON media_asset
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tagging_month_count_assets();
CREATE TRIGGER tagging_month_count_assets_updated AFTER UPDATE ON media_asset
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION tagging_month_count_assets_updated();
CREATE TRIGGER tagging_month_count_tags_inserted AFTER INSERT ON tagging_assettag
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tagging_month_count_tags();
CREATE TRIGGER tagging_month_count_tags_deleted AFTER DELETE ON tagging_assettag
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tagging_month_count_tags();
CREATE TRIGGER tagging_month_count_tags_updated AFTER UPDATE ON tagging_assettag
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION tagging_month_count_tags_updated();
"""

BACKFILL = f"""
INSERT INTO tagging_monthcount (owner_id, label_id, month, assets)
SELECT a.owner_id, NULL, {MONTH_OF.format("a")}, count(*) FROM media_asset a WHERE a.trashed_at IS NULL GROUP BY 1, 3
UNION ALL
SELECT t.owner_id, t.label_id, {MONTH_OF.format("a")}, count(*)
FROM tagging_assettag t JOIN media_asset a ON a.id = t.asset_id WHERE a.trashed_at IS NULL GROUP BY 1, 2, 3
"""

DROP = """
DROP TRIGGER IF EXISTS tagging_month_count_assets_inserted ON media_asset;
DROP TRIGGER IF EXISTS tagging_month_count_assets_deleted ON media_asset;
DROP TRIGGER IF EXISTS tagging_month_count_assets_updated ON media_asset;
DROP TRIGGER IF EXISTS tagging_month_count_tags_inserted ON tagging_assettag;
DROP TRIGGER IF EXISTS tagging_month_count_tags_deleted ON tagging_assettag;
DROP TRIGGER IF EXISTS tagging_month_count_tags_updated ON tagging_assettag;
DROP FUNCTION IF EXISTS tagging_month_count_assets();
DROP FUNCTION IF EXISTS tagging_month_count_assets_updated();
DROP FUNCTION IF EXISTS tagging_month_count_tags();
DROP FUNCTION IF EXISTS tagging_month_count_tags_updated();
DROP FUNCTION IF EXISTS tagging_timeline_month(timestamptz);
DROP FUNCTION IF EXISTS tagging_timeline_zone();
"""


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    # PostgreSQL only: on SQLite (one machine, small libraries) the timeline groups its matches.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE tagging_assettag, media_asset IN SHARE MODE")
    schema_editor.execute(zone_functions(settings.TIME_ZONE))
    schema_editor.execute(TRIGGERS)
    schema_editor.execute(BACKFILL)


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('tagging', '0010_label_pair_counts_anti_join'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(help_text="The month's first day.")),
                ('assets', models.IntegerField()),
                ('label', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tagging.label')),
                ('owner', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['owner', 'label', 'month'], name='month_count_owner_label')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
