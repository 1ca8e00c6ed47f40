from django.db import migrations
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor):
    Asset = apps.get_model("media", "Asset")
    AssetTag = apps.get_model("tagging", "AssetTag")
    totals = AssetTag.objects.filter(asset_id=OuterRef("pk")).order_by().values("asset_id").annotate(
        total=Sum("count")
    ).values("total")
    Asset.objects.update(object_count=Coalesce(Subquery(totals), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("media", "0002_asset_object_count"),
        ("tagging", "0002_search_indexes"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
