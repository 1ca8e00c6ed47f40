"""A large COCO import through the API, written by a real Celery worker process: 202, then the job
polled until done, its progress and result, the detections on the asset."""

from __future__ import annotations

import time

import pytest

from integrations.models import CocoImportJob
from media.services import asset_create
from tagging.models import Detection
from tests.images import image_bytes, upload
from tests.integrations.test_coco_scale import SIDE, six_thousand_boxes


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_import_is_written_by_the_worker_and_polled_to_done(api_client, user, worker, worker_media, settings,
                                                                     fresh_throttle_history):
    settings.MEDIA_ROOT = worker_media
    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 1000
    asset = asset_create(owner=user, file=upload(image_bytes("PNG", size=(SIDE, SIDE)), "crowd.png")).asset

    response = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json")
    assert response.status_code == 202, response.content
    url = response["Location"]
    seen = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = api_client.get(url).json()
        seen.append(job["state"])
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["state"] == "done", (job, worker.log)
    assert seen[0] in ("queued", "running")  # the request did not write it
    assert job["progress"] == job["to_write"] == 6000
    assert job["result"]["created"] == 6000 and job["result"]["matched_images"] == 1
    assert job["started_at"] and job["finished_at"]
    assert Detection.objects.filter(asset=asset).count() == 6000
    assert CocoImportJob.objects.get(pk=job["id"]).document is None
    assert "integrations.tasks.import_coco" in worker.log, worker.log
