from django.urls import path

from library import views

urlpatterns = [
    path("", views.LibraryView.as_view(), name="library"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("assets/<uuid:asset_id>/", views.AssetDetailView.as_view(), name="asset-detail"),
    path("assets/<uuid:asset_id>/retag/", views.AssetRetagPageView.as_view(), name="asset-retag"),
    path("assets/<uuid:asset_id>/detections/new/", views.DetectionAddView.as_view(), name="detection-add"),
]
