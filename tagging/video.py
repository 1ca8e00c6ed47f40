"""Detect and track objects through a video: sample frames, detect in batches, link boxes into tracks.

The worker runs it through ``tagging.video_pipeline`` (no Django here): the caller opens the stored
file and persists what comes back. Long videos checkpoint: ``on_checkpoint`` receives a JSON-ready
dict every ``checkpoint_every`` seconds of work; passing the last one back as ``checkpoint`` continues
from that sample with the same open tracks, so a killed worker resumes instead of restarting, and the
tracks come out exactly as in one uninterrupted run.

Memory stays bounded whatever the length: one decoded frame, ``batch_size`` images at the detector's
input size, and the tracks themselves (a few numbers per object per sample). No Django imports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from PIL import Image

from media.video import VideoLimits
from media.video_frames import SampledFrame, SamplingStats, sample_frames
from tagging.boxes import DetectedObject
from tagging.tracking import Track, Tracker, TrackerConfig, most_at_once

logger = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
DEFAULT_SAMPLE_FPS = 2.0


class FrameDetector(Protocol):
    """What detect_video needs of ``tagging.detector.Detector``."""

    def input_size_for(self, width: int, height: int) -> tuple[int, int]: ...

    def detect(
        self, images: Sequence[Image.Image], *, original_sizes: Sequence[tuple[int, int]] | None = None
    ) -> list[list[DetectedObject]]: ...


@dataclass(frozen=True)
class VideoResult:
    tracks: list[Track]
    samples: int  # frames analysed, over all runs when resumed
    sampled_until: float  # time of the last analysed frame, seconds
    sample_fps: float
    scene_cuts: bool
    tracker: dict[str, float | int]  # the tracker's settings, for provenance
    resumed_from: float | None  # the checkpoint's time when this run resumed one
    decode_seconds: float  # this run only
    detect_seconds: float
    frames_decoded: int  # this run only

    @property
    def label_counts(self) -> dict[str, int]:
        """Per label, the most objects on screen at once (a video's "count" of that tag)."""
        return most_at_once(self.tracks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracks": [track.as_dict() for track in self.tracks],
            "samples": self.samples,
            "sampled_until": self.sampled_until,
            "sample_fps": self.sample_fps,
            "scene_cuts": self.scene_cuts,
            "tracker": self.tracker,
            "label_counts": self.label_counts,
        }


def _usable(checkpoint: dict[str, Any] | None, *, sample_fps: float, scene_cuts: bool, config: TrackerConfig) -> bool:
    if not checkpoint:
        return False
    same = (
        checkpoint.get("version") == CHECKPOINT_VERSION
        and checkpoint.get("sample_fps") == sample_fps
        and checkpoint.get("scene_cuts") == scene_cuts
        and checkpoint.get("tracker", {}).get("config") == config.as_dict()
    )
    if not same:
        logger.warning("video checkpoint made with other settings; starting from the beginning")
    return same


def detect_video(
    detector: FrameDetector,
    source: IO[bytes],
    *,
    sample_fps: float = DEFAULT_SAMPLE_FPS,
    batch_size: int = 1,
    checkpoint: dict[str, Any] | None = None,
    on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
    checkpoint_every: float = 15.0,
    tracker_config: TrackerConfig | None = None,
    scene_cuts: bool = True,
    max_pixels: int = VideoLimits.max_pixels,
    decode_threads: int = 0,
) -> VideoResult:
    """Tracks of the objects ``detector`` finds in the video ``source`` (a seekable binary file).

    Frames are sampled at ``sample_fps`` (plus scene cuts), detected ``batch_size`` at a time at the
    detector's input size, with boxes in upright full-frame pixels, and linked by ``Tracker``.
    ``on_checkpoint`` is called after a batch when ``checkpoint_every`` seconds (wall clock; 0 = every
    batch) have passed since the last one; a checkpoint from other settings is ignored (start over).
    Raises media.video.VideoRejected when the file cannot be read or decoded.
    """
    config = tracker_config or TrackerConfig()
    samples = 0
    resumed_from: float | None = None
    start_index, after = 0, None
    if _usable(checkpoint, sample_fps=sample_fps, scene_cuts=scene_cuts, config=config):
        assert checkpoint is not None
        tracker = Tracker.from_state(checkpoint["tracker"], config)
        start_index, after = int(checkpoint["resume_index"]), float(checkpoint["after"])
        samples = int(checkpoint["samples"])
        resumed_from = after
    else:
        tracker = Tracker(config)
    stats = SamplingStats()
    sampler = sample_frames(
        source,
        fps=sample_fps,
        max_pixels=max_pixels,
        size_for=detector.input_size_for,
        start_index=start_index,
        after=after,
        scene_cuts=scene_cuts,
        decode_threads=decode_threads,
        stats=stats,
    )
    decode_seconds = detect_seconds = 0.0
    last_checkpoint = time.monotonic()
    last_t = after if after is not None else 0.0
    batch: list[SampledFrame] = []
    try:
        while True:
            started = time.monotonic()
            sample = next(sampler, None)
            decode_seconds += time.monotonic() - started
            if sample is not None:
                batch.append(sample)
            if batch and (sample is None or len(batch) >= batch_size):
                started = time.monotonic()
                found = detector.detect([s.image for s in batch], original_sizes=[s.original_size for s in batch])
                detect_seconds += time.monotonic() - started
                for item, objects in zip(batch, found, strict=True):
                    tracker.update(item.t, objects, scene_cut=item.scene_cut)
                    item.image.close()
                samples += len(batch)
                last = batch[-1]
                last_t = last.t
                batch = []
                if on_checkpoint is not None and sample is not None and (
                    time.monotonic() - last_checkpoint >= checkpoint_every
                ):
                    on_checkpoint(
                        {
                            "version": CHECKPOINT_VERSION,
                            "sample_fps": sample_fps,
                            "scene_cuts": scene_cuts,
                            "resume_index": last.resume_index,
                            "after": last.t,
                            "samples": samples,
                            "tracker": tracker.state(),
                        }
                    )
                    last_checkpoint = time.monotonic()
            if sample is None:
                break
    finally:
        sampler.close()
    return VideoResult(
        tracks=tracker.finish(),
        samples=samples,
        sampled_until=last_t,
        sample_fps=sample_fps,
        scene_cuts=scene_cuts,
        tracker=config.as_dict(),
        resumed_from=resumed_from,
        decode_seconds=round(decode_seconds, 3),
        detect_seconds=round(detect_seconds, 3),
        frames_decoded=stats.decoded,
    )
