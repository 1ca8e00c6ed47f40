"""media.video and media.video_frames: recognising, bounding and reading videos, poster frames, sampling."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pytest

from media.video import VideoLimits, VideoRejected, probe_video, sniff_container
from media.video_frames import SamplingStats, poster_frame, sample_frames
from testkit.clips import Clip, MovingShape, encode, hostile_videos, three_shapes_clip

LIMITS = VideoLimits()


def small_clip(**changes: object) -> Clip:
    return three_shapes_clip(width=320, height=256, duration=2.0, **changes)


@pytest.mark.parametrize(
    ("codec", "container", "fmt", "mime"),
    [
        ("h264", "mp4", "MP4", "video/mp4"),
        ("h264", "mov", "MOV", "video/quicktime"),
        ("h264", "mkv", "MKV", "video/x-matroska"),
        ("hevc", "mp4", "MP4", "video/mp4"),
        ("av1", "mp4", "MP4", "video/mp4"),
        ("av1", "webm", "WEBM", "video/webm"),
        ("vp8", "webm", "WEBM", "video/webm"),
        ("vp9", "webm", "WEBM", "video/webm"),
    ],
)
def test_each_accepted_codec_and_container_is_read(codec, container, fmt, mime):
    info = probe_video(io.BytesIO(encode(small_clip(), codec=codec, container=container)), limits=LIMITS)

    assert (info.format, info.mime_type, info.extension, info.codec) == (fmt, mime, container, codec)
    assert (info.width, info.height, info.rotation) == (320, 256, 0)
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.frame_count == 20
    assert info.has_audio is False


@pytest.mark.parametrize(("rotation", "expected"), [(90, 90), (-90, 270), (180, 180)])
def test_rotation_gives_upright_size_poster_and_samples(rotation, expected):
    # A red circle near the top-left corner of the stored frames.
    clip = Clip(shapes=(MovingShape("circle", 0, 9, (60, 60), size=60, colour=(220, 20, 20)),),
                width=320, height=192, duration=2.0, background=((230, 230, 230), (230, 230, 230)))
    data = encode(clip, rotation=rotation)
    info = probe_video(io.BytesIO(data), limits=LIMITS)
    assert info.rotation == expected
    assert (info.width, info.height) == ((192, 320) if expected in (90, 270) else (320, 192))

    # Where the corner at (60, 60) ends up once turned upright (counter-clockwise by `expected`).
    corner = {90: (60, 320 - 60), 180: (320 - 60, 192 - 60), 270: (192 - 60, 60)}[expected]
    poster = poster_frame(io.BytesIO(data), duration=info.duration, max_pixels=LIMITS.max_pixels)
    assert poster.size == (info.width, info.height)
    red, green, _ = poster.getpixel(corner)
    assert red > 180 and green < 80
    sample = next(sample_frames(io.BytesIO(data), max_pixels=LIMITS.max_pixels))
    assert sample.original_size == (info.width, info.height)
    assert sample.image.getpixel(corner)[0] > 180


@pytest.mark.parametrize("hostile", hostile_videos(), ids=lambda h: h.name)
def test_hostile_videos_are_refused_with_a_clear_reason(hostile):
    with pytest.raises(VideoRejected) as refused:
        probe_video(io.BytesIO(hostile.data), limits=LIMITS)
    assert (refused.value.status, refused.value.code) == (hostile.status, hostile.code), refused.value.message
    assert hostile.phrase in refused.value.message.lower()


def test_limits_are_configurable():
    data = encode(small_clip())
    with pytest.raises(VideoRejected) as too_big:
        probe_video(io.BytesIO(data), limits=VideoLimits(max_pixels=320 * 255))
    assert (too_big.value.code, too_big.value.status) == ("too_many_pixels", 413)
    with pytest.raises(VideoRejected) as too_fast:
        probe_video(io.BytesIO(data), limits=VideoLimits(max_fps=5))
    assert too_fast.value.code == "frame_rate_too_high" and "10 frames per second" in too_fast.value.message
    with pytest.raises(VideoRejected) as too_long:
        probe_video(io.BytesIO(data), limits=VideoLimits(max_seconds=1.5))
    assert too_long.value.code == "video_too_long" and "2.0 s" in too_long.value.message
    assert probe_video(io.BytesIO(data), limits=VideoLimits(max_pixels=320 * 256, max_fps=10, max_seconds=2.0))


def test_recording_time_is_read_from_the_container():
    data = encode(small_clip(), metadata={"creation_time": "2024-05-01T10:20:30.000000Z"})
    assert probe_video(io.BytesIO(data), limits=LIMITS).taken_at == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x0e\xcdmdat", "mov"),
        (b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webmB\x87", "webm"),
        (b"\x1a\x45\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroska", "mkv"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", None),  # a HEIC photo
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", None),  # an AVIF image
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b"hello world, plain text", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head, kind):
    assert sniff_container(head) == kind


def test_poster_skips_a_dark_opening():
    # Black for the first second (a fade-in), then a scene: 10 % in is black, 25 % is not.
    clip = three_shapes_clip(duration=6.0, background=((0, 0, 0), (0, 0, 0)), cut_at=1.0,
                             cut_background=((225, 230, 235), (170, 190, 210)))
    clip = Clip(shapes=tuple(s for s in clip.shapes if s.enter >= 1.0), width=clip.width, height=clip.height,
                duration=clip.duration, background=clip.background, cut_at=clip.cut_at,
                cut_background=clip.cut_background)
    data = encode(clip)
    poster = poster_frame(io.BytesIO(data), duration=6.0, max_pixels=LIMITS.max_pixels, max_side=200)
    assert max(poster.size) == 200
    assert np.asarray(poster).mean() > 100


def _pixels(samples) -> list[tuple[float, bytes]]:
    return [(s.t, s.image.tobytes()) for s in samples]


def test_sampling_picks_two_frames_a_second_at_the_requested_size():
    data = encode(three_shapes_clip())
    samples = list(sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels,
                                 size_for=lambda width, height: (width // 2, height // 2)))
    assert [s.t for s in samples] == [k / 2 for k in range(12)]
    assert [s.resume_index for s in samples] == list(range(1, 13))
    assert all(s.image.size == (240, 160) and s.original_size == (480, 320) for s in samples)
    assert not any(s.scene_cut for s in samples)


def test_a_scene_cut_gets_a_sample_of_its_own():
    clip = three_shapes_clip(cut_at=2.05)
    samples = list(sample_frames(io.BytesIO(encode(clip)), fps=2.0, max_pixels=LIMITS.max_pixels))
    assert [s.t for s in samples if s.scene_cut] == [pytest.approx(2.1)]
    assert len(samples) == 13
    # Without cut detection only the grid remains.
    plain = list(sample_frames(io.BytesIO(encode(clip)), fps=2.0, max_pixels=LIMITS.max_pixels, scene_cuts=False))
    assert [s.t for s in plain] == [k / 2 for k in range(12)]


def test_a_cut_close_to_a_grid_time_marks_that_sample():
    clip = three_shapes_clip(cut_at=2.35)
    samples = list(sample_frames(io.BytesIO(encode(clip)), fps=2.0, max_pixels=LIMITS.max_pixels))
    assert [s.t for s in samples if s.scene_cut] == [2.5]
    assert len(samples) == 12


# B-frames (x264 "veryfast") give frames nothing references, which sampling need not decode.
B_FRAMES = {"preset": "veryfast", "bf": "3"}


def test_unreferenced_frames_far_from_the_grid_are_not_decoded():
    data = encode(three_shapes_clip(fps=30, cut_at=3.02), encoder_options=B_FRAMES)
    skipping, full = SamplingStats(), SamplingStats()
    picked = list(sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels, stats=skipping))
    reference = list(sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels, skip_nonref=False,
                                   stats=full))
    assert _pixels(picked) == _pixels(reference)
    assert [s.t for s in picked if s.scene_cut] == [s.t for s in reference if s.scene_cut] == [pytest.approx(3.0333)]
    assert full.decoded == 167  # frames 0-166: every frame up to one past the last sample (5.5 s)
    assert skipping.decoded < full.decoded * 0.8


@pytest.mark.parametrize(
    ("fps", "options"), [(10, None), (10, B_FRAMES), (30000 / 1001, B_FRAMES)], ids=["10", "10-b-frames", "29.97"]
)
def test_sampling_resumes_with_the_same_frames(fps, options):
    data = encode(three_shapes_clip(cut_at=3.05, fps=fps), gop_seconds=1.0, encoder_options=options)
    everything = list(sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels))
    assert any(s.scene_cut for s in everything)
    for middle in (3, 6, 7, 8):
        stop = everything[middle]
        rest = list(sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels,
                                  start_index=stop.resume_index, after=stop.t))
        assert _pixels(rest) == _pixels(everything[middle + 1:])
        assert [s.scene_cut for s in rest] == [s.scene_cut for s in everything[middle + 1:]]


def test_sparse_sampling_seeks_and_gives_the_frames_dense_decoding_gives():
    data = encode(three_shapes_clip(duration=20.0), gop_seconds=1.0)
    stats = SamplingStats()
    sparse = list(sample_frames(io.BytesIO(data), fps=0.2, max_pixels=LIMITS.max_pixels, seek_gap=2.0, stats=stats))
    dense_stats = SamplingStats()
    dense = {s.t: s.image.tobytes() for s in sample_frames(io.BytesIO(data), fps=2.0, max_pixels=LIMITS.max_pixels,
                                                          stats=dense_stats)}
    assert [s.t for s in sparse] == [0.0, 5.0, 10.0, 15.0]
    assert all(dense[s.t] == s.image.tobytes() for s in sparse)
    # Each seek lands on the keyframe (every second) before the sample: at most 10 frames decoded per sample.
    assert stats.seeks == 3 and stats.converted == 4
    assert stats.decoded <= 4 * 10 + 3
    assert dense_stats.decoded >= 196 and dense_stats.converted == 40  # every frame up to the last sample
