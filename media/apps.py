from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"
    label = "media"
    verbose_name = "Media assets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        # Every decode in every process (web and worker) refuses more pixels than uploads may have.
        Image.MAX_IMAGE_PIXELS = settings.ASSET_MAX_PIXELS
