"""tagging.tracking: linking per-frame detections into tracks, on hand-made detections."""

from __future__ import annotations

import json

import pytest

from tagging.boxes import Box, DetectedObject
from tagging.tracking import Tracker, TrackerConfig, most_at_once, track_objects

STEP = 0.5  # 2 samples a second


def obj(label: str, x: float, y: float, size: int = 60, confidence: float = 0.9) -> DetectedObject:
    return DetectedObject(label=label, confidence=confidence, box=Box(round(x), round(y), size, size))


def frames(count: int, make) -> list[tuple[float, list[DetectedObject]]]:  # type: ignore[no-untyped-def]
    return [(k * STEP, make(k * STEP)) for k in range(count)]


def test_one_object_on_screen_is_one_track_with_its_facts():
    tracks = track_objects(frames(12, lambda t: [obj("dog", 10 + 40 * t, 50, confidence=0.6 + 0.02 * t * 2)]))

    assert len(tracks) == 1
    track = tracks[0]
    assert (track.id, track.label, track.start, track.end, len(track.points)) == (1, "dog", 0.0, 5.5, 12)
    assert track.max_confidence == pytest.approx(0.82)
    assert track.mean_confidence == pytest.approx(0.71)
    assert track.as_dict()["boxes"][3] == {"t": 1.5, "box": {"x": 70, "y": 50, "width": 60, "height": 60},
                                           "confidence": pytest.approx(0.66)}


def test_objects_apart_are_separate_tracks_and_labels_never_mix():
    tracks = track_objects(frames(8, lambda t: [obj("dog", 10, 10), obj("dog", 300, 10), obj("cat", 12, 12)]))
    assert sorted(track.label for track in tracks) == ["cat", "dog", "dog"]
    assert all(len(track.points) == 8 for track in tracks)


def test_fast_object_moving_more_than_its_width_between_samples_stays_one_track():
    # 150 px per second at 2 samples a second: 75 px between samples, the box is 60 px wide (IoU 0).
    tracks = track_objects(frames(10, lambda t: [obj("car", 150 * t, 100)]))
    assert len(tracks) == 1 and len(tracks[0].points) == 10


def test_a_missed_sample_does_not_split_a_track():
    tracks = track_objects(frames(10, lambda t: [] if t == 2.0 else [obj("dog", 20 * t, 10)]))
    assert len(tracks) == 1 and len(tracks[0].points) == 9


def test_leaving_and_returning_after_a_while_is_a_new_track():
    # Gone from 2.0 to 4.0 s (3 samples missed, 2 s unseen > max_gap 1.5 s).
    tracks = track_objects(frames(12, lambda t: [obj("dog", 100, 100)] if t < 2.0 or t > 3.5 else []))
    assert [(track.start, track.end) for track in tracks] == [(0.0, 1.5), (4.0, 5.5)]


def test_crossing_objects_keep_their_identity():
    # Two balls of the same label on the same row, one moving right, one moving left; they cross at 2.5 s.
    def balls(t: float) -> list[DetectedObject]:
        return [obj("ball", 50 + 80 * t, 100), obj("ball", 450 - 80 * t, 100)]

    tracks = track_objects(frames(11, balls))

    assert len(tracks) == 2
    for track in tracks:
        xs = [point.box.x for point in track.points]
        assert xs == sorted(xs) or xs == sorted(xs, reverse=True), xs
        assert len(track.points) == 11


def test_a_single_sample_flicker_is_dropped_unless_the_video_is_that_short():
    tracks = track_objects(frames(6, lambda t: [obj("dog", 10, 10)] + ([obj("cat", 300, 300)] if t == 1.0 else [])))
    assert [track.label for track in tracks] == ["dog"]
    assert [track.label for track in track_objects([(0.0, [obj("cat", 1, 1)])])] == ["cat"]
    kept = track_objects(frames(6, lambda t: [obj("cat", 300, 300)] if t == 1.0 else []), TrackerConfig(min_hits=1))
    assert [track.label for track in kept] == ["cat"]


def test_a_scene_cut_ends_every_track():
    tracker = Tracker()
    for t in (0.0, 0.5, 1.0):
        tracker.update(t, [obj("dog", 10, 10)])
    for t in (1.5, 2.0):
        tracker.update(t, [obj("dog", 10, 10)], scene_cut=t == 1.5)
    assert [(track.start, track.end) for track in tracker.finish()] == [(0.0, 1.0), (1.5, 2.0)]


def test_samples_must_come_in_time_order():
    tracker = Tracker()
    tracker.update(1.0, [])
    with pytest.raises(ValueError):
        tracker.update(1.0, [])


def test_state_round_trips_through_json_and_continues_identically():
    def scene(t: float) -> list[DetectedObject]:
        found = [obj("ball", 50 + 80 * t, 100), obj("ball", 450 - 80 * t, 100)]
        return found + ([obj("dog", 200, 300)] if t < 1.5 or t > 3.6 else [])

    samples = frames(12, scene)
    whole = Tracker()
    for t, found in samples:
        whole.update(t, found)

    for stop in (1, 5, 8):
        first = Tracker()
        for t, found in samples[:stop]:
            first.update(t, found)
        resumed = Tracker.from_state(json.loads(json.dumps(first.state())))
        for t, found in samples[stop:]:
            resumed.update(t, found)
        assert [track.as_dict() for track in resumed.finish()] == [track.as_dict() for track in whole.finish()]


def test_state_from_other_settings_is_refused():
    state = Tracker().state()
    with pytest.raises(ValueError):
        Tracker.from_state(state, TrackerConfig(max_gap=3.0))


def test_most_at_once_counts_overlapping_tracks_per_label():
    tracks = track_objects(
        frames(10, lambda t: [obj("dog", 10, 10)]
               + ([obj("dog", 300, 10)] if 1.0 <= t <= 3.0 else [])
               + ([obj("dog", 10, 300)] if 2.0 <= t <= 4.0 else [])
               + [obj("cat", 500, 500)])
    )
    assert most_at_once(tracks) == {"dog": 3, "cat": 1}
