"""The detection pipeline in-process with the real shapes model: storage, decode, detect, write rows."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from PIL import Image

from media.models import Asset, TaggingStatus
from media.services import asset_create
from review import services as review_services
from tagging import services, tasks
from tagging.boxes import Box, DetectedObject
from tagging.model_cache import get_detector
from tagging.models import AssetTag, BulkRequest, BulkToken, Detection, DetectionRun, DetectionSource, ReviewState
from tagging.pipeline import TransientError, run_detection
from testkit.shapes import Scene, three_shapes_scene
from tests.images import exif_block, upload

pytestmark = pytest.mark.django_db


def upload_scene(owner, scene: Scene, *, name: str = "scene.png", fmt: str = "PNG", exif=None) -> Asset:
    buffer = io.BytesIO()
    options = {"exif": exif.tobytes()} if exif is not None else {}
    scene.image.save(buffer, fmt, **options)
    return asset_create(owner=owner, file=upload(buffer.getvalue(), name)).asset


def as_box(coords: tuple[float, float, float, float]) -> Box:
    return Box.from_corners(*coords)


def assert_found_all(asset: Asset, scene: Scene) -> None:
    detections = list(asset.detections.select_related("label"))
    for shape in scene.shapes:
        matches = [d for d in detections if d.label.name == shape.label and d.box.iou(as_box(shape.box)) >= 0.5]
        assert matches, f"{shape.label} at {shape.box} not found in {[(d.label.name, d.box) for d in detections]}"


@pytest.fixture
def scene_asset(user) -> tuple[Asset, Scene]:
    scene = three_shapes_scene()
    return upload_scene(user, scene), scene


def test_tagging_stores_labels_boxes_summary_and_provenance(scene_asset):
    asset, scene = scene_asset
    outcomes = run_detection(asset_id=str(asset.pk), task_id="t-1", worker="test@host")
    assert [o.status for o in outcomes] == ["tagged"]
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.TAGGED and asset.tagging_error == "" and asset.tagged_at
    assert_found_all(asset, scene)

    run = DetectionRun.objects.get(asset=asset)
    assert run.succeeded and run.model_name.startswith("fasterrcnn_tiny")
    assert run.weights.startswith("shapes_detector.pt")
    assert run.device == "cpu" and run.score_threshold == 0.5 and run.worker == "test@host" and run.task_id == "t-1"
    assert run.detection_count == asset.detections.count()
    assert all(d.run_id == run.pk and d.source == DetectionSource.AUTO for d in asset.detections.all())

    for tag in AssetTag.objects.filter(asset=asset).select_related("label"):
        same = asset.detections.filter(label=tag.label)
        assert tag.count == same.count()
        assert tag.confidence == max(d.confidence for d in same)
        assert tag.owner_id == asset.owner_id
        assert 0 < tag.max_area <= 1


def test_running_twice_leaves_one_set_of_detections(scene_asset):
    asset, _ = scene_asset
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    first = sorted((d.label.name, d.box) for d in asset.detections.select_related("label"))
    # A duplicate message for a tagged asset is a no-op...
    assert run_detection(asset_id=str(asset.pk), task_id="t-2")[0].status == "skipped"
    # ...and an explicit re-run replaces, never adds.
    services.tagging_reset(assets=Asset.objects.filter(pk=asset.pk))
    run_detection(asset_id=str(asset.pk), task_id="t-3")
    second = sorted((d.label.name, d.box) for d in asset.detections.select_related("label"))
    assert first == second
    assert AssetTag.objects.filter(asset=asset).count() == len({label for label, _ in second})
    assert DetectionRun.objects.filter(asset=asset).count() == 2


def test_detections_replace_is_idempotent_for_the_same_objects(scene_asset):
    asset, _ = scene_asset
    found = [
        DetectedObject("circle", 0.9, Box(10, 10, 50, 50)),
        DetectedObject("dog", 0.6, Box(1, 2, 3, 4)),
    ]
    info = services.RunInfo(model_name="m")
    services.detections_replace(asset_id=asset.pk, objects=found, info=info)
    services.detections_replace(asset_id=asset.pk, objects=found, info=info)
    assert asset.detections.count() == 2
    assert sorted(asset.tags.values_list("label__name", "count")) == [("circle", 1), ("dog", 1)]


def test_exif_rotated_photo_gets_boxes_on_the_upright_image(user):
    upright = three_shapes_scene(size=(480, 320))
    # Store the pixels rotated 90° counter-clockwise with orientation 6 ("rotate 90° clockwise to view").
    stored = Scene(image=upright.image.transpose(Image.Transpose.ROTATE_90), shapes=upright.shapes)
    asset = upload_scene(user, stored, name="rotated.jpg", fmt="JPEG", exif=exif_block(orientation=6))
    assert (asset.width, asset.height) == (480, 320)
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    assert_found_all(asset, upright)


def test_manual_and_reviewed_detections_survive_retagging(scene_asset):
    asset, _ = scene_asset
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    detections = list(asset.detections.select_related("label").order_by("-confidence"))
    assert len(detections) >= 3
    accepted, rejected = detections[0], detections[1]
    review_services.detection_review(detection=accepted, accept=True)
    review_services.detection_review(detection=rejected, accept=False)
    manual_box = review_services.detection_add_manual(asset=asset, label="Red Ball", box=Box(5, 5, 40, 40))
    manual_tag = review_services.detection_add_manual(asset=asset, label="poster")

    services.tagging_reset(assets=Asset.objects.filter(pk=asset.pk))
    run_detection(asset_id=str(asset.pk), task_id="t-2")

    kept = {d.pk for d in asset.detections.all()}
    assert {accepted.pk, rejected.pk, manual_box.pk, manual_tag.pk} <= kept
    # The reviewed boxes are not doubled (accepted) or brought back (rejected) by the new run.
    for reviewed in (accepted, rejected):
        twins = [d for d in asset.detections.filter(label=reviewed.label).exclude(pk=reviewed.pk)
                 if d.box is not None and d.box.iou(reviewed.box) >= 0.5]
        assert twins == []
    tag_names = set(asset.tags.values_list("label__name", flat=True))
    assert {"red ball", "poster"} <= tag_names
    rejected_label_count = asset.detections.filter(label=rejected.label).exclude(review=ReviewState.REJECTED).count()
    assert asset.tags.filter(label=rejected.label).first() is None or (
        asset.tags.get(label=rejected.label).count == rejected_label_count
    )


def test_corrupt_stored_file_ends_failed_with_a_message(scene_asset, settings):
    asset, _ = scene_asset
    (Path(settings.MEDIA_ROOT) / asset.file.name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    outcomes = run_detection(asset_id=str(asset.pk), task_id="t-1")
    asset.refresh_from_db()
    assert outcomes[0].status == "failed"
    assert asset.tagging_status == TaggingStatus.FAILED
    assert "could not be decoded" in asset.tagging_error and "Upload it again" in asset.tagging_error


def test_missing_stored_file_ends_failed(scene_asset, settings):
    asset, _ = scene_asset
    (Path(settings.MEDIA_ROOT) / asset.file.name).unlink()
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.FAILED and "missing from storage" in asset.tagging_error


def test_image_that_keeps_killing_the_worker_ends_failed(scene_asset, settings):
    asset, _ = scene_asset
    # Each delivery of the same message claims again; a worker that dies leaves the claim behind.
    for _ in range(settings.TAGGING_MAX_ATTEMPTS):
        assert services.tagging_claim(asset_id=asset.pk, task_id="doomed") is not None
    outcomes = run_detection(asset_id=str(asset.pk), task_id="doomed")
    asset.refresh_from_db()
    assert outcomes[0].status == "failed"
    assert asset.tagging_status == TaggingStatus.FAILED
    assert f"Gave up after {settings.TAGGING_MAX_ATTEMPTS} attempts" in asset.tagging_error
    assert asset.detections.count() == 0


def test_another_task_does_not_steal_a_claim(scene_asset):
    asset, _ = scene_asset
    services.tagging_claim(asset_id=asset.pk, task_id="first")
    assert run_detection(asset_id=str(asset.pk), task_id="second")[0].detail == "already processing"


def test_missing_weights_fail_the_asset_and_say_which_command(scene_asset, settings):
    asset, _ = scene_asset
    settings.TAGGING_MODEL = "fasterrcnn_mobilenet_v3_large_fpn"
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.FAILED
    assert "python manage.py download_weights fasterrcnn_mobilenet_v3_large_fpn" in asset.tagging_error


def test_unknown_asset_id_is_skipped():
    assert run_detection(asset_id=str(uuid.uuid4()), task_id="t")[0].detail == "asset deleted"
    assert run_detection(asset_id="../etc", task_id="t")[0].status == "skipped"


# --- the Celery task: retries only for transient errors ---------------------------------------------


def test_transient_error_is_retried_then_succeeds(scene_asset, eager, monkeypatch):
    asset, scene = scene_asset
    detector = get_detector()
    real_detect = detector.detect
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_detect(*args, **kwargs)

    monkeypatch.setattr(detector, "detect", flaky)
    tasks.detect_objects.apply(args=[str(asset.pk)])
    asset.refresh_from_db()
    assert calls["n"] == 2
    assert asset.tagging_status == TaggingStatus.TAGGED and asset.tagging_attempts == 2
    assert_found_all(asset, scene)


def test_hanging_image_hits_the_soft_limit_and_ends_failed(scene_asset, eager, monkeypatch, settings):
    asset, _ = scene_asset
    detector = get_detector()

    def hang(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(detector, "detect", hang)
    tasks.detect_objects.apply(args=[str(asset.pk)])
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.FAILED
    assert asset.tagging_attempts == settings.TAGGING_MAX_ATTEMPTS + 1
    assert "Gave up after 3 attempts" in asset.tagging_error


def test_deterministic_error_fails_at_once_without_retry(scene_asset, eager, monkeypatch):
    asset, _ = scene_asset
    detector = get_detector()
    calls = {"n": 0}

    def broken(*args, **kwargs):
        calls["n"] += 1
        raise RuntimeError("shape mismatch in layer 3")

    monkeypatch.setattr(detector, "detect", broken)
    tasks.detect_objects.apply(args=[str(asset.pk)])
    asset.refresh_from_db()
    assert calls["n"] == 1
    assert asset.tagging_status == TaggingStatus.FAILED
    assert "RuntimeError: shape mismatch in layer 3" in asset.tagging_error


def test_transient_error_before_the_claim_is_retried(scene_asset, eager, monkeypatch):
    asset, _ = scene_asset
    real_claim = services.tagging_claim
    calls = {"n": 0}

    def flaky_claim(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("could not connect to server")
        return real_claim(**kwargs)

    monkeypatch.setattr(services, "tagging_claim", flaky_claim)
    tasks.detect_objects.apply(args=[str(asset.pk)])
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.TAGGED and asset.tagging_attempts == 1


def test_transient_run_error_raises_and_releases_the_claim(scene_asset, monkeypatch):
    asset, _ = scene_asset
    detector = get_detector()
    monkeypatch.setattr(detector, "detect", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("s3 reset")))
    with pytest.raises(TransientError):
        run_detection(asset_id=str(asset.pk), task_id="t-1")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING and "s3 reset" in asset.tagging_error


# --- batching, queueing, sweeping -----------------------------------------------------------------


def test_waiting_assets_share_one_forward_pass(user, settings, monkeypatch):
    settings.TAGGING_BATCH_SIZE = 3
    assets = [upload_scene(user, three_shapes_scene(background=(200 + i, 210, 220)), name=f"{i}.png")
              for i in range(3)]
    detector = get_detector()
    sizes = []
    real_detect = detector.detect

    def spy(images, **kwargs):
        sizes.append(len(images))
        return real_detect(images, **kwargs)

    monkeypatch.setattr(detector, "detect", spy)
    outcomes = run_detection(asset_id=str(assets[0].pk), task_id="t-batch")
    assert sizes == [3]
    assert sorted(o.status for o in outcomes) == ["tagged"] * 3
    assert set(DetectionRun.objects.values_list("batch_size", flat=True)) == {3}
    # The other assets' own messages then find them done.
    assert run_detection(asset_id=str(assets[1].pk), task_id="t-other")[0].detail == "already tagged"


def test_retried_assets_are_never_batched(user, settings):
    settings.TAGGING_BATCH_SIZE = 4
    first, second = (upload_scene(user, three_shapes_scene(background=(200 + i, 210, 220)), name=f"{i}.png")
                     for i in range(2))
    services.tagging_claim(asset_id=first.pk, task_id="again")  # a crashed earlier attempt
    run_detection(asset_id=str(first.pk), task_id="again")
    second.refresh_from_db()
    assert second.tagging_status == TaggingStatus.PENDING


@pytest.fixture
def sent(monkeypatch):
    messages: list[tuple[list, dict, str]] = []

    def fake_apply_async(args=None, kwargs=None, queue=None, **options):
        messages.append((args, kwargs, queue))

    monkeypatch.setattr(tasks.detect_objects, "apply_async", fake_apply_async)
    monkeypatch.setattr(tasks.tag_next, "apply_async", fake_apply_async)  # bulk-lane tokens
    return messages


def test_upload_enqueues_on_the_detection_queue_only_after_commit(user, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        asset = upload_scene(user, three_shapes_scene())
    assert sent == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert sent == [([str(asset.pk)], {}, "detection")]
    asset.refresh_from_db()
    assert asset.tagging_enqueued_at is not None


def test_a_dead_broker_keeps_the_upload_and_the_sweeper_sends_it_later(
    user, settings, monkeypatch, django_capture_on_commit_callbacks, sent
):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to localhost:6379. Connection refused.")

    monkeypatch.setattr(tasks.detect_objects, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        asset = upload_scene(user, three_shapes_scene())
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING and asset.tagging_enqueued_at is None

    monkeypatch.undo()

    def broker_back(args=None, kwargs=None, queue=None, **options):
        sent.append((args, kwargs, queue))

    monkeypatch.setattr(tasks.detect_objects, "apply_async", broker_back)
    assert tasks.tagging_sweep().requeued == 0  # still inside the grace period
    result = tasks.tagging_sweep(now=timezone.now() + timedelta(seconds=settings.TAGGING_UNQUEUED_GRACE + 1))
    assert result.requeued == 1 and sent == [([str(asset.pk)], {}, "detection")]


def test_sweeper_leaves_a_recent_backlog_alone_but_frees_stuck_claims(user, settings, sent):
    waiting = upload_scene(user, three_shapes_scene(background=(1, 2, 3)), name="waiting.png")
    stuck = upload_scene(user, three_shapes_scene(background=(4, 5, 6)), name="stuck.png")
    hopeless = upload_scene(user, three_shapes_scene(background=(7, 8, 9)), name="hopeless.png")
    now = timezone.now()
    Asset.objects.filter(pk=waiting.pk).update(tagging_enqueued_at=now)
    services.tagging_claim(asset_id=stuck.pk, task_id="lost")
    for _ in range(settings.TAGGING_MAX_ATTEMPTS):
        services.tagging_claim(asset_id=hopeless.pk, task_id="crashes")
    later = now + timedelta(seconds=settings.TAGGING_PROCESSING_TIMEOUT + 1)

    result = tasks.tagging_sweep(now=later)

    assert ([str(stuck.pk)], {}, "detection") in sent
    assert ([str(waiting.pk)], {}, "detection") not in sent  # enqueued recently: a backlog, not a loss
    assert result.failed == 1
    hopeless.refresh_from_db()
    stuck.refresh_from_db()
    assert hopeless.tagging_status == TaggingStatus.FAILED and "Gave up after 3 attempts" in hopeless.tagging_error
    assert stuck.tagging_status == TaggingStatus.PENDING


def test_retag_command_filters_and_puts_assets_in_the_bulk_lane(
    user, other_user, sent, capsys, django_capture_on_commit_callbacks
):
    tagged = upload_scene(user, three_shapes_scene(background=(10, 10, 10)), name="a.png")
    failed = upload_scene(user, three_shapes_scene(background=(20, 20, 20)), name="b.png")
    other = upload_scene(other_user, three_shapes_scene(background=(30, 30, 30)), name="c.png")
    services.detections_replace(asset_id=tagged.pk, objects=[DetectedObject("circle", 0.9, Box(1, 1, 20, 20))],
                                info=services.RunInfo(model_name="m"))
    services.tagging_fail(asset_id=failed.pk, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("retag", "--status", "failed", "--chunk", "1")
    # A row in the bulk lane and one token on the bulk queue, no message per asset.
    assert list(BulkRequest.objects.values_list("asset_id", "model")) == [(failed.pk, "")]
    assert sent == [([str(BulkToken.objects.get().pk)], None, "detection-bulk")]
    failed.refresh_from_db()
    assert failed.tagging_status == TaggingStatus.PENDING and failed.tagging_error == ""

    call_command("retag", "--label", "Circle", "--model", "fasterrcnn_resnet50_fpn_v2")
    assert BulkRequest.objects.get(asset=tagged).model == "fasterrcnn_resnet50_fpn_v2"
    tagged.refresh_from_db()
    assert tagged.tagging_status == TaggingStatus.PENDING
    assert tagged.detections.count() == 1  # kept until the new run replaces them

    # Still waiting for its first tagging: it stays in the fresh lane, tagged once.
    call_command("retag", "--owner", other_user.username)
    assert not BulkRequest.objects.filter(asset=other).exists()
    assert "Queued 0 assets for tagging in the bulk lane (1 were already waiting" in capsys.readouterr().out


def test_retag_refuses_an_unknown_model(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown detection model"):
        call_command("retag", "--model", "not_a_model")


# --- the API shows it all ---------------------------------------------------------------------------


def test_api_shows_status_detections_and_summary(api_client, scene_asset):
    asset, scene = scene_asset
    pending = api_client.get(f"/api/assets/{asset.pk}/").json()
    assert pending["status"] == "pending" and pending["detections"] == [] and pending["tags"] == []
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    body = api_client.get(f"/api/assets/{asset.pk}/").json()
    assert body["status"] == "tagged" and body["error"] == ""
    labels = {d["label"] for d in body["detections"]}
    assert {"circle", "square", "triangle"} <= labels
    first = body["detections"][0]
    assert set(first) >= {"label", "confidence", "box", "box_normalized", "source", "reviewed", "model"}
    box, norm = first["box"], first["box_normalized"]
    assert norm["x"] == pytest.approx(box["x"] / asset.width, abs=1e-5)
    assert norm["height"] == pytest.approx(box["height"] / asset.height, abs=1e-5)
    assert first["source"] == "auto" and first["model"].startswith("fasterrcnn_tiny")
    assert {t["label"] for t in body["tags"]} == labels
    assert body["last_run"]["succeeded"] is True
    listing = api_client.get("/api/assets/").json()["results"][0]
    assert listing["detections"] == body["detections"]


def test_failed_status_and_error_are_visible_in_page_and_api(web_client, api_client, scene_asset):
    asset, _ = scene_asset
    services.tagging_fail(asset_id=asset.pk, error="The weights are missing; run download_weights.")
    assert api_client.get(f"/api/assets/{asset.pk}/").json()["error"].startswith("The weights are missing")
    page = web_client.get(f"/assets/{asset.pk}/").content.decode()
    assert "Failed" in page and "run download_weights" in page


def test_detail_page_draws_the_boxes(web_client, scene_asset):
    asset, _ = scene_asset
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    page = web_client.get(f"/assets/{asset.pk}/").content.decode()
    assert page.count('class="box"') == Detection.objects.filter(asset=asset).count()
    assert "circle" in page and "Provenance" in page


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF"])
def test_every_accepted_format_is_decoded_and_tagged(user, fmt):
    scene = three_shapes_scene()
    asset = upload_scene(user, scene, name=f"scene.{fmt.lower()}", fmt=fmt)
    assert run_detection(asset_id=str(asset.pk), task_id="t-1")[0].status == "tagged"
    assert_found_all(asset, scene)


def test_a_retag_requested_during_a_run_is_not_lost(scene_asset):
    asset, _ = scene_asset
    services.tagging_claim(asset_id=asset.pk, task_id="old-run")
    services.tagging_reset(assets=Asset.objects.filter(pk=asset.pk))  # a user asks for a re-tag meanwhile
    found = [DetectedObject("circle", 0.9, Box(10, 10, 50, 50))]
    old_run = services.RunInfo(model_name="m", task_id="old-run")
    services.detections_replace(asset_id=asset.pk, objects=found, info=old_run)
    services.tagging_fail(asset_id=asset.pk, error="late failure", task_id="old-run")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING and asset.tagging_error == ""
    assert asset.detections.count() == 1  # the old run's result is kept until the new one replaces it
    assert run_detection(asset_id=str(asset.pk), task_id="new-run")[0].status == "tagged"


def test_failed_runs_are_recorded_with_their_error(scene_asset, settings):
    asset, _ = scene_asset
    (Path(settings.MEDIA_ROOT) / asset.file.name).write_bytes(b"GIF89a" + b"\x00" * 10)
    run_detection(asset_id=str(asset.pk), task_id="t-1", worker="w@h")
    run = DetectionRun.objects.get(asset=asset)
    assert not run.succeeded and "could not be decoded" in run.error
    assert run.model_name.startswith("fasterrcnn_tiny") and run.worker == "w@h"


def test_object_count_follows_detections_and_reviews(scene_asset):
    asset, _ = scene_asset
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    asset.refresh_from_db()
    found = asset.detections.count()
    assert found >= 3 and asset.object_count == found
    review_services.detection_review(detection=asset.detections.first(), accept=False)
    review_services.detection_add_manual(asset=asset, label="poster")
    asset.refresh_from_db()
    assert asset.object_count == found  # one rejected, one added


def test_relabelling_remembers_what_the_detector_said(scene_asset):
    asset, _ = scene_asset
    run_detection(asset_id=str(asset.pk), task_id="t-1")
    detection = asset.detections.select_related("label").first()
    original = detection.label.name
    review_services.detection_review(detection=detection, accept=True, label="thing one")
    review_services.detection_review(detection=detection, accept=True, label="thing two")
    detection.refresh_from_db()
    assert detection.label.name == "thing two" and detection.suggested_label.name == original
    manual = review_services.detection_add_manual(asset=asset, label="poster")
    review_services.detection_review(detection=manual, accept=True, label="painting")
    manual.refresh_from_db()
    assert manual.suggested_label is None  # a person's own tag has no detector suggestion
