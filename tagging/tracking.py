"""Link boxes found in sampled video frames into tracks: one track per object while it stays on screen.

Our own small tracker, not ByteTrack from ``supervision`` nor ``norfair``:

- ``supervision`` 0.31 pulls in matplotlib, scipy, pydeprecate, requests and PyYAML for one algorithm;
  ``norfair`` 2.3 pins ``numpy<2`` (this project runs numpy 2 with torch) and needs scipy, filterpy and rich.
- Neither can save its state as JSON. A killed worker must resume a long video where it stopped, so
  the open tracks go into a JSON checkpoint; here that state is a plain dict that round-trips exactly.
- Both are tuned for every frame at 25-30 fps with Kalman filters; we see 2 frames a second, where an
  object moves further than its own width between samples, so IoU alone would lose it.

How it works: per label, each open track predicts its box at the new time by constant velocity
(centre moving at the track's smoothed speed, size kept). A detection may join a track when the
predicted box overlaps it (IoU ≥ ``min_iou``) or its centre is within ``max_distance`` box sizes of the
predicted centre (``max_distance_new`` for a track seen once, whose speed is unknown), and their
areas differ less than ``max_area_ratio`` times. Pairs are taken greedily,
most similar first (similarity = IoU + half the closeness); unmatched detections start new tracks. A
track unseen for more than ``max_gap`` seconds ends, so an object that leaves and comes back later is a
new track; a scene cut ends all tracks. Tracks seen in fewer than ``min_hits`` samples are dropped as
flicker (unless the whole video gave fewer samples than that).

Free of Django and torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tagging.boxes import Box, DetectedObject

STATE_VERSION = 1


@dataclass(frozen=True)
class TrackerConfig:
    max_gap: float = 1.5  # seconds a track may go unseen and still continue
    min_hits: int = 2  # samples a track needs to be kept
    min_iou: float = 0.1
    max_distance: float = 1.0  # centre distance, in units of the box's size (square root of its area)
    max_distance_new: float = 2.0  # the same for a track seen once, whose speed is not known yet
    max_area_ratio: float = 4.0
    velocity_smoothing: float = 0.5  # weight of the newest speed measurement

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class TrackPoint:
    t: float
    box: Box
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "box": {"x": self.box.x, "y": self.box.y, "width": self.box.width, "height": self.box.height},
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Track:
    """One object followed through time: what, when, how sure, where at each sampled time."""

    id: int
    label: str
    points: tuple[TrackPoint, ...]

    @property
    def start(self) -> float:
        return self.points[0].t

    @property
    def end(self) -> float:
        return self.points[-1].t

    @property
    def max_confidence(self) -> float:
        return max(point.confidence for point in self.points)

    @property
    def mean_confidence(self) -> float:
        return round(sum(point.confidence for point in self.points) / len(self.points), 4)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "start": self.start,
            "end": self.end,
            "confidence": self.max_confidence,
            "mean_confidence": self.mean_confidence,
            "boxes": [point.as_dict() for point in self.points],
        }


@dataclass
class _OpenTrack:
    key: int
    label: str
    points: list[TrackPoint]
    vx: float = 0.0  # centre speed, pixels per second
    vy: float = 0.0

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    def predict(self, t: float) -> tuple[float, float, float, float]:
        """Centre x, centre y, width, height expected at ``t``."""
        box = self.last.box
        dt = t - self.last.t
        return (box.x + box.width / 2 + self.vx * dt, box.y + box.height / 2 + self.vy * dt, box.width, box.height)

    def add(self, point: TrackPoint, smoothing: float) -> None:
        last = self.last
        dt = point.t - last.t
        if dt > 0:
            speed_x = (_centre(point.box)[0] - _centre(last.box)[0]) / dt
            speed_y = (_centre(point.box)[1] - _centre(last.box)[1]) / dt
            if len(self.points) == 1:
                self.vx, self.vy = speed_x, speed_y
            else:
                self.vx = smoothing * speed_x + (1 - smoothing) * self.vx
                self.vy = smoothing * speed_y + (1 - smoothing) * self.vy
        self.points.append(point)

    def to_state(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "vx": self.vx,
            "vy": self.vy,
            "points": [[p.t, p.box.x, p.box.y, p.box.width, p.box.height, p.confidence] for p in self.points],
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> _OpenTrack:
        points = [
            TrackPoint(t=float(t), box=Box(int(x), int(y), int(w), int(h)), confidence=float(c))
            for t, x, y, w, h, c in data["points"]
        ]
        return cls(key=int(data["key"]), label=str(data["label"]), points=points,
                   vx=float(data["vx"]), vy=float(data["vy"]))


def _centre(box: Box) -> tuple[float, float]:
    return box.x + box.width / 2, box.y + box.height / 2


def _iou_xywh(predicted: tuple[float, float, float, float], box: Box) -> float:
    cx, cy, width, height = predicted
    left, top = max(cx - width / 2, box.x), max(cy - height / 2, box.y)
    right, bottom = min(cx + width / 2, box.x + box.width), min(cy + height / 2, box.y + box.height)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = width * height + box.area - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Tracker:
    """Feed it the detections of each sampled frame in time order; ``finish`` returns the tracks."""

    config: TrackerConfig = field(default_factory=TrackerConfig)
    open: list[_OpenTrack] = field(default_factory=list)
    closed: list[_OpenTrack] = field(default_factory=list)
    next_key: int = 1
    updates: int = 0
    last_t: float | None = None

    def similarity(self, track: _OpenTrack, t: float, box: Box) -> float | None:
        """How well ``box`` continues ``track`` at ``t``; None when it cannot."""
        predicted = track.predict(t)
        _, _, width, height = predicted
        area = max(width * height, 1.0)
        if max(area, box.area) / max(min(area, box.area), 1) > self.config.max_area_ratio:
            return None
        iou = _iou_xywh(predicted, box)
        size = math.sqrt(max(area, box.area))
        cx, cy = _centre(box)
        distance = math.hypot(cx - predicted[0], cy - predicted[1]) / size
        gate = self.config.max_distance if len(track.points) > 1 else self.config.max_distance_new
        if iou < self.config.min_iou and distance > gate:
            return None
        return iou + 0.5 * max(0.0, 1.0 - distance / gate)

    def update(self, t: float, objects: Sequence[DetectedObject], *, scene_cut: bool = False) -> None:
        if self.last_t is not None and t <= self.last_t:
            raise ValueError(f"samples must come in time order: {t} after {self.last_t}")
        self.last_t = t
        self.updates += 1
        still_open = []
        for track in self.open:
            if not scene_cut and t - track.last.t <= self.config.max_gap:
                still_open.append(track)
            elif len(track.points) >= self.config.min_hits or self.updates < self.config.min_hits:
                self.closed.append(track)  # (flicker is dropped at once: long videos keep only real tracks)
        self.open = still_open
        candidates: list[tuple[float, int, int]] = []
        for track_index, track in enumerate(self.open):
            for object_index, found in enumerate(objects):
                if found.label != track.label:
                    continue
                score = self.similarity(track, t, found.box)
                if score is not None:
                    candidates.append((score, track_index, object_index))
        # Most similar first; ties by order so the result never depends on set iteration.
        candidates.sort(key=lambda row: (-row[0], row[1], row[2]))
        used_tracks: set[int] = set()
        used_objects: set[int] = set()
        for _, track_index, object_index in candidates:
            if track_index in used_tracks or object_index in used_objects:
                continue
            used_tracks.add(track_index)
            used_objects.add(object_index)
            found = objects[object_index]
            self.open[track_index].add(TrackPoint(t, found.box, found.confidence), self.config.velocity_smoothing)
        for object_index, found in enumerate(objects):
            if object_index not in used_objects:
                self.open.append(_OpenTrack(self.next_key, found.label, [TrackPoint(t, found.box, found.confidence)]))
                self.next_key += 1

    def finish(self) -> list[Track]:
        """All tracks worth keeping, numbered 1… in order of appearance."""
        everything = sorted([*self.closed, *self.open], key=lambda track: (track.points[0].t, track.key))
        min_hits = self.config.min_hits if self.updates >= self.config.min_hits else 1
        kept = [track for track in everything if len(track.points) >= min_hits]
        return [Track(id=number, label=track.label, points=tuple(track.points))
                for number, track in enumerate(kept, start=1)]

    def state(self) -> dict[str, Any]:
        """JSON-serialisable; ``Tracker.from_state(state, config)`` continues exactly where this one is."""
        return {
            "version": STATE_VERSION,
            "config": self.config.as_dict(),
            "next_key": self.next_key,
            "updates": self.updates,
            "last_t": self.last_t,
            "open": [track.to_state() for track in self.open],
            "closed": [track.to_state() for track in self.closed],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: TrackerConfig | None = None) -> Tracker:
        config = config or TrackerConfig(**state["config"])
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"tracker state version {state.get('version')!r}; this code reads {STATE_VERSION}")
        if state["config"] != config.as_dict():
            raise ValueError("the tracker state was made with other settings")
        return cls(
            config=config,
            open=[_OpenTrack.from_state(item) for item in state["open"]],
            closed=[_OpenTrack.from_state(item) for item in state["closed"]],
            next_key=int(state["next_key"]),
            updates=int(state["updates"]),
            last_t=None if state["last_t"] is None else float(state["last_t"]),
        )


def track_objects(
    frames: Iterable[tuple[float, Sequence[DetectedObject]]], config: TrackerConfig | None = None
) -> list[Track]:
    """Tracks from (time, detections) pairs in time order."""
    tracker = Tracker(config or TrackerConfig())
    for t, objects in frames:
        tracker.update(t, objects)
    return tracker.finish()


def most_at_once(tracks: Iterable[Track]) -> dict[str, int]:
    """Per label, the most tracks on screen at the same time (a track covers its start to its end)."""
    return most_at_once_spans((track.label, track.start, track.end) for track in tracks)


def most_at_once_spans(spans: Iterable[tuple[str, float, float]]) -> dict[str, int]:
    """The same from (label, start, end) triples, e.g. stored tracks."""
    events: dict[str, list[tuple[float, int]]] = {}
    for label, start, end in spans:
        # Starts sort before ends at the same time: both tracks are on screen then.
        events.setdefault(label, []).extend([(start, 0), (end, 1)])
    counts: dict[str, int] = {}
    for label, items in events.items():
        current = best = 0
        for _, kind in sorted(items):
            current += 1 if kind == 0 else -1
            best = max(best, current)
        counts[label] = best
    return counts


def joined_spans(spans: Iterable[tuple[str, float, float]], *, max_gap: float) -> list[tuple[str, float, float]]:
    """(label, start, end) spans with those of one label that overlap, or are at most ``max_gap`` s
    apart, joined into one; by start time. When a label is on screen, not how many objects made it so."""
    joined: list[list] = []
    open_spans: dict[str, list] = {}
    for label, start, end in sorted(spans, key=lambda span: (span[1], span[2], span[0])):
        current = open_spans.get(label)
        if current is not None and start - current[2] <= max_gap:
            current[2] = max(current[2], end)
            continue
        open_spans[label] = [label, start, end]
        joined.append(open_spans[label])
    return [(label, start, end) for label, start, end in joined]
