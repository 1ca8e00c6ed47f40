from django.contrib import admin

from media.models import Asset


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["original_filename", "owner", "format", "width", "height", "tagging_status", "created_at",
                    "trashed_at"]
    list_filter = ["tagging_status", "format"]
    search_fields = ["original_filename", "title", "sha256", "owner__username"]
    readonly_fields = [f.name for f in Asset._meta.fields]
    date_hierarchy = "created_at"

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        # Staff see the trash too (trashed_at says which); the site's pages never do.
        return Asset.all_objects.all()
