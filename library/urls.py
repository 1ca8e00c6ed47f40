from django.urls import path

from library import asset_actions, collections_views, downloads, share_views, trash_views, views

urlpatterns = [
    path("", views.LibraryView.as_view(), name="library"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("assets/<uuid:asset_id>/", views.AssetDetailView.as_view(), name="asset-detail"),
    path("assets/<uuid:asset_id>/retag/", views.AssetRetagPageView.as_view(), name="asset-retag"),
    path("assets/<uuid:asset_id>/detections/new/", views.DetectionAddView.as_view(), name="detection-add"),
    path("assets/<uuid:asset_id>/favorite/", asset_actions.AssetFavoriteView.as_view(), name="asset-favorite"),
    path("assets/<uuid:asset_id>/trash/", asset_actions.AssetTrashView.as_view(), name="asset-trash"),
    path("download/", downloads.DownloadPageView.as_view(), name="download"),
    # Collections.
    path("collections/", collections_views.CollectionListView.as_view(), name="collections"),
    path("collections/add/", collections_views.CollectionAddView.as_view(), name="collection-add"),
    path("collections/<uuid:collection_id>/", collections_views.CollectionDetailView.as_view(),
         name="collection-detail"),
    path("collections/<uuid:collection_id>/remove/", collections_views.CollectionRemoveView.as_view(),
         name="collection-remove"),
    path("collections/<uuid:collection_id>/share/", collections_views.CollectionShareView.as_view(),
         name="collection-share"),
    path("collections/<uuid:collection_id>/delete/", collections_views.CollectionDeleteView.as_view(),
         name="collection-delete"),
    # The trash.
    path("trash/", trash_views.TrashView.as_view(), name="trash"),
    path("trash/empty/", trash_views.TrashEmptyView.as_view(), name="trash-empty"),
    path("trash/<uuid:asset_id>/restore/", trash_views.TrashRestoreView.as_view(), name="trash-restore"),
    path("trash/<uuid:asset_id>/delete/", trash_views.TrashDeleteView.as_view(), name="trash-delete"),
    path("trash/<uuid:asset_id>/thumbnail/<str:size>/", trash_views.trashed_thumbnail, name="trash-thumbnail"),
    # Share links: no login; the key in the path is the only way in.
    path("s/<str:key>/", share_views.share_grid, name="share"),
    path("s/<str:key>/download/", share_views.share_download, name="share-download"),
    path("s/<str:key>/assets/<uuid:asset_id>/", share_views.share_asset, name="share-asset"),
    path("s/<str:key>/assets/<uuid:asset_id>/thumbnail/<str:size>/", share_views.share_thumbnail,
         name="share-thumbnail"),
    path("s/<str:key>/assets/<uuid:asset_id>/original/", share_views.share_original, name="share-original"),
]
