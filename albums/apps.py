from django.apps import AppConfig


class AlbumsConfig(AppConfig):
    # "albums", not "collections": that name is Python's standard library module. The pages say Collections.
    name = "albums"
    label = "albums"
    verbose_name = "Collections"
    default_auto_field = "django.db.models.BigAutoField"
