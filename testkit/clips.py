"""Synthetic video clips with known truth, and hostile videos, made with PyAV at run time.

Clips show filled circles, squares and triangles (drawn as in testkit/shapes.py, so the shipped
shapes detector finds them) moving over a gradient background; each shape appears and disappears at
a known time. ``Clip.appearances()`` is the truth a tracker must find. ``encode`` writes H.264 in MP4,
VP9 in WebM and the other codecs we accept.

``hostile_videos()`` are files that must be refused, each with the status, code and a phrase of the
message; nothing binary is checked in, every file is built (or forged byte by byte) here.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

import av
import numpy as np
from PIL import Image, ImageDraw

# codec key -> (PyAV encoder, default container, encoder options)
ENCODERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264": ("libx264", "mp4", {"preset": "ultrafast", "crf": "20"}),
    "hevc": ("libx265", "mp4", {"preset": "ultrafast", "crf": "22", "x265-params": "log-level=error"}),
    "av1": ("libsvtav1", "webm", {"preset": "12", "crf": "30"}),
    "vp8": ("libvpx", "webm", {"deadline": "realtime", "cpu-used": "8", "crf": "8", "b": "2M"}),
    "vp9": ("libvpx-vp9", "webm", {"deadline": "realtime", "cpu-used": "8", "crf": "24", "b": "0"}),
    # Not accepted: MPEG-4 Part 2 (DivX era), for the refusal tests.
    "mpeg4": ("mpeg4", "mp4", {"qscale": "4"}),
}
# container key -> FFmpeg muxer
MUXERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}


@dataclass(frozen=True)
class MovingShape:
    """A shape drawn on frames whose time is in [enter, leave), its centre moving at ``velocity``."""

    label: str  # circle, square, triangle
    enter: float
    leave: float
    start: tuple[float, float]  # centre at ``enter``, pixels
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second
    size: int = 96
    colour: tuple[int, int, int] = (200, 30, 30)

    def visible(self, t: float) -> bool:
        return self.enter <= t < self.leave

    def centre(self, t: float) -> tuple[float, float]:
        dt = t - self.enter
        return self.start[0] + self.velocity[0] * dt, self.start[1] + self.velocity[1] * dt

    def box(self, t: float) -> tuple[float, float, float, float]:
        cx, cy = self.centre(t)
        half = self.size / 2
        bottom = cy + half * (0.87 if self.label == "triangle" else 1.0)
        return cx - half, cy - half, cx + half, bottom

    def draw(self, draw: ImageDraw.ImageDraw, t: float) -> None:
        x1, y1, x2, y2 = self.box(t)
        if self.label == "circle":
            draw.ellipse((x1, y1, x2, y2), fill=self.colour)
        elif self.label == "square":
            draw.rectangle((x1, y1, x2, y2), fill=self.colour)
        else:
            draw.polygon([((x1 + x2) / 2, y1), (x2, y2), (x1, y2)], fill=self.colour)


@dataclass(frozen=True)
class Appearance:
    label: str
    start: float  # time of the first frame showing it
    end: float  # time of the last frame showing it


@dataclass(frozen=True)
class Clip:
    shapes: tuple[MovingShape, ...]
    width: int = 480
    height: int = 320
    fps: float = 10  # 30000 / 1001 for NTSC's 29.97
    duration: float = 6.0
    # Gradient from the first colour (left) to the second (right); after ``cut_at`` the second pair.
    background: tuple[tuple[int, int, int], tuple[int, int, int]] = ((225, 230, 235), (170, 190, 210))
    cut_at: float | None = None
    cut_background: tuple[tuple[int, int, int], tuple[int, int, int]] = ((40, 60, 40), (90, 60, 30))
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def times(self) -> list[float]:
        return [index / self.fps for index in range(self.frame_count)]

    def _background(self, t: float) -> np.ndarray:
        first, second = self.cut_background if self.cut_at is not None and t >= self.cut_at else self.background
        ramp = np.linspace(0.0, 1.0, self.width, dtype=np.float32)[None, :, None]
        row = np.array(first, np.float32) + (np.array(second, np.float32) - np.array(first, np.float32)) * ramp
        return np.broadcast_to(row, (self.height, self.width, 3)).astype(np.uint8)

    def frame(self, index: int) -> np.ndarray:
        t = index / self.fps
        image = Image.fromarray(self._background(t), "RGB")
        draw = ImageDraw.Draw(image)
        for shape in self.shapes:
            if shape.visible(t):
                shape.draw(draw, t)
        return np.asarray(image)

    def appearances(self) -> list[Appearance]:
        """Per shape, the first and last frame times it is drawn on."""
        found = []
        for shape in self.shapes:
            shown = [t for t in self.times() if shape.visible(t)]
            if shown:
                found.append(Appearance(shape.label, shown[0], shown[-1]))
        return found


def three_shapes_clip(**changes: object) -> Clip:
    """6 s at 10 fps, 480×320: a circle crossing the whole time, a square from 1.3 to 4.2 s, a triangle
    from 2.6 s to the end. Start and end times fall between the 2-per-second sampling times on purpose."""
    clip = Clip(
        shapes=(
            MovingShape("circle", 0.0, 6.0, (70, 100), velocity=(50, 0), colour=(200, 30, 30)),
            MovingShape("square", 1.3, 4.2, (400, 230), velocity=(-40, -10), colour=(30, 90, 200)),
            MovingShape("triangle", 2.6, 6.0, (120, 235), velocity=(30, 0), colour=(30, 150, 60)),
        )
    )
    return replace(clip, **changes) if changes else clip  # type: ignore[arg-type]


def returning_clip(**changes: object) -> Clip:
    """A square on screen 0-1.9 s, gone for 2 s, back at 3.9 s: two tracks. A circle stays throughout."""
    clip = Clip(
        shapes=(
            MovingShape("square", 0.0, 1.9, (110, 110), velocity=(20, 0), colour=(30, 90, 200)),
            MovingShape("square", 3.9, 6.0, (150, 110), velocity=(20, 0), colour=(30, 90, 200)),
            MovingShape("circle", 0.0, 6.0, (360, 220), velocity=(-15, 0), colour=(200, 30, 30)),
        )
    )
    return replace(clip, **changes) if changes else clip  # type: ignore[arg-type]


def long_clip(duration: float = 40.0, **changes: object) -> Clip:
    """A slow clip for interrupted runs: a circle drifting the whole time, a square from 10.3 to 30.2 s,
    a triangle from 20.6 s to the end (80 samples at 2 a second)."""
    clip = Clip(
        shapes=(
            MovingShape("circle", 0.0, duration, (70, 100), velocity=(8, 0), colour=(200, 30, 30)),
            MovingShape("square", 10.3, 30.2, (400, 230), velocity=(-8, -2), colour=(30, 90, 200)),
            MovingShape("triangle", 20.6, duration, (120, 235), velocity=(6, 0), colour=(30, 150, 60)),
        ),
        duration=duration,
        fps=5,
    )
    return replace(clip, **changes) if changes else clip  # type: ignore[arg-type]


def encode(
    clip: Clip,
    *,
    codec: str = "h264",
    container: str | None = None,
    rotation: int = 0,
    metadata: dict[str, str] | None = None,
    faststart: bool = False,
    gop_seconds: float = 2.0,
    encoder_options: dict[str, str] | None = None,
) -> bytes:
    """The clip encoded as ``codec`` in ``container`` (default: MP4 for H.264/HEVC, WebM otherwise).

    ``rotation`` (degrees counter-clockwise) writes a display matrix: the frames are stored as drawn
    and a player turns them. ``faststart`` puts the MP4 index first, as phones and web encoders do.
    ``encoder_options`` override the defaults (which favour speed: no B-frames for H.264).
    """
    encoder, default_container, options = ENCODERS[codec]
    container = container or default_container
    with tempfile.TemporaryDirectory() as folder:
        # MP4 faststart rewrites the file at the end, which needs a real file.
        path = os.path.join(folder, f"clip.{container}")
        muxer_options = {"movflags": "+faststart"} if faststart else {}
        with av.open(path, "w", format=MUXERS[container], options=muxer_options) as output:
            if metadata:
                output.metadata.update(metadata)
            rate = Fraction(clip.fps).limit_denominator(1001)
            stream = output.add_stream(encoder, rate=rate)
            stream.width, stream.height = clip.width, clip.height
            stream.pix_fmt = "yuv420p"
            stream.options = {**options, "g": str(max(1, round(gop_seconds * clip.fps))), **(encoder_options or {})}
            if rotation:
                stream.set_display_rotation(rotation)
            for index in range(clip.frame_count):
                frame = av.VideoFrame.from_ndarray(clip.frame(index), format="rgb24")
                frame.pts = index
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    output.mux(packet)
            for packet in stream.encode():
                output.mux(packet)
        with open(path, "rb") as handle:
            return handle.read()


def audio_only(container: str = "mp4", seconds: float = 1.0) -> bytes:
    """A tone with no picture: AAC in MP4 (an .m4a) or Opus in WebM."""
    codec = "aac" if container in ("mp4", "mov") else "libopus"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=MUXERS[container]) as output:
        stream = output.add_stream(codec, rate=48000, layout="mono")
        samples = stream.codec_context.frame_size or 960
        pts = 0
        for _ in range(math.ceil(seconds * 48000 / samples)):
            wave = np.sin(np.arange(pts, pts + samples) * 2 * math.pi * 440 / 48000).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(wave[None, :], format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48000, pts
            pts += samples
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def header_only(container: str = "webm") -> bytes:
    """A container with a declared video stream and not a single frame."""
    buffer = io.BytesIO()
    encoder, _, _ = ENCODERS["h264" if container in ("mp4", "mov", "mkv") else "vp9"]
    output = av.open(buffer, "w", format=MUXERS[container])
    stream = output.add_stream(encoder, rate=10)
    stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
    output.start_encoding()
    output.close()
    return buffer.getvalue()


def _small_clip(**changes: object) -> Clip:
    return three_shapes_clip(width=320, height=256, duration=2.0, **changes)


def absurd_dimensions() -> bytes:
    """A VP8 WebM whose header and keyframes claim 16383×16383 (268 megapixels); the real frames are 320×256."""
    data = bytearray(encode(_small_clip(), codec="vp8"))
    position = 0
    while (found := data.find(b"\x9d\x01\x2a", position)) >= 0:  # VP8 keyframe start code, then 14-bit sizes
        data[found + 3: found + 7] = struct.pack("<HH", 16383, 16383)
        position = found + 7
    for element in (b"\xb0\x82", b"\xba\x82"):  # Matroska PixelWidth / PixelHeight, 2-byte values
        at = data.find(element)
        data[at + 2: at + 4] = struct.pack(">H", 16383)
    return bytes(data)


def huge_declared_duration() -> bytes:
    """A WebM whose segment duration says 31 years and whose track duration tag says 99 hours."""
    data = bytearray(encode(_small_clip(), codec="vp9"))
    at = data.find(b"\x44\x89")  # Segment Info Duration, a float in milliseconds
    size = data[at + 2] & 0x7F
    data[at + 3: at + 3 + size] = struct.pack(">d" if size == 8 else ">f", 1e12)
    tag = data.find(b"00:00:02.0")
    data[tag: tag + 8] = b"99:59:59"
    return bytes(data)


def huge_sample_duration() -> bytes:
    """An MP4 of 20 frames whose last frame is muxed 50 hours after the others: the sample table says
    the video lasts 50 hours, as a broken camera or a hostile tool could write it."""
    clip = _small_clip()
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=clip.fps)
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "bf": "0"}
        packets = []
        for index in range(clip.frame_count):
            packets += stream.encode(av.VideoFrame.from_ndarray(clip.frame(index), format="rgb24"))
        packets += stream.encode()
        last = packets[-1]
        last.pts = last.dts = int(50 * 3600 / last.time_base)  # (the muxer caps a frame at 2^31 ticks)
        for packet in packets:
            output.mux(packet)
    return buffer.getvalue()


@dataclass(frozen=True)
class HostileVideo:
    name: str
    data: bytes
    status: int
    code: str
    phrase: str  # part of the message, lower case
    note: str


def hostile_videos() -> list[HostileVideo]:
    """Videos that must each be refused, with nothing stored."""
    mp4 = encode(_small_clip(), codec="h264")
    fast = encode(_small_clip(), codec="h264", faststart=True)
    webm = encode(_small_clip(), codec="vp9")
    return [
        HostileVideo("truncated.mp4", mp4[: len(mp4) // 2], 400, "corrupt_video", "could not be read",
                     "index (moov) at the end, cut off"),
        HostileVideo("truncated-faststart.mp4", fast[: len(fast) * 2 // 3], 400, "corrupt_video", "truncated",
                     "index first, a third of the frames missing"),
        HostileVideo("truncated.webm", webm[: len(webm) // 2], 400, "corrupt_video", "truncated",
                     "second half missing"),
        HostileVideo("header-only.webm", header_only("webm"), 400, "corrupt_video", "could not be read",
                     "a video track and zero frames"),
        HostileVideo("zero-frames.mp4", header_only("mp4"), 415, "no_video_stream", "no video stream",
                     "an MP4 with an empty movie box"),
        HostileVideo("absurd.webm", absurd_dimensions(), 413, "too_many_pixels", "megapixels",
                     "header claims 16383×16383"),
        HostileVideo("song.mp4", audio_only("mp4"), 415, "no_video_stream", "only audio", "AAC, no picture"),
        HostileVideo("song.webm", audio_only("webm"), 415, "no_video_stream", "only audio", "Opus, no picture"),
        HostileVideo("divx.mp4", encode(_small_clip(), codec="mpeg4"), 415, "unsupported_codec", "mpeg4",
                     "MPEG-4 Part 2, a codec we do not take"),
        HostileVideo("notes.mp4", b"These are my notes, not a film.\n" * 20, 415, "unsupported_format",
                     "mp4, mov, webm or mkv video", "a text file renamed"),
        HostileVideo("forever.webm", huge_declared_duration(), 413, "video_too_long", "limit",
                     "declares 99 hours"),
        HostileVideo("forever.mp4", huge_sample_duration(), 413, "video_too_long", "limit",
                     "its last frame comes 50 hours in"),
    ]


def expected_tracks(clip: Clip) -> list[Appearance]:
    return clip.appearances()


def within(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance + 1e-6


def sample_times(duration: float, fps: float) -> Sequence[float]:
    return [k / fps for k in range(math.ceil(duration * fps))]
