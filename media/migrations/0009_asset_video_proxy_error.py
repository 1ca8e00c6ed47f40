from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("media", "0008_asset_video_proxy"),
    ]

    operations = [
        migrations.AddField(
            model_name="asset",
            name="video_proxy_error",
            field=models.TextField(blank=True),
        ),
    ]
