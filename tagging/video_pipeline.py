"""Tagging one video in the worker: read the stored file, sample, detect, track, checkpoint, store tracks.

Called by ``tagging.pipeline.run_detection`` for a claimed video (never batched with other assets).
Progress is saved as ``tagging.video.detect_video``'s JSON checkpoint (``VideoProgress``) every
``VIDEO_CHECKPOINT_SECONDS``: a worker that is killed, hits the soft time limit or loses the database
resumes from there next time instead of starting over. A run also stops by itself after
``VIDEO_RUN_SECONDS`` (below the soft time limit), saves its checkpoint, gives the claim back and sends
the video to the queue again, so a long video is tagged in slices that each fit the worker's limits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from media.models import Asset
from media.stored import stored_file_seekable
from media.video import VideoRejected
from tagging import services
from tagging.detector import Detector
from tagging.model_cache import batch_size_for
from tagging.tracking import TrackerConfig
from tagging.video import VideoResult, detect_video

logger = logging.getLogger(__name__)


class SliceDone(Exception):
    """This run used its time slice; the checkpoint is saved and the video goes back to the queue."""


def tracker_config() -> TrackerConfig:
    return TrackerConfig(max_gap=settings.VIDEO_TRACK_MAX_GAP, min_hits=settings.VIDEO_TRACK_MIN_HITS)


def _video_provenance(result: VideoResult | None, *, batch: int) -> dict[str, Any]:
    info: dict[str, Any] = {
        "sample_fps": settings.VIDEO_SAMPLE_FPS,
        "scene_cuts": settings.VIDEO_SCENE_CUTS,
        "tracker": tracker_config().as_dict(),
        "batch_size": batch,
    }
    if result is not None:
        info.update(
            samples=result.samples,
            sampled_until=result.sampled_until,
            resumed_from=result.resumed_from,
            frames_decoded=result.frames_decoded,
            decode_seconds=result.decode_seconds,
            detect_seconds=result.detect_seconds,
        )
    return info


def _checkpoint_for(asset: Asset, detector: Detector) -> dict[str, Any] | None:
    saved = services.video_checkpoint_get(asset_id=asset.pk)
    if saved is None or saved.get("model") != detector.weights_identity:
        return None  # other weights (or none saved): their detections must not mix with ours
    return saved


def run_video(
    *, asset: Asset, detector: Detector, info: services.RunInfo, on_continue: Any
) -> tuple[str, str]:
    """Tag ``asset`` (a claimed video). Returns (status, detail): tagged, skipped, continued or failed.

    Raises the pipeline's transient errors (database, storage, soft time limit) for the caller to retry.
    ``on_continue`` is called with the asset id when a slice ends and the video must be sent again.
    """
    batch = batch_size_for(detector)
    started = time.monotonic()
    task_id = info.task_id

    def save(checkpoint: dict[str, Any]) -> None:
        checkpoint["model"] = detector.weights_identity
        if not services.video_checkpoint_save(asset_id=asset.pk, task_id=task_id, checkpoint=checkpoint):
            raise SliceDone("claim lost")  # reset for re-tagging or taken over: stop working for nothing
        if time.monotonic() - started >= settings.VIDEO_RUN_SECONDS:
            raise SliceDone("time slice used")

    def fail(message: str) -> tuple[str, str]:
        failed = replace(info, video=_video_provenance(None, batch=batch))
        services.tagging_fail(asset_id=asset.pk, error=message, task_id=task_id, info=failed)
        return "failed", message

    try:
        with stored_file_seekable(asset.file.name) as source:
            result = detect_video(
                detector,
                source,
                sample_fps=settings.VIDEO_SAMPLE_FPS,
                batch_size=batch,
                checkpoint=_checkpoint_for(asset, detector),
                on_checkpoint=save,
                checkpoint_every=settings.VIDEO_CHECKPOINT_SECONDS,
                tracker_config=tracker_config(),
                scene_cuts=settings.VIDEO_SCENE_CUTS,
                max_pixels=settings.VIDEO_MAX_PIXELS,
            )
    except SliceDone as stop:
        if str(stop) == "claim lost":
            return "skipped", "claim superseded"
        if services.tagging_release(asset_id=asset.pk, task_id=task_id, error=""):
            on_continue(asset.pk)
        return "continued", "time slice used; checkpoint saved"
    except FileNotFoundError:
        return fail("The original file is missing from storage. Upload the video again.")
    except VideoRejected as rejected:
        return fail(f"The stored video could not be read ({rejected.message}). Upload it again.")
    tracks = [
        services.TrackData(
            label=track.label,
            start=track.start,
            end=track.end,
            confidence=track.max_confidence,
            mean_confidence=track.mean_confidence,
            boxes=[[p.t, p.box.x, p.box.y, p.box.width, p.box.height, p.confidence] for p in track.points],
        )
        for track in result.tracks
    ]
    done = replace(
        info,
        batch_size=batch,
        started_at=info.started_at or timezone.now(),
        duration_ms=int((time.monotonic() - started) * 1000),
        video=_video_provenance(result, batch=batch),
    )
    run = services.tracks_replace(asset_id=asset.pk, tracks=tracks, info=done)
    return ("tagged" if run else "skipped"), f"{len(tracks)} tracks from {result.samples} samples"
