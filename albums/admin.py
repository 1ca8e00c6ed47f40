from django.contrib import admin

from albums.models import Collection, ShareLink


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query", "created_at"]
    search_fields = ["name", "owner__username"]
    readonly_fields = [f.name for f in Collection._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # people make collections on the site, for themselves


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    # The digest opens nothing (the key is never stored); staff can see and revoke links here.
    list_display = ["collection", "created_at", "expires_at", "revoked_at", "allow_download"]
    readonly_fields = [f.name for f in ShareLink._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # a link's key is shown once, to the collection's owner
