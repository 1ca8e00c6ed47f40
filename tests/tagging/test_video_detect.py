"""tagging.video.detect_video with the real shipped shapes detector on synthetic clips of known truth."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from tagging.detector import DetectorConfig, load_detector
from tagging.video import detect_video
from testkit.clips import Clip, encode, returning_clip, three_shapes_clip
from tests.conftest import SHAPES_CHECKPOINT

SAMPLE_FPS = 2.0
STEP = 1 / SAMPLE_FPS


@pytest.fixture(scope="module")
def detector():
    return load_detector(DetectorConfig(model=str(SHAPES_CHECKPOINT), device="cpu"))


@pytest.fixture(scope="module")
def three_mp4() -> bytes:
    return encode(three_shapes_clip(), codec="h264")


@pytest.fixture(scope="module")
def three_mp4_result(detector, three_mp4):
    return detect_video(detector, io.BytesIO(three_mp4), sample_fps=SAMPLE_FPS, batch_size=4)


def assert_matches_truth(tracks, clip: Clip) -> None:
    truth = clip.appearances()
    assert Counter(track.label for track in tracks) == Counter(item.label for item in truth), tracks
    unmatched = list(tracks)
    for item in truth:
        track = min((t for t in unmatched if t.label == item.label), key=lambda t: abs(t.start - item.start))
        unmatched.remove(track)
        assert abs(track.start - item.start) <= STEP + 1e-6, (track.label, track.start, item.start)
        assert abs(track.end - item.end) <= STEP + 1e-6, (track.label, track.end, item.end)


def box_iou(box, truth: tuple[float, float, float, float]) -> float:
    left, top = max(box.x, truth[0]), max(box.y, truth[1])
    right, bottom = min(box.x + box.width, truth[2]), min(box.y + box.height, truth[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / (box.area + (truth[2] - truth[0]) * (truth[3] - truth[1]) - inter)


def test_h264_clip_gives_one_track_per_shape_within_one_step(three_mp4_result):
    clip = three_shapes_clip()
    result = three_mp4_result
    assert_matches_truth(result.tracks, clip)
    assert result.samples == 12 and result.sampled_until == 5.5
    assert result.label_counts == {"circle": 1, "square": 1, "triangle": 1}
    for track in result.tracks:
        assert 0.5 <= track.mean_confidence <= track.max_confidence <= 1.0
        shape = next(s for s in clip.shapes if s.label == track.label)
        # Boxes are in the video's own pixels, where the shape was drawn at that time.
        assert all(box_iou(point.box, shape.box(point.t)) > 0.7 for point in track.points), track


def test_vp9_webm_clip_gives_the_same_tracks(detector):
    clip = three_shapes_clip()
    result = detect_video(detector, io.BytesIO(encode(clip, codec="vp9")), sample_fps=SAMPLE_FPS, batch_size=4)
    assert_matches_truth(result.tracks, clip)


def test_a_shape_that_leaves_and_returns_is_two_tracks(detector):
    clip = returning_clip()
    result = detect_video(detector, io.BytesIO(encode(clip)), sample_fps=SAMPLE_FPS, batch_size=4)
    assert_matches_truth(result.tracks, clip)
    assert [track.label for track in result.tracks].count("square") == 2
    assert result.label_counts["square"] == 1  # never two squares at once


def test_boxes_of_a_rotated_video_are_upright(detector):
    clip = three_shapes_clip(duration=2.0)
    result = detect_video(detector, io.BytesIO(encode(clip, rotation=90)), sample_fps=SAMPLE_FPS, batch_size=4)
    circle = next(track for track in result.tracks if track.label == "circle")
    x1, y1, x2, y2 = next(s for s in clip.shapes if s.label == "circle").box(circle.start)
    # Turned 90° counter-clockwise: (x, y) -> (y, width - x) in a 320×480 picture.
    upright = (y1, clip.width - x2, y2, clip.width - x1)
    assert box_iou(circle.points[0].box, upright) > 0.7


def test_a_killed_run_resumes_from_its_checkpoint_with_the_same_tracks(detector, three_mp4, three_mp4_result):
    saved: list[str] = []

    class Killed(Exception):
        pass

    def save(checkpoint: dict) -> None:
        saved.append(json.dumps(checkpoint))  # what a worker would store
        if len(saved) == 3:
            raise Killed

    with pytest.raises(Killed):
        detect_video(detector, io.BytesIO(three_mp4), sample_fps=SAMPLE_FPS, batch_size=2,
                     on_checkpoint=save, checkpoint_every=0)
    checkpoint = json.loads(saved[-1])
    assert checkpoint["after"] == 2.5 and checkpoint["samples"] == 6

    resumed = detect_video(detector, io.BytesIO(three_mp4), sample_fps=SAMPLE_FPS, batch_size=4, checkpoint=checkpoint)

    assert resumed.resumed_from == 2.5
    assert resumed.samples == 12
    assert [t.as_dict() for t in resumed.tracks] == [t.as_dict() for t in three_mp4_result.tracks]


def test_a_checkpoint_from_other_settings_starts_over(detector, three_mp4):
    saved: list[dict] = []
    clip = three_mp4
    detect_video(detector, io.BytesIO(clip), sample_fps=1.0, on_checkpoint=saved.append, checkpoint_every=0)
    result = detect_video(detector, io.BytesIO(clip), sample_fps=SAMPLE_FPS, batch_size=4, checkpoint=saved[2])
    assert result.resumed_from is None and result.samples == 12
