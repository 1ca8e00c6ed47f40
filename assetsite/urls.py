from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from assetsite import health
from assetsite.api_docs import RedocView, redoc_bundle
from assetsite.api_errors import api_not_found
from integrations.api import ApiTokenViewSet, CocoExportView, WebhookViewSet
from integrations.coco_api import CocoImportJobView, CocoImportView
from library.api import AssetRenditionView, AssetSignedUrlView, AssetViewSet
from library.collections_api import CollectionAssetsView, CollectionShareView, CollectionViewSet
from library.downloads import AssetDownloadView
from library.trash_api import TrashItemView, TrashListView, TrashRestoreView
from media.api import AssetOriginalView, AssetProxyView, AssetThumbnailView
from review.api import (
    AssetBulkView,
    AssetDetectionsView,
    AssetTracksView,
    DetectionCropView,
    DetectionView,
    ReviewQueueCountView,
    TrackView,
)
from search.api import LabelFacetView
from tagging.api import TaggingStatusView

# The API in one place; each app's pages come from its own urls module.
router = DefaultRouter()
router.register("assets", AssetViewSet, basename="asset")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("collections", CollectionViewSet, basename="collection")

api_urls = [
    # Before the router: "assets/bulk/" would otherwise be read as the detail URL of an asset "bulk".
    path("assets/bulk/", AssetBulkView.as_view(), name="asset-bulk"),
    path("assets/download/", AssetDownloadView.as_view(), name="asset-download"),
    path("assets/<str:asset_id>/detections/", AssetDetectionsView.as_view(), name="asset-detections"),
    path("assets/<uuid:asset_id>/original/", AssetOriginalView.as_view(), name="asset-original"),
    path("assets/<uuid:asset_id>/thumbnail/<str:size>/", AssetThumbnailView.as_view(), name="asset-thumbnail"),
    path("assets/<uuid:asset_id>/proxy/", AssetProxyView.as_view(), name="asset-proxy"),
    path("assets/<uuid:asset_id>/rendition/", AssetRenditionView.as_view(), name="asset-rendition"),
    path("assets/<uuid:asset_id>/signed-urls/", AssetSignedUrlView.as_view(), name="asset-signed-url"),
    path("assets/<str:asset_id>/tracks/", AssetTracksView.as_view(), name="asset-tracks"),
    path("tracks/<str:track_id>/", TrackView.as_view(), name="track-detail"),
    path("detections/<int:detection_id>/crop/", DetectionCropView.as_view(), name="detection-crop"),
    path("detections/<str:detection_id>/", DetectionView.as_view(), name="detection-detail"),
    path("collections/<str:collection_id>/assets/", CollectionAssetsView.as_view(), name="collection-assets"),
    path("collections/<str:collection_id>/share/", CollectionShareView.as_view(), name="collection-share"),
    path("review/queue/", ReviewQueueCountView.as_view(), name="review-queue"),
    path("trash/", TrashListView.as_view(), name="trash"),
    path("trash/<str:asset_id>/", TrashItemView.as_view(), name="trash-item"),
    path("trash/<str:asset_id>/restore/", TrashRestoreView.as_view(), name="trash-restore"),
    path("export/coco/", CocoExportView.as_view(), name="coco-export"),
    path("import/coco/", CocoImportView.as_view(), name="coco-import"),
    path("import/coco/jobs/<str:job_id>/", CocoImportJobView.as_view(), name="coco-import-job"),
    *router.urls,
    path("labels/", LabelFacetView.as_view(), name="labels"),
    path("status/", TaggingStatusView.as_view(), name="tagging-status"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (docs/?script=), not inline: the CSP allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="integrations/swagger_ui.html"),
        name="swagger-ui",
    ),
    # Redoc's bundle writes its styles into <style> elements and searches in a blob: worker; only this page
    # allows those (still no inline script).
    path(
        "redoc/",
        csp_update({"style-src-elem": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            RedocView.as_view(url_name="api:schema", template_name="integrations/redoc.html")
        ),
        name="redoc",
    ),
    path("redoc/redoc.standalone.js", redoc_bundle, name="redoc-bundle"),
    # Last: any other URL under /api/ (with its slash, so APPEND_SLASH still redirects) is a JSON 404.
    re_path(r"^(?P<path>.*/)$", api_not_found),
]

urlpatterns = [
    path("", include("library.urls")),
    path("", include("media.urls")),
    path("", include("review.urls")),
    path("integrations/", include("integrations.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include((api_urls, "api"))),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
]

handler400 = "assetsite.api_errors.bad_request"
handler500 = "assetsite.api_errors.server_error"
