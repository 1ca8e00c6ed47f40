from django.contrib import admin

from integrations.models import Webhook, WebhookDelivery


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
