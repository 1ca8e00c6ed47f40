"""Near-duplicate boxes found without comparing each box with every other: an index by label, box
size and position.

Two boxes with IoU >= t have widths within a factor t of each other and left edges at most (1 - t)
times the larger width apart (the same for heights and top edges). So a box only needs comparing with
the boxes whose size class and grid cell fall in that window: a fixed number of cells, whatever the
number of boxes. Sizes are classed on a geometric scale (``_BASE``); each class has its own grid, with
cells a fixed share (``_CELL``) of the class's size, so big and small boxes both land in few cells.
Free of Django so the import and its tests share it.
"""

from __future__ import annotations

import math
from collections import defaultdict

from tagging.boxes import Box

_BASE = 1.25  # size classes: widths (heights) in [1.25**c, 1.25**(c+1))
_CELL = 0.25  # grid cell: this share of the class's smallest width (height)

_Key = tuple[str, int, int, int, int]


def _size_class(length: int) -> int:
    return math.floor(math.log(max(length, 1)) / math.log(_BASE))


def _cell(position: float, size_class: int) -> int:
    return math.floor(position / (_CELL * _BASE**size_class))


class NearBoxIndex:
    """Boxes (with their labels) added so far; ``has_near`` says whether one of them has the same label
    and IoU >= ``min_iou`` with a box (or, for no box, whether a boxless one with the label was added)."""

    def __init__(self, *, min_iou: float) -> None:
        if not 0.5 <= min_iou <= 1:
            raise ValueError("the window argument needs min_iou between 0.5 and 1")
        self.min_iou = min_iou
        self.comparisons = 0  # IoUs computed: the work done, for tests and benchmarks
        self._boxless: set[str] = set()
        self._cells: dict[_Key, list[Box]] = defaultdict(list)

    def _key(self, label: str, box: Box) -> _Key:
        width_class, height_class = _size_class(box.width), _size_class(box.height)
        return label, width_class, height_class, _cell(box.x, width_class), _cell(box.y, height_class)

    def add(self, label: str, box: Box | None) -> None:
        if box is None:
            self._boxless.add(label)
        else:
            self._cells[self._key(label, box)].append(box)

    def _window(self, position: int, length: int) -> list[tuple[int, range]]:
        """(size class, range of cells) that may hold a near box along one axis."""
        t = self.min_iou
        reach = (1 - t) * length / t  # the largest near box is length / t wide
        classes = range(_size_class(math.floor(t * length)), _size_class(math.ceil(length / t)) + 1)
        return [(c, range(_cell(position - reach, c), _cell(position + reach, c) + 1)) for c in classes]

    def has_near(self, label: str, box: Box | None) -> bool:
        if box is None:
            return label in self._boxless
        cells = self._cells
        for width_class, columns in self._window(box.x, box.width):
            for height_class, rows in self._window(box.y, box.height):
                for column in columns:
                    for row in rows:
                        for other in cells.get((label, width_class, height_class, column, row), ()):
                            self.comparisons += 1
                            if box.iou(other) >= self.min_iou:
                                return True
        return False
