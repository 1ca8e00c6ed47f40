"""Review pages: plain form posts (the scripts use the API for the same actions)."""

from django.urls import path

from review import views

urlpatterns = [
    path(
        "assets/<uuid:asset_id>/detections/<int:detection_id>/review/",
        views.DetectionReviewView.as_view(),
        name="detection-review",
    ),
    path(
        "assets/<uuid:asset_id>/detections/<int:detection_id>/crop/",
        views.detection_crop_view,
        name="detection-crop",
    ),
    path("assets/bulk/", views.BulkActionView.as_view(), name="asset-bulk"),
    path("review/", views.ReviewQueueView.as_view(), name="review-queue"),
]
