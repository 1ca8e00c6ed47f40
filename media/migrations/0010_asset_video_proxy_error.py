from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0009_asset_owner_newest_dates"),
    ]

    operations = [
        migrations.AddField(
            model_name="asset",
            name="video_proxy_error",
            field=models.TextField(blank=True),
        ),
    ]
