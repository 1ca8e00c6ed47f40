"""The video path of the pipeline in-process with the real shapes model: tracks stored, summary, time
slices that resume from their checkpoint, broken stored files, attempts, no batching with images."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from media.models import Asset, AssetKind, TaggingStatus
from media.services import asset_create
from tagging import services
from tagging.models import AssetTag, DetectionRun, Track, VideoProgress
from tagging.pipeline import run_detection
from testkit.clips import encode, header_only, returning_clip, three_shapes_clip
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db
STEP = 0.5  # one sampling step at the default 2 samples a second


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return encode(three_shapes_clip(), codec="h264")


def upload_video(owner, data: bytes, name: str = "clip.mp4") -> Asset:
    asset = asset_create(owner=owner, file=upload(data, name)).asset
    assert asset.kind == AssetKind.VIDEO
    return asset


def assert_tracks_match(asset: Asset, clip) -> None:
    tracks = list(Track.objects.filter(asset=asset).select_related("label"))
    truth = clip.appearances()
    assert Counter(t.label.name for t in tracks) == Counter(a.label for a in truth), tracks
    for item in truth:
        track = min((t for t in tracks if t.label.name == item.label), key=lambda t: abs(t.start - item.start))
        assert abs(track.start - item.start) <= STEP + 1e-6 and abs(track.end - item.end) <= STEP + 1e-6, (
            item, track.start, track.end)


def test_a_video_is_tagged_with_tracks_a_summary_and_provenance(user, mp4):
    asset = upload_video(user, mp4)
    [outcome] = run_detection(asset_id=str(asset.pk), task_id="v-1", worker="test@host")
    assert outcome.status == "tagged", outcome.detail
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.TAGGED
    assert_tracks_match(asset, three_shapes_clip())
    track = Track.objects.filter(asset=asset, label__name="circle").get()
    assert len(track.boxes) == 12 and 0.5 <= track.mean_confidence <= track.confidence <= 1
    assert all(len(row) == 6 and row[3] > 0 and row[4] > 0 for row in track.boxes)
    tags = {t.label.name: (t.count, t.confidence) for t in AssetTag.objects.filter(asset=asset).select_related("label")}
    assert set(tags) == {"circle", "square", "triangle"} and all(count == 1 for count, _ in tags.values())
    assert tags["circle"][1] == track.confidence
    assert asset.object_count == 3
    run = DetectionRun.objects.get(asset=asset)
    assert run.succeeded and run.detection_count == 3
    assert run.video["sample_fps"] == 2.0 and run.video["samples"] == 12 and run.video["resumed_from"] is None
    assert run.video["tracker"]["max_gap"] == 1.5 and run.video["scene_cuts"] is True
    assert not VideoProgress.objects.filter(asset=asset).exists()


def test_a_shape_that_returns_is_two_tracks_and_counts_once(user):
    clip = returning_clip()
    asset = upload_video(user, encode(clip, codec="vp9"), "back.webm")
    run_detection(asset_id=str(asset.pk), task_id="v-2")
    assert_tracks_match(asset, clip)
    assert Track.objects.filter(asset=asset, label__name="square").count() == 2
    assert AssetTag.objects.get(asset=asset, label__name="square").count == 1  # never two at once


def test_time_slices_resume_from_the_checkpoint_and_tag_once(user, mp4, settings, sent):
    settings.VIDEO_CHECKPOINT_SECONDS = 0  # every batch
    settings.VIDEO_RUN_SECONDS = 0.1  # stop after the first checkpoint
    asset = upload_video(user, mp4)
    [first] = run_detection(asset_id=str(asset.pk), task_id="v-3a")
    assert first.status == "continued"
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING and sent == [[str(asset.pk)]]
    progress = VideoProgress.objects.get(asset=asset)
    assert 0 < progress.samples < 12 and progress.checkpoint["after"] >= 0
    assert not Track.objects.filter(asset=asset).exists()

    settings.VIDEO_RUN_SECONDS = 1000
    [second] = run_detection(asset_id=str(asset.pk), task_id="v-3b")
    assert second.status == "tagged", second.detail
    assert_tracks_match(asset, three_shapes_clip())
    run = DetectionRun.objects.get(asset=asset, succeeded=True)
    assert run.video["resumed_from"] == progress.checkpoint["after"] and run.video["samples"] == 12
    assert Track.objects.filter(asset=asset).count() == 3
    assert not VideoProgress.objects.filter(asset=asset).exists()


def test_a_checkpoint_from_other_weights_is_not_used(user, mp4, settings, sent):
    settings.VIDEO_CHECKPOINT_SECONDS = 0
    settings.VIDEO_RUN_SECONDS = 0.1
    asset = upload_video(user, mp4)
    run_detection(asset_id=str(asset.pk), task_id="v-4a")
    VideoProgress.objects.filter(asset=asset).update(checkpoint={
        **VideoProgress.objects.get(asset=asset).checkpoint, "model": "some other weights"})
    settings.VIDEO_RUN_SECONDS = 1000
    run_detection(asset_id=str(asset.pk), task_id="v-4b")
    run = DetectionRun.objects.get(asset=asset, succeeded=True)
    assert run.video["resumed_from"] is None and run.video["samples"] == 12


@pytest.mark.parametrize(
    ("name", "replacement", "phrase"),
    [
        ("truncated", "half", "could not be read"),
        ("header only", "header", "could not be read"),
        ("text", "text", "could not be read"),
    ],
)
def test_a_broken_stored_video_ends_failed_with_a_message(user, mp4, name, replacement, phrase):
    asset = upload_video(user, mp4)
    data = {"half": mp4[: len(mp4) // 2], "header": header_only("mp4"), "text": b"not a film\n" * 50}[replacement]
    Path(default_storage.path(asset.file.name)).write_bytes(data)  # the stored copy went bad later
    [outcome] = run_detection(asset_id=str(asset.pk), task_id="v-5")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.FAILED and outcome.status == "failed"
    assert "video" in asset.tagging_error and "Upload it again" in asset.tagging_error, asset.tagging_error
    assert not Track.objects.filter(asset=asset).exists() and not AssetTag.objects.filter(asset=asset).exists()
    failed_run = DetectionRun.objects.get(asset=asset)
    assert not failed_run.succeeded and failed_run.video["sample_fps"] == 2.0


def test_a_missing_video_file_ends_failed(user, mp4):
    asset = upload_video(user, mp4)
    default_storage.delete(asset.file.name)
    run_detection(asset_id=str(asset.pk), task_id="v-6")
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.FAILED and "missing" in asset.tagging_error


def test_a_video_that_keeps_killing_its_worker_ends_failed_at_the_attempt_limit(user, mp4, settings):
    asset = upload_video(user, mp4)
    Asset.objects.filter(pk=asset.pk).update(tagging_attempts=settings.TAGGING_MAX_ATTEMPTS)
    [outcome] = run_detection(asset_id=str(asset.pk), task_id="v-7")
    asset.refresh_from_db()
    assert outcome.status == "failed" and asset.tagging_status == TaggingStatus.FAILED
    assert f"Gave up after {settings.TAGGING_MAX_ATTEMPTS} attempts" in asset.tagging_error


def test_progress_resets_the_attempt_count(user, mp4, settings, sent):
    settings.VIDEO_CHECKPOINT_SECONDS = 0
    settings.VIDEO_RUN_SECONDS = 0.1
    asset = upload_video(user, mp4)
    Asset.objects.filter(pk=asset.pk).update(tagging_attempts=settings.TAGGING_MAX_ATTEMPTS - 1)
    run_detection(asset_id=str(asset.pk), task_id="v-8")
    asset.refresh_from_db()
    assert asset.tagging_attempts == 1  # it moved forward: not a poison file


def test_videos_are_not_batched_with_images(user, mp4, settings):
    settings.TAGGING_BATCH_SIZE = 8
    image = asset_create(owner=user, file=upload(image_bytes("PNG"), "a.png")).asset
    video = upload_video(user, mp4)
    claimed = services.tagging_claim_batch(task_id="b-1", limit=7, exclude=image.pk)
    assert video.pk not in [a.pk for a in claimed]


def test_stored_file_helper_copies_when_storage_has_no_local_file(settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import InMemoryStorage

    from media.stored import stored_file_seekable

    storage = InMemoryStorage()
    name = storage.save("v.bin", ContentFile(b"0123456789" * 300_000))
    settings.VAR_DIR = tmp_path
    with stored_file_seekable(name, storage=storage) as handle:
        assert handle.fileno() >= 0  # a real temporary file, not the storage's object
        handle.seek(2_999_990)
        assert handle.read() == b"0123456789"
        copy = Path(handle.name)
        assert copy.parent == tmp_path / "tmp"
    assert not copy.exists()
