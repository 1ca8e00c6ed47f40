"""A user's live (not trashed) asset ids as a partial index: facets of a search and OR queries read it
index-only instead of scanning the asset table (docs/search.md, "At scale")."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0006_asset_timeline_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(condition=models.Q(('trashed_at__isnull', True)), fields=['owner', 'id'], name='asset_owner_live'),
        ),
    ]
