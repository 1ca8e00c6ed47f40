from django.urls import path

from integrations import views

urlpatterns = [
    path("token/", views.ApiTokenView.as_view(), name="integrations-token"),
    path("webhooks/", views.WebhookListView.as_view(), name="integrations-webhooks"),
    path("webhooks/<int:webhook_id>/", views.WebhookDetailView.as_view(), name="integrations-webhook-detail"),
]
