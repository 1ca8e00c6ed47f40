"""Frames out of a video: a poster frame, and frames sampled through time for detection.

Opens files through ``media.video.open_video``, so the same demuxer restrictions and pixel limit
apply. No Django imports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import IO

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from media.video import (
    VideoRejected,
    average_frame_rate,
    declared_duration,
    error_text,
    first_frame,
    frame_rotation,
    open_video,
    stream_start_pts,
    turn_upright,
)


def _fit(width: int, height: int, longest: int | None) -> tuple[int, int]:
    if not longest or max(width, height) <= longest:
        return width, height
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_to_image(frame: VideoFrame, *, size: tuple[int, int] | None = None) -> Image.Image:
    """The frame as an upright RGB image, scaled (in one swscale pass) to ``size`` given upright."""
    rotation = frame_rotation(frame)
    if size is None:
        image = frame.to_image()
    else:
        width, height = size
        if rotation in (90, 270):
            width, height = height, width
        image = frame.to_image(width=width, height=height, interpolation="AREA")
    return turn_upright(image, rotation)


def _brightness(frame: VideoFrame) -> tuple[float, float]:
    small = frame.reformat(width=32, height=18, format="gray", interpolation="AREA").to_ndarray()
    return float(small.mean()), float(small.std())


def poster_frame(
    source: IO[bytes], *, duration: float, max_pixels: int, max_side: int | None = 1024
) -> Image.Image:
    """A representative frame as an upright RGB image no larger than ``max_side``.

    The first frame at 10 % of the video that is not nearly black or flat (fades, slates); then 25,
    50 and 75 %; if all are dark, the one at 10 %. Each try costs one seek and at most one keyframe
    interval of decoding.
    """
    fallback: VideoFrame | None = None
    with open_video(source, max_pixels=max_pixels) as (container, stream):
        time_base = stream.time_base
        start = stream_start_pts(stream)
        for fraction in (0.1, 0.25, 0.5, 0.75):
            target = duration * fraction
            frame = _frame_at(container, stream, start + int(target / time_base), time_base)
            if frame is None:
                continue
            mean, spread = _brightness(frame)
            if mean > 24 and spread > 6:
                return frame_to_image(frame, size=_upright_fit(frame, max_side))
            fallback = fallback or frame
        if fallback is None:
            container.seek(start, stream=stream, backward=True)
            fallback = first_frame(container, stream)
        if fallback is None:
            raise VideoRejected("corrupt_video", "The video has no frames that can be decoded.")
        return frame_to_image(fallback, size=_upright_fit(fallback, max_side))


def _upright_fit(frame: VideoFrame, longest: int | None) -> tuple[int, int]:
    width, height = frame.width, frame.height
    if frame_rotation(frame) in (90, 270):
        width, height = height, width
    return _fit(width, height, longest)


def _frame_at(container: InputContainer, stream: VideoStream, pts: int, time_base: Fraction) -> VideoFrame | None:
    """The first frame at or after ``pts`` (the last one when the video ends before)."""
    try:
        container.seek(pts, stream=stream, backward=True)
        last = None
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= pts:
                return frame
            last = frame
        return last
    except (av.error.FFmpegError, OSError, ValueError, EOFError):
        return None


def _decode_near_grid(
    container: InputContainer, stream: VideoStream, *, step: float, frame_time: float, start_pts: int
) -> Iterator[VideoFrame]:
    """Decoded frames, skipping non-reference frames away from every grid time k × step.

    The choice depends only on each packet's own time, never on how far sampling got, so a resumed
    run decodes exactly the frames the first run decoded after its checkpoint.
    """
    context = stream.codec_context
    time_base = stream.time_base
    for packet in container.demux(stream):
        if packet.pts is not None:
            t = float((packet.pts - start_pts) * time_base)
            offset = t - math.floor(t / step) * step  # time since the last grid time
            # The picked frame is the first at or after (grid - half a frame): keep a margin either side.
            near = offset <= 3 * frame_time or step - offset <= 2 * frame_time
            context.skip_frame = "DEFAULT" if near else "NONREF"
        yield from stream.decode(packet)


@dataclass
class SamplingStats:
    """Filled in by sample_frames as it goes: what sampling cost."""

    decoded: int = 0  # frames decoded
    converted: int = 0  # frames converted to RGB (the samples)
    seeks: int = 0


@dataclass(frozen=True)
class SampledFrame:
    """One frame picked for analysis.

    ``t`` is seconds from the start of the video (what a player's currentTime shows); ``image`` is
    upright RGB; ``scene_cut`` marks the first sample after a cut; ``resume_index`` is the sampling
    grid index to continue from after this sample (see ``sample_frames``).
    """

    t: float
    image: Image.Image
    scene_cut: bool
    resume_index: int
    original_size: tuple[int, int]  # upright width, height of the full frame


def sample_frames(
    source: IO[bytes],
    *,
    fps: float = 2.0,
    max_pixels: int,
    size_for: Callable[[int, int], tuple[int, int]] | None = None,
    start_index: int = 0,
    after: float | None = None,
    scene_cuts: bool = True,
    cut_threshold: float = 30.0,
    seek_gap: float = 4.0,
    decode_threads: int = 0,
    skip_nonref: bool = True,
    stats: SamplingStats | None = None,
) -> Iterator[SampledFrame]:
    """Frames at ``fps`` per second (grid times k / fps, each the first frame at or after its time,
    within half a frame), plus the first frame after each scene cut when no grid sample is near.

    Decodes what is needed only: frames are converted to RGB (and scaled to ``size_for(upright
    width, height)`` in the same pass) only when picked; when the next grid time is more than
    ``seek_gap`` seconds ahead, it seeks to the keyframe before it instead of decoding through. A
    scene cut is a frame whose 32×18 grey thumbnail differs from the previous frame's by more than
    ``cut_threshold`` (mean absolute difference, 0-255); that thumbnail is the only per-frame cost.
    With ``skip_nonref``, frames that nothing references (most B-frames) are not even decoded unless
    they lie within a few frames of a grid time, so the picked frames are the ones full decoding
    would pick.
    ``decode_threads`` > 0 turns on frame threading with that many threads (0: FFmpeg's default).

    Resume with ``start_index`` (a sample's ``resume_index``) and ``after`` (its ``t``): sampling
    restarts exactly where it stopped, with the same frames. Memory: one decoded frame plus the
    yielded image.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    stats = stats if stats is not None else SamplingStats()
    step = 1.0 / fps
    with open_video(source, max_pixels=max_pixels) as (container, stream):
        if decode_threads:
            # Frame and slice threads: phone videos have one slice per frame, so slice threads alone do little.
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = decode_threads
        time_base = stream.time_base
        start_pts = stream_start_pts(stream)
        half_frame = 0.5 / (average_frame_rate(stream) or 30.0)
        declared_end = declared_duration(container, stream)[0]
        index = start_index
        previous_thumb: np.ndarray | None = None
        cut_pending = False
        last_yielded = after if after is not None else -math.inf
        seek_to: float | None = after if after is not None else (index * step if index > 0 else None)
        position = -math.inf  # time of the last decoded frame
        no_seek_for = -1  # a grid index whose seek did not move forward: decode through instead
        while True:
            check_progress = False
            if seek_to is not None:
                # A little before the frame we need, so the frame before it is decoded too (scene cuts).
                container.seek(
                    start_pts + int(max(seek_to - 2 * half_frame, 0.0) / time_base), stream=stream, backward=True
                )
                previous_thumb = None
                seek_to = None
                check_progress = True
                stats.seeks += 1
            try:
                frames = (
                    _decode_near_grid(container, stream, step=step, frame_time=2 * half_frame, start_pts=start_pts)
                    if skip_nonref
                    else container.decode(stream)
                )
                for frame in frames:
                    if frame.pts is None:
                        continue
                    t = float((frame.pts - start_pts) * time_base)
                    stats.decoded += 1
                    if check_progress:
                        check_progress = False
                        if t <= position:
                            no_seek_for = index
                    position = t
                    is_cut = False
                    if scene_cuts:
                        thumb = frame.reformat(width=32, height=18, format="gray", interpolation="AREA").to_ndarray()
                        if previous_thumb is not None:
                            difference = np.abs(thumb.astype(np.int16) - previous_thumb.astype(np.int16)).mean()
                            is_cut = float(difference) > cut_threshold
                        previous_thumb = thumb
                    # ``after`` comes back rounded (SampledFrame.t): frames are never this close otherwise.
                    if t <= last_yielded + min(1e-3, half_frame):
                        continue
                    cut_pending = cut_pending or is_cut
                    grid_time = index * step
                    # The grid time is reached, or a cut far from it gets a sample of its own.
                    if t >= grid_time - half_frame or (is_cut and grid_time - t > step / 2):
                        while index * step <= t + half_frame:
                            index += 1
                        width, height = frame.width, frame.height
                        if frame_rotation(frame) in (90, 270):
                            width, height = height, width
                        image = frame_to_image(frame, size=size_for(width, height) if size_for else None)
                        stats.converted += 1
                        last_yielded = t
                        yield SampledFrame(
                            t=round(t, 4),
                            image=image,
                            scene_cut=cut_pending,
                            resume_index=index,
                            original_size=(width, height),
                        )
                        cut_pending = False
                    elif declared_end is not None and grid_time > declared_end - half_frame:
                        return  # the next grid time is past the end: nothing left to pick
                    elif grid_time - t > seek_gap and index != no_seek_for:
                        seek_to = grid_time
                        break
            except (av.error.FFmpegError, OSError, ValueError, EOFError) as error:
                raise VideoRejected(
                    "corrupt_video",
                    f"The video could not be decoded after {max(position, 0):.1f} s ({error_text(error)}).",
                ) from None
            if seek_to is None:
                return
