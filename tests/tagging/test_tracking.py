"""tagging.tracking: linking per-frame detections into tracks, on hand-made detections."""

from __future__ import annotations

import json

import pytest

from tagging.boxes import Box, DetectedObject
from tagging.tracking import Tracker, TrackerConfig, joined_spans, most_at_once, track_objects

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


def test_moments_of_one_label_join_when_they_overlap_or_nearly_touch():
    spans = [("dog", 10.0, 12.0), ("dog", 0.0, 4.0), ("dog", 3.0, 6.0), ("cat", 1.0, 2.0), ("dog", 7.0, 8.0)]
    assert joined_spans(spans, max_gap=1.0) == [("dog", 0.0, 8.0), ("cat", 1.0, 2.0), ("dog", 10.0, 12.0)]
    assert joined_spans(spans, max_gap=0.0) == [("dog", 0.0, 6.0), ("cat", 1.0, 2.0), ("dog", 7.0, 8.0),
                                                ("dog", 10.0, 12.0)]
    assert joined_spans([("dog", 0.0, 9.0), ("dog", 1.0, 2.0)], max_gap=0.0) == [("dog", 0.0, 9.0)]  # inside
    assert joined_spans([], max_gap=1.0) == []


@pytest.mark.django_db
def test_a_video_hit_lists_one_moment_per_time_a_label_is_on_screen(api_client, user):
    """Tracks of one label that overlap (two dogs together) or nearly touch are one moment in a search."""
    from media.models import Asset, AssetKind
    from tagging.services import RunInfo, TrackData, tracks_replace
    from tests.tagged_assets import make_asset

    video = make_asset(user)
    Asset.objects.filter(pk=video.pk).update(kind=AssetKind.VIDEO, duration=30.0, fps=10.0, video_codec="h264")

    def track(label: str, start: float, end: float, confidence: float = 0.9) -> TrackData:
        return TrackData(label=label, start=start, end=end, confidence=confidence, mean_confidence=confidence,
                         boxes=[[start, 1, 1, 5, 5, confidence], [end, 1, 1, 5, 5, confidence]])

    tracks_replace(asset_id=video.pk, info=RunInfo(model_name="m"), tracks=[
        track("dog", 1.0, 5.0), track("dog", 3.0, 7.0), track("dog", 7.5, 9.0), track("dog", 20.0, 22.0),
        track("cat", 4.0, 6.0), track("dog", 25.0, 26.0, confidence=0.4),
    ])  # fmt: skip
    hits = api_client.get("/api/assets/", {"q": "dog@0.8 OR cat"}).json()["results"]
    moments = next(hit for hit in hits if hit["id"] == str(video.pk))["moments"]
    assert moments == [
        {"label": "dog", "start": 1.0, "end": 9.0},  # 1-5, 3-7 and 7.5-9 (0.5 s apart, under VIDEO_TRACK_MAX_GAP)
        {"label": "cat", "start": 4.0, "end": 6.0},
        {"label": "dog", "start": 20.0, "end": 22.0},  # the 0.4 dog at 25 s does not reach dog@0.8
    ]
