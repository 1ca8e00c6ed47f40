from django.apps import AppConfig


class TaggingConfig(AppConfig):
    name = "tagging"
    label = "tagging"
    verbose_name = "Tagging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tagging import receivers  # noqa: F401  (connects signal handlers)
