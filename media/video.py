"""Decide whether an upload is a video we accept and read its facts (frames: media.video_frames).

Library: PyAV (the ``av`` package). Its wheels ship their own FFmpeg build (H.264, HEVC, AV1 through
dav1d, VP8 and VP9 decoders; x264, x265, SVT-AV1 and libvpx encoders for the test clips), so no system
FFmpeg is needed; it opens Python file objects (storage files, Django uploads) without a local path;
and it is maintained with FFmpeg's releases. OpenCV would add a 60 MB dependency that cannot open file
objects; imageio-ffmpeg pipes through an ffmpeg subprocess.

Safety: the container is recognised from its first bytes and then opened with that demuxer only
(``mov`` or ``matroska``), never by FFmpeg's guessing, so playlists (HLS), concat lists and the
hundred other formats FFmpeg reads are never parsed; the mov demuxer's external references stay off.
Frame size, frame rate and duration are checked from the header before anything is decoded, and the
decoder refuses frames over the pixel limit itself (``max_pixels``), whatever the header said.

No Django imports: limits are passed in, as in ``media.imaging``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import IO

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from media.imaging import _HEIF_BRANDS, ACCEPTED_VIDEO_CONTAINERS

# Our container key -> (format name stored on the asset, MIME type, file extension, FFmpeg demuxer).
CONTAINERS: dict[str, tuple[str, str, str, str]] = {
    "mp4": ("MP4", "video/mp4", "mp4", "mov"),
    "mov": ("MOV", "video/quicktime", "mov", "mov"),
    "webm": ("WEBM", "video/webm", "webm", "matroska"),
    "mkv": ("MKV", "video/x-matroska", "mkv", "matroska"),
}
# Canonical FFmpeg codec names we decode (AV1 may be decoded by dav1d; its canonical name is still av1).
ACCEPTED_CODECS: dict[str, str] = {"h264": "H.264", "hevc": "HEVC", "av1": "AV1", "vp8": "VP8", "vp9": "VP9"}
ACCEPTED_VIDEO_DESCRIPTION = f"{ACCEPTED_VIDEO_CONTAINERS} video (H.264, HEVC, AV1, VP8 or VP9)"

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# QuickTime files from before the ftyp box start straight with one of these atoms.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
# ISO base media brands that are still images, handled (or refused) by media.imaging.
_IMAGE_BRANDS = (*_HEIF_BRANDS, b"avif", b"avis")
# Video missing at the end beyond this (plus two frames) counts as truncation: tight when the header
# gives the video track's own duration, loose when only the container's (audio may run longer).
_TRUNCATION_TOLERANCE_S = {True: 0.1, False: 1.0}


class VideoRejected(Exception):
    """The content is not a video this site accepts. ``code`` is stable; the message is for people."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class VideoLimits:
    max_pixels: int = 8192 * 4320
    max_seconds: float = 1800.0
    max_fps: float = 240.0


@dataclass(frozen=True)
class VideoInfo:
    format: str  # "MP4", "MOV", "WEBM", "MKV"
    mime_type: str
    extension: str
    codec: str  # canonical FFmpeg name: h264, hevc, av1, vp8, vp9
    width: int  # upright: the container's rotation applied
    height: int
    rotation: int  # degrees counter-clockwise the decoded frames are turned to be upright: 0, 90, 180, 270
    fps: float  # average frame rate
    duration: float  # seconds, measured from the first to the end of the last video packet
    frame_count: int  # from the header where it says, else duration × fps
    has_audio: bool
    taken_at: datetime | None
    camera: str
    taken_offset: int | None = None  # minutes east of UTC on the camera's clock, when the file says


def sniff_container(head: bytes) -> str | None:
    """``"mp4"``, ``"mov"``, ``"webm"`` or ``"mkv"`` from a file's first bytes (64 are plenty), else None."""
    if head.startswith(_EBML_MAGIC):
        # The EBML header names its DocType in the first few dozen bytes.
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    return None


def is_video(head: bytes) -> bool:
    return sniff_container(head) is not None


# --- opening ------------------------------------------------------------------------------------


def _read_head(source: IO[bytes]) -> bytes:
    source.seek(0)
    head = source.read(64)
    source.seek(0)
    return head


@contextmanager
def open_video(source: IO[bytes], *, max_pixels: int) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open ``source`` with the demuxer its first bytes name; yield the container and its main video stream.

    Raises VideoRejected for anything that is not a readable video of ours.
    """
    head = _read_head(source)
    if not head:
        raise VideoRejected("empty_file", "The file is empty.")
    kind = sniff_container(head)
    if kind is None:
        raise VideoRejected(
            "unsupported_format",
            f"The file is not an {ACCEPTED_VIDEO_DESCRIPTION} (its content was not recognised).",
            status=415,
        )
    demuxer = CONTAINERS[kind][3]
    try:
        container = av.open(
            source,
            mode="r",
            format=demuxer,
            # Reaches the decoders that stream probing opens, so a lying header cannot make it
            # allocate a giant frame.
            options={"max_pixels": str(max_pixels)},
            container_options={"enable_drefs": "0"} if demuxer == "mov" else None,
            metadata_errors="replace",
        )
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError) as error:
        raise VideoRejected(
            "corrupt_video",
            f"The video could not be read: it is truncated, empty or damaged ({error_text(error)}).",
        ) from None
    try:
        stream = _main_video_stream(container)
        if stream.codec_context is None:
            raise VideoRejected(
                "unsupported_codec",
                f"The video is coded in a format this server cannot decode. Convert it to "
                f"{', '.join(ACCEPTED_CODECS.values())} (for example H.264 in MP4).",
                status=415,
            )
        stream.codec_context.options = {"max_pixels": str(max_pixels)}
        yield container, stream
    finally:
        container.close()


def error_text(error: BaseException) -> str:
    text = str(getattr(error, "strerror", None) or error).strip() or type(error).__name__
    return text[:200]


def _main_video_stream(container: InputContainer) -> VideoStream:
    videos = [
        stream
        for stream in container.streams.video
        # A cover picture stored as a one-frame "video" stream is not a video.
        if not (int(stream.disposition) & int(Disposition.attached_pic))
    ]
    if videos:
        return videos[0]
    audio = [stream.codec_context.name for stream in container.streams.audio if stream.codec_context]
    if audio:
        raise VideoRejected(
            "no_video_stream",
            f"The file holds only audio ({', '.join(sorted(set(audio)))}), no pictures. Upload a video or an image.",
            status=415,
        )
    if container.streams.video:
        raise VideoRejected(
            "no_video_stream", "The file holds only a cover picture, no video. Upload the picture itself.", status=415
        )
    raise VideoRejected(
        "no_video_stream",
        "The file holds no video stream (it is empty, or carries only subtitles or attachments).",
        status=415,
    )


# --- probing ------------------------------------------------------------------------------------


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def declared_duration(container: InputContainer, stream: VideoStream) -> tuple[float | None, bool]:
    """Seconds the header gives, and whether they are the video track's own (else the container's,
    which may include a longer audio track)."""
    seconds = _seconds(stream.duration, stream.time_base)
    if seconds is None:
        tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
        match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", (tag or "").strip())
        if match:
            seconds = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
    own = seconds is not None
    if seconds is None and container.duration is not None:
        seconds = container.duration / av.time_base
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None, False
    return seconds, own


def average_frame_rate(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0:
            return float(rate)
    return None


def stream_start_pts(stream: VideoStream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def frame_rotation(frame: VideoFrame) -> int:
    """FFmpeg's display-matrix angle (counter-clockwise) rounded to a quarter turn, as 0..270."""
    try:
        angle = float(frame.rotation or 0)
    except (TypeError, ValueError):
        return 0
    return int(round(angle / 90.0)) % 4 * 90


def turn_upright(image: Image.Image, rotation: int) -> Image.Image:
    if rotation == 90:
        return image.transpose(Image.Transpose.ROTATE_90)
    if rotation == 180:
        return image.transpose(Image.Transpose.ROTATE_180)
    if rotation == 270:
        return image.transpose(Image.Transpose.ROTATE_270)
    return image


def first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame | None:
    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, OSError, ValueError, EOFError, MemoryError) as error:
        raise VideoRejected(
            "corrupt_video", f"The first frame of the video could not be decoded ({error_text(error)})."
        ) from None
    return None


def _measured_end(container: InputContainer, stream: VideoStream, declared: float | None) -> float | None:
    """Seconds from the stream start to the end of the last video packet: jumps to the last keyframe
    and reads the packets after it, without decoding."""
    time_base = stream.time_base
    start = stream_start_pts(stream)
    target = start + int((declared or 0) / time_base) + int(10 / time_base)
    try:
        container.seek(target, stream=stream, backward=True)
    except (av.error.FFmpegError, OSError, ValueError):
        container.seek(0, stream=stream, backward=True)
    end: float | None = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            packet_end = float((packet.pts - start + (packet.duration or 0)) * time_base)
            end = packet_end if end is None else max(end, packet_end)
    except (av.error.FFmpegError, OSError, ValueError, EOFError):
        pass  # the data stops early: what was read so far is the answer
    return end


def _taken_at(metadata: dict[str, str]) -> datetime | None:
    value = metadata.get("creation_time") or metadata.get("com.apple.quicktime.creationdate") or ""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.year < 1971:  # QuickTime writes 1904-01-01 for "unknown"
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _taken_offset(metadata: dict[str, str]) -> int | None:
    """Phones write their local time with its offset in the QuickTime creation date; creation_time
    is UTC by definition and says nothing about the camera's zone."""
    value = metadata.get("com.apple.quicktime.creationdate") or ""
    try:
        offset = datetime.fromisoformat(value.strip()).utcoffset()
    except ValueError:
        return None
    return int(offset.total_seconds() // 60) if offset is not None else None


def _camera(metadata: dict[str, str]) -> str:
    make = metadata.get("com.apple.quicktime.make") or metadata.get("com.android.manufacturer") or ""
    model = metadata.get("com.apple.quicktime.model") or metadata.get("com.android.model") or ""
    make, model = ("".join(ch for ch in text if ch.isprintable()).strip() for text in (make, model))
    if make and model.lower().startswith(make.lower()):
        return model[:255]
    return " ".join(part for part in (make, model) if part)[:255]


def _human_duration(seconds: float) -> str:
    if seconds >= 86400 * 2:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:,.1f} hours"
    if seconds >= 120:
        return f"{seconds / 60:,.1f} minutes"
    return f"{seconds:.1f} s"


def probe_video(source: IO[bytes], *, limits: VideoLimits) -> VideoInfo:
    """Identify, bound and check a video; decode only its first frame.

    Raises VideoRejected naming the problem: 415 ``unsupported_format`` (not a container we read),
    415 ``no_video_stream`` (audio only, cover picture only), 415 ``unsupported_codec``,
    400 ``corrupt_video`` (unreadable, truncated, no decodable frame), 413 ``too_many_pixels``,
    413 ``frame_rate_too_high``, 413 ``video_too_long``.
    """
    kind = sniff_container(_read_head(source))
    with open_video(source, max_pixels=limits.max_pixels) as (container, stream):
        format_name, mime_type, extension, _ = CONTAINERS[kind or ""]
        codec_context = stream.codec_context
        codec = codec_context.codec.canonical_name if codec_context is not None else ""
        if codec not in ACCEPTED_CODECS:
            raise VideoRejected(
                "unsupported_codec",
                f"The video is coded as {codec or 'an unknown codec'}, which is not accepted. "
                f"Convert it to {', '.join(ACCEPTED_CODECS.values())} (for example H.264 in MP4).",
                status=415,
            )
        width, height = codec_context.width, codec_context.height
        if width < 1 or height < 1:
            raise VideoRejected("corrupt_video", "The video's header gives no frame size.")
        _check_pixels(width, height, limits)
        fps = average_frame_rate(stream)
        if fps is None:
            raise VideoRejected("corrupt_video", "The video's header gives no frame rate.")
        if fps > limits.max_fps:
            raise VideoRejected(
                "frame_rate_too_high",
                f"The video runs at {fps:,.0f} frames per second; the limit is {limits.max_fps:g}. "
                "Convert it to a lower frame rate.",
                status=413,
            )
        declared, own_duration = declared_duration(container, stream)
        if declared is not None and declared > limits.max_seconds:
            raise VideoRejected(
                "video_too_long",
                f"The video lasts {_human_duration(declared)} (as its header says); the limit is "
                f"{_human_duration(limits.max_seconds)}. Cut it into shorter parts.",
                status=413,
            )
        first = first_frame(container, stream)
        if first is None:
            raise VideoRejected(
                "corrupt_video", "The video has no frame that can be decoded: it is truncated or damaged."
            )
        _check_pixels(first.width, first.height, limits)
        rotation = frame_rotation(first)
        coded_width, coded_height = first.width, first.height
        measured = _measured_end(container, stream, declared)
        if measured is None:
            raise VideoRejected(
                "corrupt_video", "The video is truncated: the packets its header lists are not in the file."
            )
        frame_time = 1.0 / fps
        if declared is not None and measured < declared - _TRUNCATION_TOLERANCE_S[own_duration] - 2 * frame_time:
            raise VideoRejected(
                "corrupt_video",
                f"The video is truncated: its header says {_human_duration(declared)} but the file "
                f"ends after {_human_duration(measured)}. Upload the complete file.",
            )
        duration = max(measured, frame_time)
        if duration > limits.max_seconds:
            raise VideoRejected(
                "video_too_long",
                f"The video lasts {_human_duration(duration)}; the limit is {_human_duration(limits.max_seconds)}. "
                "Cut it into shorter parts.",
                status=413,
            )
        frame_count = stream.frames if stream.frames and stream.frames > 0 else max(1, round(duration * fps))
        metadata = {**container.metadata, **stream.metadata}
        upright_width, upright_height = (
            (coded_height, coded_width) if rotation in (90, 270) else (coded_width, coded_height)
        )
        return VideoInfo(
            format=format_name,
            mime_type=mime_type,
            extension=extension,
            codec=codec,
            width=upright_width,
            height=upright_height,
            rotation=rotation,
            fps=round(fps, 3),
            duration=round(duration, 3),
            frame_count=int(frame_count),
            has_audio=bool(container.streams.audio),
            taken_at=_taken_at(metadata),
            camera=_camera(metadata),
            taken_offset=_taken_offset(metadata),
        )


def _check_pixels(width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise VideoRejected(
            "too_many_pixels",
            f"The video's frames are {width}×{height} = {width * height / 1e6:.1f} megapixels; the limit is "
            f"{limits.max_pixels / 1e6:.1f} megapixels (8K). Downscale it and upload again.",
            status=413,
        )
