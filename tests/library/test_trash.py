"""The trash: deleting (API, bulk, the asset page) moves an asset out of every read (library, search,
facets, collections, files, signed URLs, renditions, crops, review queue, COCO export, webhooks) while
keeping its files and detections; restore brings back exactly what was there; deleting for good and the
purge past TRASH_DAYS remove rows and files; an upload of trashed content restores it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from albums.models import CollectionItem
from albums.services import collection_add, collection_create
from assetsite.celery import app as celery_app
from integrations.models import Webhook, WebhookDelivery
from integrations.services import webhook_event_emit
from media.models import Asset, TaggingStatus
from media.services import asset_create, trash_purge
from review.services import detection_add_manual, detection_review
from tagging.boxes import Box
from tagging.models import AssetTag, Detection
from tagging.selectors import label_names_of
from tests.conftest import stored_files
from tests.images import image_bytes, upload
from tests.tagged_assets import make_asset, tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def snapshot(asset: Asset) -> dict:
    """Everything restore must bring back as it was."""
    return {
        "asset": Asset.all_objects.filter(pk=asset.pk).values(
            "title", "favorite", "tagging_status", "object_count", "file", "thumbnail_small", "sha256"
        ).get(),
        "detections": sorted(
            Detection.objects.filter(asset=asset).values_list("pk", "label__name", "confidence", "source", "review",
                                                              "x", "y", "width", "height")
        ),
        "tags": sorted(AssetTag.objects.filter(asset=asset).values_list("label__name", "count", "confidence")),
        "collections": sorted(CollectionItem.objects.filter(asset=asset).values_list("collection_id", flat=True)),
    }


@pytest.fixture
def reviewed(user, tagged):
    """The user's tagged asset with reviews, a manual box, a heart, a title and a collection place."""
    dog = Detection.objects.get(asset=tagged, label__name="dog")
    cat = Detection.objects.get(asset=tagged, label__name="cat")
    detection_review(detection=dog, accept=True)
    detection_review(detection=cat, accept=False)
    detection_add_manual(asset=tagged, label="ball", box=Box(5, 5, 10, 10))
    Asset.objects.filter(pk=tagged.pk).update(favorite=True, title="Beach day")
    holiday = collection_create(owner=user, name="Holiday")
    collection_add(collection=holiday, assets=Asset.objects.filter(pk=tagged.pk))
    tagged.refresh_from_db()
    return tagged


def test_delete_moves_to_the_trash_and_restore_brings_back_everything(api_client, reviewed, settings):
    before = snapshot(reviewed)
    files = sorted(stored_files(settings.MEDIA_ROOT))
    assert api_client.delete(f"/api/assets/{reviewed.pk}/").status_code == 204
    assert Asset.all_objects.get(pk=reviewed.pk).trashed_at is not None
    assert sorted(stored_files(settings.MEDIA_ROOT)) == files  # files kept
    assert snapshot(reviewed)["detections"] == before["detections"]  # detections kept

    listed = api_client.get("/api/trash/").json()["results"]
    assert [item["id"] for item in listed] == [str(reviewed.pk)]
    purge_at = timezone.datetime.fromisoformat(listed[0]["purge_at"])
    trashed_at = timezone.datetime.fromisoformat(listed[0]["trashed_at"])
    assert purge_at - trashed_at == timedelta(days=settings.TRASH_DAYS)

    restored = api_client.post(f"/api/trash/{reviewed.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["id"] == str(reviewed.pk)
    assert snapshot(reviewed) == before
    assert api_client.get(f"/api/assets/{reviewed.pk}/").status_code == 200
    assert api_client.get("/api/trash/").json()["results"] == []
    assert api_client.post(f"/api/trash/{reviewed.pk}/restore/").status_code == 404  # not in the trash any more


def test_a_trashed_asset_is_gone_from_every_read(api_client, web_client, user, reviewed, settings):
    settings.MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    data = api_client.get(f"/api/assets/{reviewed.pk}/?signed=1").json()
    signed = data["signed_urls"]
    ball = Detection.objects.get(asset=reviewed, label__name="ball")
    crop = api_client.post(f"/api/assets/{reviewed.pk}/signed-urls/", {"file": "crop", "detection": ball.pk},
                           format="json").json()["url"]
    rendition = api_client.post(f"/api/assets/{reviewed.pk}/signed-urls/",
                                {"file": "rendition", "rendition": {"width": "50"}}, format="json").json()["url"]
    for url in (signed["original"], crop, rendition):
        assert Client().get(url).status_code == 200  # they work before
    hook = Webhook.objects.create(owner=user, url="https://hooks.example.com/x", secret="s" * 40,
                                  events=["asset.tagged"])

    assert api_client.delete(f"/api/assets/{reviewed.pk}/").status_code == 204

    key = str(reviewed.pk)
    assert key not in api_client.get("/api/assets/").content.decode()
    assert api_client.get("/api/assets/?q=dog").json()["results"] == []
    assert api_client.get("/api/assets/?q=is:favorite").json()["results"] == []
    assert api_client.get('/api/assets/?q=collection:"Holiday"').json()["results"] == []
    assert api_client.get("/api/labels/").json() == []
    for url in (f"/api/assets/{key}/", f"/api/assets/{key}/original/", f"/api/assets/{key}/thumbnail/small/",
                f"/api/assets/{key}/rendition/?width=40", f"/api/detections/{ball.pk}/",
                f"/api/detections/{ball.pk}/crop/", f"/api/assets/{key}/detections/"):
        assert api_client.get(url).status_code == 404, url
    for url in (signed["original"], signed["thumbnail_small"], crop, rendition):
        assert Client().get(url).status_code == 404, url
    for url in (f"/assets/{key}/", f"/assets/{key}/original/", f"/assets/{key}/thumbnail/small/",
                f"/assets/{key}/detections/{ball.pk}/crop/"):
        assert web_client.get(url).status_code == 404, url
    assert key not in web_client.get("/").content.decode()
    assert key not in web_client.get("/review/").content.decode()
    assert label_names_of(user=user) == []  # tag suggestions come from visible images only
    assert api_client.get("/api/export/coco/").json()["images"] == []
    assert api_client.patch(f"/api/assets/{key}/", {"title": "x"}, format="json").status_code == 404
    assert api_client.post("/api/assets/bulk/", {"action": "retag", "ids": [key]},
                           format="json").json()["matched"] == 0
    assert webhook_event_emit(asset_id=reviewed.pk, status=TaggingStatus.TAGGED) == []
    assert not WebhookDelivery.objects.filter(webhook=hook).exists()
    collection = user.collections.get()
    assert api_client.get(f"/api/collections/{collection.pk}/").json()["count"] == 0
    # The trash page shows it, with a thumbnail only its owner can fetch.
    trash_page = web_client.get("/trash/").content.decode()
    assert key in trash_page and "Beach day" in trash_page
    assert web_client.get(f"/trash/{key}/thumbnail/small/").status_code == 200


def test_another_users_trash_is_404(api_client, other_api_client, other_user, tagged, client):
    api_client.delete(f"/api/assets/{tagged.pk}/")
    assert other_api_client.get("/api/trash/").json()["results"] == []
    assert other_api_client.post(f"/api/trash/{tagged.pk}/restore/").status_code == 404
    assert other_api_client.delete(f"/api/trash/{tagged.pk}/").status_code == 404
    assert other_api_client.delete("/api/trash/").json() == {"deleted": 0, "ids": []}
    client.force_login(other_user)
    assert client.get(f"/trash/{tagged.pk}/thumbnail/small/").status_code == 404
    assert client.post(f"/trash/{tagged.pk}/restore/").status_code == 404
    assert client.post(f"/trash/{tagged.pk}/delete/").status_code == 404
    assert Asset.all_objects.get(pk=tagged.pk).trashed_at is not None
    # A live asset is not in the trash: restore and delete-for-good do not touch it.
    live = make_asset(tagged.owner, color=(7, 7, 7), name="live.png")
    assert api_client.delete(f"/api/trash/{live.pk}/").status_code == 404
    assert Asset.objects.filter(pk=live.pk).exists()


def test_deleting_for_good_removes_rows_files_and_renditions(api_client, tagged, settings,
                                                             django_capture_on_commit_callbacks):
    from media.renditions import rendition_folder

    assert api_client.get(f"/api/assets/{tagged.pk}/rendition/?width=30").status_code == 200
    folder = Path(settings.MEDIA_ROOT) / rendition_folder(tagged.pk)
    assert any(folder.iterdir())
    api_client.delete(f"/api/assets/{tagged.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/trash/{tagged.pk}/").status_code == 204
    assert not Asset.all_objects.filter(pk=tagged.pk).exists()
    assert not Detection.objects.filter(asset_id=tagged.pk).exists()
    assert not [path for path in stored_files(settings.MEDIA_ROOT) if tagged.pk.hex in path.name]
    assert not folder.exists() or not any(folder.iterdir())


def test_empty_trash_deletes_only_the_trash(api_client, user, settings, django_capture_on_commit_callbacks):
    kept = make_asset(user, color=(1, 1, 1), name="kept.png")
    gone = [make_asset(user, color=(n, 2, 2), name=f"gone{n}.png") for n in (10, 20)]
    for asset in gone:
        api_client.delete(f"/api/assets/{asset.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        emptied = api_client.delete("/api/trash/").json()
    assert emptied["deleted"] == 2 and sorted(emptied["ids"]) == sorted(str(asset.pk) for asset in gone)
    assert list(Asset.all_objects.values_list("pk", flat=True)) == [kept.pk]
    assert all(kept.pk.hex in path.name for path in stored_files(settings.MEDIA_ROOT))


def test_the_purge_deletes_only_what_is_older_than_trash_days(user, settings, django_capture_on_commit_callbacks):
    settings.TRASH_DAYS = 30
    now = timezone.now()
    old, recent, live = (make_asset(user, color=(n, 3, 3), name=f"{n}.png") for n in (1, 2, 3))
    Asset.objects.filter(pk=old.pk).update(trashed_at=now - timedelta(days=30, minutes=1))
    Asset.objects.filter(pk=recent.pk).update(trashed_at=now - timedelta(days=29, hours=23))
    with django_capture_on_commit_callbacks(execute=True):
        assert trash_purge(now=now) == 1
    assert set(Asset.all_objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
    assert not [path for path in stored_files(settings.MEDIA_ROOT) if old.pk.hex in path.name]
    assert [path for path in stored_files(settings.MEDIA_ROOT) if recent.pk.hex in path.name]


def test_the_periodic_sweeper_runs_the_purge(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-trash"]
    assert entry["task"] == "media.tasks.purge_trash"
    assert entry["schedule"] == float(settings.TRASH_PURGE_INTERVAL)
    celery_app.loader.import_default_modules()
    assert "media.tasks.purge_trash" in celery_app.tasks


def test_uploading_trashed_content_restores_it(api_client, web_client, reviewed):
    before = snapshot(reviewed)
    api_client.delete(f"/api/assets/{reviewed.pk}/")
    content = Path(reviewed.file.path).read_bytes()
    response = api_client.post("/api/assets/", {"file": upload(content, "again.png")}, format="multipart")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == str(reviewed.pk) and data["restored_from_trash"] is True
    assert snapshot(reviewed) == before
    again = api_client.post("/api/assets/", {"file": upload(content, "again.png")}, format="multipart")
    assert again.status_code == 200 and again.json()["restored_from_trash"] is False
    # The upload page says so too.
    api_client.delete(f"/api/assets/{reviewed.pk}/")
    page = web_client.post("/upload/", {"files": [upload(content, "page.png")]})
    assert "Restored from the trash" in page.content.decode()
    assert Asset.objects.filter(pk=reviewed.pk).exists()


def test_an_asset_trashed_before_tagging_finished_is_queued_again_on_restore(
    api_client, user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pending = asset_create(owner=user, file=upload(image_bytes("PNG", color=(4, 5, 6)), "p.png")).asset
    assert len(sent) == 1
    api_client.delete(f"/api/assets/{pending.pk}/")
    # A worker does not claim a trashed asset.
    from tagging.services import tagging_claim

    assert tagging_claim(asset_id=pending.pk, task_id="t1") is None
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/trash/{pending.pk}/restore/")
    assert sent[-1] == [str(pending.pk)] and len(sent) == 2
    done = make_asset(user, color=(9, 8, 7), name="done.png")
    tag(done, ("dog", 0.9, Box(1, 1, 5, 5)))
    api_client.delete(f"/api/assets/{done.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(f"/api/trash/{done.pk}/restore/")
    assert len(sent) == 2  # tagged already: nothing to send


def test_trash_pages_restore_delete_and_empty(web_client, user, django_capture_on_commit_callbacks):
    one, two, three = (make_asset(user, color=(n, 9, 9), name=f"t{n}.png") for n in (1, 2, 3))
    page = web_client.post(f"/assets/{one.pk}/trash/")
    assert page.status_code == 302
    assert Asset.all_objects.get(pk=one.pk).trashed_at is not None
    web_client.post("/assets/bulk/", {"action": "delete", "ids": [two.pk, three.pk], "confirm": "1"})
    listing = web_client.get("/trash/")
    assert listing.status_code == 200 and listing.context["total"] == 3
    assert web_client.post(f"/trash/{one.pk}/restore/").status_code == 302
    assert Asset.objects.filter(pk=one.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        web_client.post(f"/trash/{two.pk}/delete/")
    assert not Asset.all_objects.filter(pk=two.pk).exists()
    confirm = web_client.get("/trash/empty/")
    assert "Delete 1 image for good?" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        web_client.post("/trash/empty/")
    assert list(Asset.all_objects.values_list("pk", flat=True)) == [one.pk]
    assert web_client.get("/trash/").context["total"] == 0
