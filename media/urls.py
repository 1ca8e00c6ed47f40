from django.urls import path

from media import views

urlpatterns = [
    path("assets/<uuid:asset_id>/original/", views.asset_file, name="asset-file"),
    path("assets/<uuid:asset_id>/thumbnail/<str:size>/", views.asset_thumbnail, name="asset-thumbnail"),
    path("assets/<uuid:asset_id>/proxy/", views.asset_proxy, name="asset-proxy"),
]
