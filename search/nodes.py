"""A parsed query: a small typed tree, free of Django, and the questions search asks of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeAlias

CompareOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
Span: TypeAlias = tuple[int, int]


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    value: float

    def accepts(self, number: float) -> bool:
        return {
            "=": number == self.value,
            "!=": number != self.value,
            "<": number < self.value,
            "<=": number <= self.value,
            ">": number > self.value,
            ">=": number >= self.value,
        }[self.op]

    def negated(self) -> Compare:
        opposite: dict[str, CompareOp] = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
        return Compare(opposite[self.op], self.value)


@dataclass(frozen=True)
class LabelTerm:
    """An asset with this label, optionally with conditions on its summary row.

    ``count`` compares the number of objects (0 when the label is absent); ``confidence`` and
    ``area`` compare the best confidence and the largest box (share of the image, 0-1).
    """

    label: str
    known: bool = True
    count: Compare | None = None
    confidence: tuple[Compare, ...] = ()
    area: tuple[Compare, ...] = ()
    span: Span = (0, 0)

    @property
    def counts_absence(self) -> bool:
        """True when an asset without the label matches (``car=0``, ``dog<2``)."""
        return self.count is not None and self.count.accepts(0) and not self.confidence and not self.area


@dataclass(frozen=True)
class AnyTag:
    """An asset with some label meeting the conditions (structured min_confidence/min_count alone)."""

    min_confidence: float | None = None
    min_count: int | None = None


@dataclass(frozen=True)
class DateRange:
    """``start <= date < end`` in the site's time zone; an open side is None."""

    field: Literal["uploaded", "taken"]
    start: date | None
    end: date | None
    span: Span = (0, 0)


@dataclass(frozen=True)
class DateMissing:
    field: Literal["taken"]
    span: Span = (0, 0)


@dataclass(frozen=True)
class FieldEquals:
    field: Literal["status", "source", "format", "kind"]
    value: str
    span: Span = (0, 0)


@dataclass(frozen=True)
class FilenameMatch:
    """Case-insensitive; ``*`` and ``?`` are wildcards, otherwise the text may appear anywhere."""

    pattern: str
    span: Span = (0, 0)


@dataclass(frozen=True)
class Favorite:
    """``is:favorite``: an asset with a heart."""

    span: Span = (0, 0)


@dataclass(frozen=True)
class InCollection:
    """``collection:"Name"``: an asset in one of the searcher's collections.

    Resolved while parsing: ``collection_id`` is None when the searcher has no collection by that
    name (nothing matches). A smart collection carries its own search, parsed, in ``smart``.
    """

    name: str
    collection_id: str | None = None
    smart: Node | None = None
    span: Span = (0, 0)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node: TypeAlias = (
    LabelTerm | AnyTag | DateRange | DateMissing | FieldEquals | FilenameMatch | Favorite | InCollection
    | And | Or | Not
)

# Given candidate label names, return the ones that exist.

# --- reading a parsed query ---------------------------------------------------------------------


def walk(node: Node | None) -> Iterator[tuple[Node, bool]]:
    """Every node with whether it is under an odd number of NOTs."""
    stack: list[tuple[Node, bool]] = [(node, False)] if node is not None else []
    while stack:
        current, negated = stack.pop()
        yield current, negated
        if isinstance(current, And | Or):
            stack.extend((item, negated) for item in reversed(current.items))
        elif isinstance(current, Not):
            stack.append((current.item, not negated))


def walk_deep(node: Node | None) -> Iterator[Node]:
    """Every node, including those inside smart collections' searches (for the labels SQL needs)."""
    for item, _ in walk(node):
        yield item
        if isinstance(item, InCollection) and item.smart is not None:
            yield from walk_deep(item.smart)


def positive_labels(node: Node | None) -> list[str]:
    """Labels the query asks for (not under NOT, not ``=0``), in the order they are written."""
    found = [
        item.label
        for item, negated in walk(node)
        if isinstance(item, LabelTerm) and not negated and not item.counts_absence
    ]
    return list(dict.fromkeys(found))


def conjuncts(node: Node | None) -> tuple[Node, ...]:
    """The parts AND-ed at the top of the query."""
    if node is None:
        return ()
    return node.items if isinstance(node, And) else (node,)


def required_labels(node: Node | None) -> set[str]:
    """Labels every result has: positive terms AND-ed at any depth from the top (not under OR/NOT)."""
    found: set[str] = set()
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, And):
            stack.extend(item.items)
        elif isinstance(item, LabelTerm) and not item.counts_absence:
            found.add(item.label)
    return found


def selected_labels(node: Node | None) -> set[str]:
    """Labels required as a plain top-level term: those a facet shows as ticked."""
    return {item.label for item in conjuncts(node) if isinstance(item, LabelTerm) and not item.counts_absence}


def moment_labels(node: Node | None) -> dict[str, tuple[Compare, ...]]:
    """Labels a video hit should show the moments of (as positive_labels), with their confidence conditions."""
    found: dict[str, tuple[Compare, ...]] = {}
    for item, negated in walk(node):
        if isinstance(item, LabelTerm) and not negated and not item.counts_absence:
            found[item.label] = found.get(item.label, ()) + tuple(item.confidence)
    return found
