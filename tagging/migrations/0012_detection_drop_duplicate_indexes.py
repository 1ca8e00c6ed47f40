"""Detections lose the foreign keys' own single-column indexes on asset and label: detection_asset_source
(asset, source, review) and detection_label_confidence (label, confidence) start with those columns and
serve the same lookups (cascade deletes, PROTECT checks, an asset's boxes). Each detection row a worker
writes updated both; at 10M detections they were 184 MB (docs/search.md, sizes)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('media', '0010_asset_video_proxy_error'),
        ('tagging', '0011_month_counts'),
    ]

    operations = [
        migrations.AlterField(
            model_name='detection',
            name='asset',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='detections', to='media.asset'),
        ),
        migrations.AlterField(
            model_name='detection',
            name='label',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='detections', to='tagging.label'),
        ),
    ]
