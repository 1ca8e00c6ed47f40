"""Object storage going wrong, against a real SeaweedFS gateway: a wrong bucket, refused credentials and a
stopped server give uploads a 503 with Retry-After and /health/ says so; nothing is half-written (no
row without its files, no files without their row) and the orphan sweep removes what an outage left."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from media.models import Asset
from media.services import storage_orphans_sweep
from testkit.s3 import S3Server
from tests.conftest import stored_files, token_client
from tests.factories import UserFactory
from tests.images import image_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


def post_file(client, data: bytes, name: str = "photo.png"):
    return client.post("/api/assets/", {"file": upload(data, name)}, format="multipart")


def use_bucket(settings, server: S3Server, **options) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**server.storages_options(), **options}}}


def assert_refused_cleanly(response, server: S3Server | None = None, *, rows: int = 0) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "storage_unavailable"
    assert "file store is not answering" in response.json()["detail"]
    assert Asset.all_objects.count() == rows  # no row without its files
    if server is not None:
        assert server.keys() == []  # no files without their row


def staff_health() -> tuple[int, dict]:
    staff = Client(raise_request_exception=False)
    staff.force_login(UserFactory(username="root", is_staff=True))
    response = staff.get("/health/")
    return response.status_code, response.json()


@pytest.mark.parametrize("problem", ["wrong bucket", "wrong secret"])
def test_a_misconfigured_bucket_is_a_503_and_reported_by_health(s3_server, settings, user, problem):
    options = {"bucket_name": "no-such-bucket-here"} if problem == "wrong bucket" else {"secret_key": "wrong"}
    use_bucket(settings, s3_server, location=f"misconf-{time.monotonic_ns()}", **options)
    started = time.monotonic()
    response = post_file(token_client(user), image_bytes("PNG", size=(32, 32)))
    assert time.monotonic() - started < 10
    assert_refused_cleanly(response)
    assert s3_server.keys(settings.STORAGES["default"]["OPTIONS"]["location"]) == []
    page = Client()
    page.force_login(user)
    form = page.post("/upload/", {"files": [upload(image_bytes("PNG", size=(32, 33)), "page.png")]})
    assert form.status_code == 503 and form["Retry-After"] == "5"
    assert "file store is not answering" in form.content.decode() and not Asset.all_objects.exists()

    status, health = staff_health()
    assert status == 503 and health["status"] == "down"
    assert health["checks"]["storage"]["ok"] is False and health["checks"]["storage"]["error"]
    anonymous = Client().get("/health/")
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "down"}  # no details for anyone


def test_the_store_going_away_is_a_503_and_health_reports_it(tmp_path, settings, user):
    from testkit.s3 import weed_unusable_reason

    reason = weed_unusable_reason(tmp_path)
    if reason:
        pytest.skip(reason)
    server = S3Server(tmp_path)
    server.start()
    try:
        use_bucket(settings, server)
        client = token_client(user)
        kept = post_file(client, image_bytes("PNG", size=(40, 40)))
        assert kept.status_code == 201
        status, health = staff_health()
        assert status == 200 and health["checks"]["storage"] == {**health["checks"]["storage"], "ok": True,
                                                                  "backend": "s3", "bucket": server.bucket}
        before = sorted(server.keys())

        server.stop(grace=0)
        started = time.monotonic()
        refused = post_file(client, image_bytes("PNG", size=(41, 41)))
        assert time.monotonic() - started < 15
        assert refused.status_code == 503 and refused["Retry-After"] == "5"
        assert refused.json()["code"] == "storage_unavailable"
        assert Asset.all_objects.count() == 1  # the refused upload left no row
        reading = token_client(user)
        reading.raise_request_exception = False
        original = reading.get(f"/api/assets/{kept.json()['id']}/original/")
        assert original.status_code == 503 and original.json()["code"] == "storage_unavailable"
        status, health = staff_health()
        assert status == 503 and health["checks"]["storage"]["ok"] is False

        server.start()
        assert sorted(server.keys()) == before  # nothing was half-written while it was down
        assert post_file(client, image_bytes("PNG", size=(41, 41))).status_code == 201
    finally:
        server.stop(grace=0)
    assert stored_files(settings.MEDIA_ROOT) == []


def test_a_failure_after_the_files_were_stored_deletes_them(s3, user, monkeypatch):
    from media import signals

    def database_gone(**kwargs):
        raise OperationalError("the database went away")

    signals.asset_created.connect(database_gone, dispatch_uid="test-db-gone")
    try:
        client = token_client(user)
        client.raise_request_exception = False
        response = post_file(client, image_bytes("PNG", size=(33, 33)))
    finally:
        signals.asset_created.disconnect(dispatch_uid="test-db-gone")
    assert response.status_code == 503 and response.json()["code"] == "database_unavailable"
    assert not Asset.all_objects.exists()
    assert s3.keys(s3.test_prefix) == []  # the original and thumbnails stored before the row failed are gone


def test_the_orphan_sweep_removes_what_an_outage_left_after_the_grace_period(s3, user, monkeypatch, settings):
    from botocore.exceptions import EndpointConnectionError
    from django.core.files.storage import default_storage

    client = token_client(user)
    kept = Asset.objects.get(pk=post_file(client, image_bytes("PNG", size=(30, 30))).json()["id"])
    assert client.get(f"/api/assets/{kept.pk}/rendition/?width=16").status_code == 200
    kept_keys = sorted(s3.keys(s3.test_prefix))

    # The store fails after the original was written, and is gone for the cleanup too: an orphan.
    storage = default_storage._wrapped if default_storage._wrapped is not None else default_storage
    real_save = type(storage).save
    calls = {"n": 0}

    def flaky_save(self, name, content, max_length=None):
        calls["n"] += 1
        if calls["n"] > 1:
            raise EndpointConnectionError(endpoint_url=s3.endpoint)
        return real_save(self, name, content, max_length=max_length)

    def no_delete(self, name):
        raise EndpointConnectionError(endpoint_url=s3.endpoint)

    monkeypatch.setattr(type(storage), "save", flaky_save)
    monkeypatch.setattr(type(storage), "delete", no_delete)
    assert_refused_cleanly(post_file(client, image_bytes("PNG", size=(31, 31))), rows=1)
    monkeypatch.undo()
    orphans = sorted(set(s3.keys(s3.test_prefix)) - set(kept_keys))
    assert len(orphans) == 1 and "/originals/" in orphans[0]

    from media.tasks import sweep_storage_orphans

    assert sweep_storage_orphans.apply().result == {"deleted": 0}  # younger than the grace period
    assert settings.CELERY_BEAT_SCHEDULE["sweep-storage-orphans"]["task"] == sweep_storage_orphans.name
    later = timezone.now() + timedelta(hours=settings.STORAGE_ORPHAN_GRACE_HOURS, minutes=5)
    assert storage_orphans_sweep(now=later) == 1
    assert sorted(s3.keys(s3.test_prefix)) == kept_keys  # the asset's files and rendition stay
    asset_delete_trashed = client.delete(f"/api/assets/{kept.pk}/")  # trashed: its files still needed
    assert asset_delete_trashed.status_code == 204
    assert storage_orphans_sweep(now=later) == 0 and sorted(s3.keys(s3.test_prefix)) == kept_keys


def test_the_orphan_sweep_on_local_disk(user, settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from media.services import asset_create

    asset = asset_create(owner=user, file=upload(image_bytes("PNG", size=(20, 20)), "a.png")).asset
    orphan = default_storage.save("originals/ab/abababababababababababababababab.png", ContentFile(b"x"))
    trashed_orphan_free = {asset.file.name, asset.thumbnail_small.name, asset.thumbnail_large.name}
    later = timezone.now() + timedelta(hours=settings.STORAGE_ORPHAN_GRACE_HOURS + 1)
    assert storage_orphans_sweep(now=later) == 1
    assert not default_storage.exists(orphan)
    assert all(default_storage.exists(name) for name in trashed_orphan_free)


def test_tagging_while_the_bucket_is_unreachable_is_retried_not_failed(s3, user, settings):
    from media.models import TaggingStatus
    from tagging.pipeline import TransientError, run_detection
    from testkit.s3 import free_port_pair

    asset_id = post_file(token_client(user), image_bytes("PNG", size=(64, 48))).json()["id"]
    default = settings.STORAGES["default"]
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": {
        **default["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port_pair()}"}}}  # nothing listens there
    with pytest.raises(TransientError):
        run_detection(asset_id=asset_id, task_id="t-outage")
    asset = Asset.objects.get(pk=asset_id)
    assert asset.tagging_status == TaggingStatus.PENDING and "EndpointConnectionError" in asset.tagging_error
