"""Boxes as plain integers: top-left corner plus horizontal and vertical span, in pixels.

Free of Django and torch so the web process, the worker and the detector share it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Box:
    """An axis-aligned box: top-left corner plus horizontal and vertical span, in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float) -> Box:
        left, top = round(x1), round(y1)
        return cls(x=left, y=top, width=max(1, round(x2) - left), height=max(1, round(y2) - top))

    def clamped(self, image_width: int, image_height: int) -> Box:
        x = min(max(self.x, 0), max(image_width - 1, 0))
        y = min(max(self.y, 0), max(image_height - 1, 0))
        right = min(self.x + self.width, image_width)
        bottom = min(self.y + self.height, image_height)
        return Box(x=x, y=y, width=max(1, right - x), height=max(1, bottom - y))

    def iou(self, other: Box) -> float:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.width, other.x + other.width)
        bottom = min(self.y + self.height, other.y + other.height)
        inter = max(0, right - left) * max(0, bottom - top)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def normalized(self, image_width: int, image_height: int) -> dict[str, float]:
        return {
            "x": self.x / image_width,
            "y": self.y / image_height,
            "width": self.width / image_width,
            "height": self.height / image_height,
        }


@dataclass(frozen=True)
class DetectedObject:
    """One object found in an image: what, how sure, where."""

    label: str
    confidence: float
    box: Box
