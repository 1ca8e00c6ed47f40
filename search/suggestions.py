"""“Did you mean …?” for a label nobody's pictures have: the closest of the user's own labels.

``circel`` -> circle (difflib's similarity), ``tri`` -> triangle (a label starting with the word).
Only the searcher's labels are offered, so a hint never names another user's label.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from search.nodes import LabelTerm, Node, walk
from tagging.selectors import label_names_of

# difflib's ratio below which two words are not offered as the same (0.6 is its own default:
# circel/circle 0.83, cat/car 0.67, dog/frisbee 0.2).
CUTOFF = 0.6


@dataclass(frozen=True)
class UnknownLabel:
    label: str
    suggestion: str | None
    # The search with the word replaced by the suggestion ("" without one).
    corrected: str = ""


def closest_label(name: str, *, known: Sequence[str]) -> str | None:
    """The label in ``known`` that ``name`` most likely meant, or None."""
    name = name.strip().lower()
    if not name or name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=CUTOFF)
    if close:
        return close[0]
    # A typed beginning (``tri``) is too short for difflib: take the most used label it starts.
    return next((label for label in known if label.startswith(name)), None)


def unknown_labels(*, user: AbstractBaseUser | AnonymousUser, query: Node | None, text: str) -> list[UnknownLabel]:
    """The labels ``query`` (parsed from ``text``) asks for that no picture has, each with a hint."""
    terms = [item for item, _ in walk(query) if isinstance(item, LabelTerm) and not item.known]
    if not terms:
        return []
    known = label_names_of(user=user)
    found: list[UnknownLabel] = []
    for term in terms:
        suggestion = closest_label(term.label, known=known)
        found.append(UnknownLabel(term.label, suggestion, _replaced(text, term, suggestion) if suggestion else ""))
    return found


def _replaced(text: str, term: LabelTerm, suggestion: str) -> str:
    start, end = term.span
    part = text[start:end]
    index = part.lower().find(term.label)
    if end <= start or index < 0:
        return suggestion  # the word was written differently (a plural, odd spacing): just the hint
    bare = re.fullmatch(r'[^\s()"<>=!@:\-][^\s()"<>=!@:]*', suggestion) is not None
    written = suggestion if bare or part[:index].endswith('"') else f'"{suggestion}"'
    return text[:start] + part[:index] + written + part[index + len(term.label) :] + text[end:]
