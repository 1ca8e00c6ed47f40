"""Every operation in /api/schema/, read from the schema itself so new endpoints are covered too:
without valid credentials it is a 401, and pointed at another user's asset, detection or webhook
it is a 404 that leaves the object as it was."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from albums.models import Collection, CollectionItem, ShareLink
from albums.services import collection_add, collection_create, share_link_create
from integrations.models import ApiToken, CocoImportJob, Webhook
from integrations.services import token_create, webhook_create
from media.models import Asset
from media.services import asset_create, asset_trash
from tagging.boxes import Box, DetectedObject
from tagging.models import Detection, Label, Track
from tagging.services import RunInfo, detections_replace
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db

PUBLIC = {"/api/schema/"}  # the schema itself is readable by anyone


@pytest.fixture
def operations(api_client) -> list[tuple[str, str]]:
    schema = api_client.get("/api/schema/?format=json").json()
    found = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"} and path not in PUBLIC
    ]
    assert len(found) >= 20
    return found


@pytest.fixture
def mallorys(other_user, settings):
    """Another user's asset (tagged), detection, webhook and API token."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    asset = asset_create(owner=other_user, file=upload(image_bytes("PNG", color=(9, 9, 9)), "private.png")).asset
    detections_replace(
        asset_id=asset.pk, objects=[DetectedObject("cat", 0.9, Box(1, 1, 10, 10))], info=RunInfo(model_name="t")
    )
    webhook = webhook_create(owner=other_user, url="http://127.0.0.1:9/hook")
    token, _ = token_create(user=other_user, name="mallory's script")
    collection = collection_create(owner=other_user, name="mallory's album")
    collection_add(collection=collection, assets=Asset.objects.filter(pk=asset.pk))
    share_link_create(collection=collection)
    trashed = asset_trash(asset=asset_create(owner=other_user, file=upload(image_bytes("PNG", color=(8, 8, 8)),
                                                                          "binned.png")).asset)
    # A video's track and web-playable proxy (the proxy file's bytes do not matter to access rules).
    video = asset_create(owner=other_user, file=upload(image_bytes("PNG", color=(7, 7, 7)), "clip.png")).asset
    video.video_proxy.save(f"proxies/{video.pk}.mp4", ContentFile(b"not really a video"), save=True)
    track = Track.objects.create(
        asset=video, label=Label.objects.get_or_create(name="cat")[0], start=0.0, end=1.0, confidence=0.9,
        mean_confidence=0.8, boxes=[[0.0, 1, 1, 5, 5, 0.9]],
    )
    job = CocoImportJob.objects.create(owner=other_user, annotations=2000)
    return {"asset": asset, "detection": asset.detections.get(), "webhook": webhook, "token": token,
            "collection": collection, "trashed": trashed, "video": video, "track": track, "job": job}


def url_for(path: str, objects: dict) -> str:
    ids = {
        "asset_id": objects["trashed"].pk if path.startswith("/api/trash/")
        else objects["video"].pk if path.endswith("/proxy/") else objects["asset"].pk,
        "track_id": objects["track"].pk,
        "job_id": objects["job"].pk,
        "detection_id": objects["detection"].pk,
        "collection_id": objects["collection"].pk,
        "id": objects["webhook"].pk if path.startswith("/api/webhooks/")
        else objects["token"].pk if path.startswith("/api/tokens/")
        else objects["collection"].pk if path.startswith("/api/collections/") else objects["asset"].pk,
        "size": "small",
    }
    return re.sub(r"\{(\w+)\}", lambda match: str(ids[match.group(1)]), path)


def snapshot(objects: dict) -> tuple:
    asset = Asset.objects.get(pk=objects["asset"].pk)
    detection = Detection.objects.get(pk=objects["detection"].pk)
    webhook = Webhook.objects.get(pk=objects["webhook"].pk)
    return (
        asset.title, asset.tagging_status, asset.updated_at,
        detection.review, detection.label_id, Detection.objects.filter(asset=asset).count(),
        webhook.secret, webhook.active, webhook.url, webhook.deliveries.count(),
        list(ApiToken.objects.filter(user=webhook.owner).values_list("pk", "digest", "expires_at")),
        list(Collection.objects.filter(owner=webhook.owner).values_list("pk", "name", "query")),
        list(CollectionItem.objects.filter(collection__owner=webhook.owner).values_list("asset_id", flat=True)),
        list(ShareLink.objects.filter(collection__owner=webhook.owner).values_list("pk", "revoked_at")),
        list(Asset.all_objects.filter(owner=webhook.owner).values_list("pk", "trashed_at", "favorite")),
        list(Track.objects.filter(asset__owner=webhook.owner).values_list("pk", "review", "label_id")),
        list(CocoImportJob.objects.filter(owner=webhook.owner).values_list("pk", "state")),
    )  # fmt: skip


def call(client: APIClient, method: str, url: str):
    body = {"title": "pwned", "label": "x", "review": "rejected", "active": False, "action": "delete", "ids": []}
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


def test_every_operation_needs_valid_credentials(operations, mallorys):
    anonymous = APIClient()
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token 0123456789012345678901234567890123456789")
    malformed = APIClient()
    malformed.credentials(HTTP_AUTHORIZATION="Token")
    before = snapshot(mallorys)
    for method, path in operations:
        for client in (anonymous, wrong, malformed):
            response = call(client, method, url_for(path, mallorys))
            assert response.status_code == 401, (method, path, response.content)
            assert response["WWW-Authenticate"] == "Token"
            assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert snapshot(mallorys) == before


def test_every_operation_on_another_users_object_is_404(api_client, operations, mallorys):
    before = snapshot(mallorys)
    with_ids = [(method, path) for method, path in operations if "{" in path]
    assert len(with_ids) >= 12
    for method, path in with_ids:
        response = call(api_client, method, url_for(path, mallorys))
        assert response.status_code == 404, (method, path, response.content)
        assert response.json() == {"detail": response.json()["detail"], "code": "not_found"}
        assert str(mallorys["asset"].pk) not in response.json()["detail"]
    assert snapshot(mallorys) == before


def test_the_owner_reaches_the_same_urls(other_api_client, operations, mallorys):
    """The 404s above are about ownership, not broken URLs: the owner gets no 404 on any of them."""
    for method, path in operations:
        if "{" not in path or method == "DELETE":
            continue
        response = call(other_api_client, method, url_for(path, mallorys))
        assert response.status_code != 404, (method, path, response.content)
