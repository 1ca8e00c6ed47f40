"""COCO imports at scale: duplicates found in linear work, a cap of boxes per asset, and large
documents handed to a worker as a job the client polls (the real worker: tests/system/test_coco_jobs.py)."""

from __future__ import annotations

import random

import pytest

from integrations.models import CocoImportJob
from media.services import asset_create
from tagging.box_index import NearBoxIndex
from tagging.boxes import Box
from tagging.models import Detection
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.images import image_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]

SIDE = 2000


def brute_duplicates(items: list[tuple[str, Box | None]], min_iou: float) -> list[bool]:
    """The quadratic rule the index replaces: compare with every box kept so far."""
    kept: list[tuple[str, Box | None]] = []
    verdicts = []
    for label, box in items:
        duplicate = any(
            label == other_label
            and ((box is None and other is None) or (box is not None and other is not None
                                                     and box.iou(other) >= min_iou))
            for other_label, other in kept
        )
        verdicts.append(duplicate)
        if not duplicate:
            kept.append((label, box))
    return verdicts


@pytest.mark.parametrize("min_iou", [0.9, 0.75, 0.5])
def test_the_index_finds_exactly_the_duplicates_the_quadratic_rule_finds(min_iou):
    rng = random.Random(13)
    for _ in range(40):
        seeds = [Box(rng.randint(0, 300), rng.randint(0, 300), rng.randint(1, 150), rng.randint(1, 150))
                 for _ in range(30)]
        items: list[tuple[str, Box | None]] = []
        for _ in range(150):
            seed = rng.choice(seeds)
            jitter = [rng.randint(-8, 8) for _ in range(4)]
            box = Box(max(0, seed.x + jitter[0]), max(0, seed.y + jitter[1]), max(1, seed.width + jitter[2]),
                      max(1, seed.height + jitter[3])) if rng.random() < 0.95 else None
            items.append((rng.choice(["dog", "cat"]), box))
        index = NearBoxIndex(min_iou=min_iou)
        verdicts = []
        for label, box in items:
            verdicts.append(index.has_near(label, box))
            if not verdicts[-1]:
                index.add(label, box)
        assert verdicts == brute_duplicates(items, min_iou)


def six_thousand_boxes() -> dict:
    """6,000 boxes of three labels on one 2000×2000 image: a dense grid, neighbours overlapping."""
    annotations = []
    for n in range(6000):
        row, column = divmod(n, 80)
        annotations.append({"id": n + 1, "image_id": 1, "category_id": 1 + n % 3,
                            "bbox": [column * 24, row * 24, 30 + n % 7, 30 + n % 5]})
    return {
        "images": [{"id": 1, "file_name": "crowd.png", "width": SIDE, "height": SIDE}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": annotations,
    }


@pytest.fixture
def crowd(user):
    return asset_create(owner=user, file=upload(image_bytes("PNG", size=(SIDE, SIDE)), "crowd.png")).asset


@pytest.fixture
def iou_calls(monkeypatch) -> list[int]:
    calls = [0]
    real = Box.iou

    def counted(self: Box, other: Box) -> float:
        calls[0] += 1
        return real(self, other)

    monkeypatch.setattr(Box, "iou", counted)
    return calls


def test_six_thousand_boxes_on_one_asset_import_in_linear_work(api_client, crowd, settings, iou_calls):
    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 100_000  # in the request, to count its work here
    document = six_thousand_boxes()
    first = api_client.post("/api/import/coco/", document, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 6000 and first.json()["duplicates"] == 0
    # Comparing each box with every earlier one is 6000 * 5999 / 2 = 18 million IoUs; the index needs a
    # few per box (its grid neighbours of the same label).
    assert iou_calls[0] < 10 * 6000, iou_calls[0]

    iou_calls[0] = 0
    again = api_client.post("/api/import/coco/", document, format="json").json()
    assert (again["created"], again["duplicates"]) == (0, 6000)
    assert iou_calls[0] < 10 * 6000, iou_calls[0]
    assert Detection.objects.filter(asset=crowd).count() == 6000


def test_an_asset_over_the_box_cap_is_refused_clearly_and_nothing_is_written(api_client, crowd, settings):
    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 100_000
    settings.COCO_IMPORT_MAX_BOXES_PER_ASSET = 5999
    response = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "too_many_boxes"
    assert "6000 detections" in body["detail"] and "at most 5999" in body["detail"]
    assert "COCO_IMPORT_MAX_BOXES_PER_ASSET" in body["detail"] and "crowd.png" in body["detail"]
    assert Detection.objects.count() == 0

    # The cap counts what the asset has: 6,000 more boxes elsewhere on it would make 12,000.
    settings.COCO_IMPORT_MAX_BOXES_PER_ASSET = 8000
    assert api_client.post("/api/import/coco/", six_thousand_boxes(), format="json").status_code == 200
    moved = six_thousand_boxes()
    for annotation in moved["annotations"]:
        annotation["bbox"][0] += 12  # half a cell over: no longer duplicates
    response = api_client.post("/api/import/coco/", moved, format="json")
    assert response.status_code == 400 and response.json()["code"] == "too_many_boxes"
    assert "12000 detections" in response.json()["detail"]
    assert Detection.objects.count() == 6000
    # Sending the same document again adds nothing and stays within the cap.
    again = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json")
    assert again.status_code == 200 and again.json()["duplicates"] == 6000


def test_a_large_import_is_a_job_to_poll_and_only_its_owner_sees_it(api_client, crowd, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 1000
    sent = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json")
    sent += callbacks
    assert response.status_code == 202, response.content
    job = response.json()
    assert response["Location"] == job["url"] == f"/api/import/coco/jobs/{job['id']}/"
    assert (job["state"], job["annotations"], job["to_write"], job["progress"]) == ("queued", 6000, 6000, 0)
    assert job["result"] is None and Detection.objects.count() == 0  # nothing written in the request
    assert len(sent) == 1  # the worker is told once the job is committed

    polled = api_client.get(job["url"])
    assert polled.status_code == 200 and polled.json()["state"] == "queued"
    stranger = token_client(UserFactory(username="mallory"))
    assert stranger.get(job["url"]).status_code == 404
    assert api_client.get("/api/import/coco/jobs/not-a-uuid/").status_code == 404

    # A bad large document is refused in the request, like a small one: no job.
    broken = six_thousand_boxes()
    broken["annotations"][5000]["bbox"] = [1, 2, 3]
    refused = api_client.post("/api/import/coco/", broken, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_coco"
    assert "annotations[5000].bbox" in refused.json()["detail"]
    assert CocoImportJob.objects.count() == 1


def test_a_job_runs_to_done_with_its_progress_and_result(api_client, crowd, settings):
    from integrations.coco_jobs import coco_job_run

    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 1000
    job = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json").json()
    coco_job_run(job_id=job["id"])  # what the worker's task calls
    done = api_client.get(job["url"]).json()
    assert (done["state"], done["progress"], done["error"]) == ("done", 6000, "")
    assert done["result"]["created"] == 6000 and done["finished_at"]
    assert CocoImportJob.objects.get(pk=job["id"]).document is None  # not kept once written
    assert coco_job_run(job_id=job["id"]) is None  # a finished job is not run again


def test_lost_messages_are_sent_again_and_dead_jobs_end_with_what_to_do(api_client, crowd, settings, monkeypatch):
    """The sweeper: a queued job nobody ran is sent again; a job whose worker died past its time limit
    ends "stopped"; a second message never runs a job that is running; its own redelivery resumes it."""
    from datetime import timedelta

    from django.utils import timezone

    from integrations import tasks
    from integrations.coco_jobs import coco_job_run, coco_jobs_sweep

    settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS = 1000
    resent: list[list] = []
    monkeypatch.setattr(tasks.import_coco, "apply_async", lambda args=None, **kw: resent.append(args))
    lost = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json").json()
    assert coco_jobs_sweep().resent == 0 and resent == []  # within the grace its message may still come
    later = timezone.now() + timedelta(seconds=settings.COCO_IMPORT_SWEEP_GRACE + 1)
    assert coco_jobs_sweep(now=later).resent == 1 and resent == [[lost["id"]]]

    # Two messages for one job: the first runs it, the second (another task id) finds it running.
    CocoImportJob.objects.filter(pk=lost["id"]).update(state="running", started_at=timezone.now(), task_id="first")
    assert coco_job_run(job_id=lost["id"], task_id="second") is None
    # The first message delivered again after its worker died resumes it (its boxes count as duplicates).
    resumed = coco_job_run(job_id=lost["id"], task_id="first")
    assert resumed is not None and resumed.state == "done" and resumed.result["created"] == 6000

    # A job whose worker died and that nobody resumed within the time limit ends with what to do.
    dead = api_client.post("/api/import/coco/", six_thousand_boxes(), format="json").json()
    limit = settings.COCO_IMPORT_TIME_LIMIT + 61 + settings.COCO_IMPORT_SWEEP_GRACE
    long_ago = timezone.now() - timedelta(seconds=limit)
    CocoImportJob.objects.filter(pk=dead["id"]).update(state="running", started_at=long_ago, task_id="gone")
    assert coco_job_run(job_id=dead["id"], task_id="gone") is None  # past its time: not resumed
    assert coco_jobs_sweep().stopped == 1
    ended = api_client.get(dead["url"]).json()
    assert ended["state"] == "failed" and "sending the document again adds the rest" in ended["error"]
    assert CocoImportJob.objects.get(pk=dead["id"]).document is None
    assert Detection.objects.count() == 6000  # only the finished job's boxes
    assert settings.CELERY_BEAT_SCHEDULE["sweep-coco-imports"]["task"] == tasks.sweep_coco_imports.name
    assert tasks.sweep_coco_imports() == {"resent": 0, "stopped": 0}  # the beat task runs the sweep
