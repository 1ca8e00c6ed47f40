"""Through the real parts: API upload → broker (Redis in CI) → a real Celery worker process with the
real torchvision shapes model → detections in the real database (PostgreSQL in CI)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from media.models import Asset, TaggingStatus
from tagging.boxes import Box
from tagging.models import DetectionRun
from tagging.services import tagging_reset
from tagging.tasks import tagging_enqueue, tagging_sweep
from testkit.shapes import three_shapes_scene
from testkit.worker_process import REPO, current_database_url
from tests.images import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_media(settings, worker_media):
    settings.MEDIA_ROOT = worker_media
    return worker_media


def wait_for(asset_id, statuses=(TaggingStatus.TAGGED, TaggingStatus.FAILED), timeout: float = 120) -> Asset:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset = Asset.objects.get(pk=asset_id)
        if asset.tagging_status in statuses:
            return asset
        time.sleep(0.3)
    raise TimeoutError(f"asset {asset_id} still {asset.tagging_status} after {timeout} s")


def scene_png(**kwargs) -> tuple[bytes, list]:
    scene = three_shapes_scene(**kwargs)
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    return buffer.getvalue(), scene.shapes


def test_upload_is_tagged_by_a_real_worker(api_client, worker, shared_media):
    data, shapes = scene_png()
    response = api_client.post("/api/assets/", {"file": upload(data, "shapes.png")}, format="multipart")
    assert response.status_code == 201
    asset = wait_for(response.json()["id"])
    assert asset.tagging_status == TaggingStatus.TAGGED, f"{asset.tagging_error}\n{worker.log}"

    detections = list(asset.detections.select_related("label"))
    for shape in shapes:
        truth = Box.from_corners(*shape.box)
        assert any(d.label.name == shape.label and d.box.iou(truth) >= 0.5 for d in detections), (
            shape, [(d.label.name, d.box, d.confidence) for d in detections])
    run = DetectionRun.objects.get(asset=asset)
    assert run.worker.startswith("e2e-") and run.device == "cpu" and run.duration_ms is not None

    body = api_client.get(f"/api/assets/{asset.pk}/").json()
    assert body["status"] == "tagged"
    assert {"circle", "square", "triangle"} <= {d["label"] for d in body["detections"]}
    # Which database the worker wrote to is the one CI asks for.
    expected_vendor = "postgresql" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
    assert connection.vendor == expected_vendor


def test_duplicate_messages_and_retag_leave_one_set(api_client, worker, shared_media):
    data, _ = scene_png(background=(240, 240, 200))
    asset_id = api_client.post("/api/assets/", {"file": upload(data, "again.png")}, format="multipart").json()["id"]
    first = wait_for(asset_id)
    assert first.tagging_status == TaggingStatus.TAGGED, worker.log
    baseline = sorted((d.label_id, d.x, d.y, d.width, d.height) for d in first.detections.all())

    # Two more messages for the same asset, then a real re-tag with two messages racing.
    tagging_enqueue(asset_ids=[asset_id, asset_id])
    tagging_reset(assets=Asset.objects.filter(pk=asset_id))
    tagging_enqueue(asset_ids=[asset_id, asset_id])
    final = wait_for(asset_id)
    time.sleep(2)  # let any straggling duplicate run
    final.refresh_from_db()
    assert final.tagging_status == TaggingStatus.TAGGED
    assert sorted((d.label_id, d.x, d.y, d.width, d.height) for d in final.detections.all()) == baseline
    assert DetectionRun.objects.filter(asset_id=asset_id, succeeded=True).count() == 2


UPLOAD_WITH_DEAD_BROKER = """
import json, os, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username=sys.argv[1]))
with open(sys.argv[2], "rb") as handle:
    started = time.monotonic()
    response = client.post("/api/assets/", {"file": handle})
print(json.dumps({"status": response.status_code, "seconds": time.monotonic() - started, "body": response.json()}))
"""


def test_upload_while_the_broker_is_down_is_kept_and_tagged_once_it_is_back(
    user, worker, shared_media, tmp_path, settings
):
    data, shapes = scene_png(background=(200, 220, 240))
    photo = tmp_path / "outage.png"
    photo.write_bytes(data)
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",  # nothing listens there: the broker is down
        "MEDIA_ROOT": str(shared_media),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "DJANGO_SETTINGS_MODULE": "assetsite.settings",
    }
    result = subprocess.run([sys.executable, "-c", UPLOAD_WITH_DEAD_BROKER, user.username, str(photo)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 201 and outcome["body"]["status"] == "pending"
    assert outcome["seconds"] < 10
    asset = Asset.objects.get(pk=outcome["body"]["id"])
    assert asset.tagging_enqueued_at is None

    # The broker is back (this process's broker is the real one): the sweeper sends it, the worker tags it.
    swept = tagging_sweep(now=timezone.now() + timedelta(seconds=settings.TAGGING_UNQUEUED_GRACE + 1))
    assert swept.requeued == 1
    tagged = wait_for(asset.pk)
    assert tagged.tagging_status == TaggingStatus.TAGGED, worker.log
    assert {"circle", "square", "triangle"} <= set(tagged.tags.values_list("label__name", flat=True))
