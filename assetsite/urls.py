from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from assetsite import health
from assetsite.api_errors import api_not_found
from integrations.api import CocoExportView, CocoImportView, WebhookViewSet
from media import views as media_views
from tagging import views as tagging_views
from tagging.api import LabelFacetView, TaggedAssetViewSet
from tagging.review_api import AssetBulkView, AssetDetectionsView, AssetRetagView, DetectionView

router = DefaultRouter()
router.register("assets", TaggedAssetViewSet, basename="asset")
router.register("webhooks", WebhookViewSet, basename="webhook")

api_urls = [
    # Before the router: "assets/bulk/" would otherwise be read as the detail URL of an asset "bulk".
    path("assets/bulk/", AssetBulkView.as_view(), name="asset-bulk"),
    path("assets/<str:asset_id>/retag/", AssetRetagView.as_view(), name="asset-retag"),
    path("assets/<str:asset_id>/detections/", AssetDetectionsView.as_view(), name="asset-detections"),
    path("detections/<str:detection_id>/", DetectionView.as_view(), name="detection-detail"),
    path("export/coco/", CocoExportView.as_view(), name="coco-export"),
    path("import/coco/", CocoImportView.as_view(), name="coco-import"),
    *router.urls,
    path("labels/", LabelFacetView.as_view(), name="labels"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="swagger-ui"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", template_name="integrations/redoc.html"),
        name="redoc",
    ),
    # Last: any other URL under /api/ (with its slash, so APPEND_SLASH still redirects) is a JSON 404.
    re_path(r"^(?P<path>.*/)$", api_not_found),
]

urlpatterns = [
    path("", tagging_views.TaggedLibraryView.as_view(), name="library"),
    path("upload/", media_views.UploadView.as_view(), name="upload"),
    path("assets/<uuid:asset_id>/", tagging_views.TaggedAssetDetailView.as_view(), name="asset-detail"),
    path("assets/<uuid:asset_id>/original/", media_views.asset_file, name="asset-file"),
    path("assets/<uuid:asset_id>/thumbnail/<str:size>/", media_views.asset_thumbnail, name="asset-thumbnail"),
    # Review pages: plain form posts (the scripts use the API for the same actions).
    path("assets/<uuid:asset_id>/retag/", tagging_views.AssetRetagPageView.as_view(), name="asset-retag"),
    path("assets/<uuid:asset_id>/detections/new/", tagging_views.DetectionAddView.as_view(), name="detection-add"),
    path(
        "assets/<uuid:asset_id>/detections/<int:detection_id>/review/",
        tagging_views.DetectionReviewView.as_view(),
        name="detection-review",
    ),
    path(
        "assets/<uuid:asset_id>/detections/<int:detection_id>/crop/",
        tagging_views.detection_crop_view,
        name="detection-crop",
    ),
    path("assets/bulk/", tagging_views.BulkActionView.as_view(), name="asset-bulk"),
    path("review/", tagging_views.ReviewQueueView.as_view(), name="review-queue"),
    path("integrations/", include("integrations.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include((api_urls, "api"))),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
]

handler400 = "assetsite.api_errors.bad_request"
handler500 = "assetsite.api_errors.server_error"
