"""The newest-first index gains taken_at and trashed_at as key columns (renamed asset_owner_newest):
PostgreSQL then checks a taken-date range and "not in the trash" on the index entries while walking a
user's pictures newest first, and lists a search's ids index-only (docs/search.md, "Ten million
detections"). The new index is built before the old one goes, so newest-first pages always have one."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0008_asset_video_proxy'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['owner', '-created_at', '-id', 'taken_at', 'trashed_at'], name='asset_owner_newest'),
        ),
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_owner_created',
        ),
    ]
