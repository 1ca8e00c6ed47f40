from django.contrib import admin
from django.http import HttpRequest

from integrations.models import ApiToken, Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "active", "created_at"]
    list_filter = ["active"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["delivery_id", "event", "attempt", "status_code", "delivered_at", "next_retry"]
    list_filter = ["event"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """See and revoke (delete) tokens; new ones are made by their owner or `manage.py create_token`."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at"]
    search_fields = ["name", "user__username", "prefix"]
    exclude = ["digest"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the key would have to be shown here; owners make tokens on their page
