"""The library's search language: text in, a small typed syntax tree out. No database access here.

    dog frisbee                  both labels (AND is implicit)
    (cat OR dog) -person         OR, NOT / '-', parentheses
    "traffic light"  teddy bear  quoted or known multi-word labels
    person>=3  car=0  dog<2      object counts
    dog@0.8                      at least one dog with confidence >= 0.8
    dog:big  dog@area>25%        the largest dog box covers a share of the picture
    uploaded:2024-06 taken<2020 status:tagged source:manual format:jpeg filename:IMG_*

The full grammar with examples is in docs/search.md. Labels are resolved case-insensitively, plural
to singular and through a synonym table (``dogs`` -> ``dog``, ``people`` -> ``person``), against a
vocabulary the caller supplies (``search.selectors`` passes COCO plus the labels on the searcher's assets).

The grammar and its limits are in ``search.syntax``, the tree in ``search.nodes``, how words become labels
in ``search.labels``, and the tree's reading (conditions, filters, dates) in ``search.builder``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from lark import Token

from search.builder import QueryBuilder
from search.labels import Vocabulary, coco_vocabulary, label_candidates
from search.nodes import InCollection, LabelTerm, Node, Or, Span, conjuncts
from search.syntax import (
    KEYWORDS,
    MAX_COLLECTION_DEPTH,
    MAX_NESTED_TERMS,
    MAX_QUERY_LENGTH,
    QueryError,
    check_size,
    collection_names,
    label_names,
    normalize_quotes,
    parse_tree,
    term_count,
)

__all__ = ["CollectionRef", "QueryError", "format_label", "parse_query", "toggle_label"]


@dataclass(frozen=True)
class CollectionRef:
    """One of the searcher's collections as search needs it: ``query`` is empty for a manual one."""

    id: str
    name: str
    query: str = ""


# Given names (as written), the searcher's collections with those names, keyed by lower-case name.
CollectionResolver = Callable[[set[str]], dict[str, CollectionRef]]


@dataclass
class _Nesting:
    """Smart collections being expanded (to refuse loops) and the terms spent across all of them."""

    within: tuple[str, ...] = ()
    terms_left: list[int] = field(default_factory=lambda: [MAX_NESTED_TERMS])


def parse_query(
    text: str,
    *,
    vocabulary: Vocabulary = coco_vocabulary,
    today: date | None = None,
    collections: CollectionResolver | None = None,
    _nesting: _Nesting | None = None,
) -> Node | None:
    """Parse ``text``; None for an empty query. Raises QueryError for anything that cannot be searched.

    ``collections`` resolves ``collection:"Name"``; a smart collection's own search is parsed here too
    (with the same vocabulary), so the tree says everything the SQL needs.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"The query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}.",
            MAX_QUERY_LENGTH,
            text[MAX_QUERY_LENGTH : MAX_QUERY_LENGTH + 10],
        )
    text = normalize_quotes(text)
    for position, char in enumerate(text):
        if unicodedata.category(char) in {"Cc", "Cs"} and char not in "\t\n\r":
            raise QueryError(f"The query contains an unusable character ({char!r}).", position, char)
    tree = parse_tree(text)
    check_size(tree, text)
    nesting = _nesting or _Nesting()
    nesting.terms_left[0] -= term_count(tree)
    if nesting.terms_left[0] < 0:
        raise QueryError(
            f"The smart collections in this search name other collections too many times ({MAX_NESTED_TERMS} "
            "terms in all); simplify them.", 0, text[:20])
    names = label_names(tree)
    wanted = {candidate for name in names for candidate in label_candidates(name)}
    known = vocabulary(wanted) if wanted else set()
    today = today or date.today()
    asked = collection_names(tree)
    found = collections(asked) if collections is not None and asked else {}

    def collection(name: str, token: Token, span: Span) -> InCollection:
        ref = found.get(name.lower())
        if ref is None:
            return InCollection(name=name, span=span)
        if not ref.query:
            return InCollection(name=ref.name, collection_id=ref.id, span=span)
        position, written = token.start_pos or 0, str(token.value)
        if ref.id in nesting.within:
            raise QueryError(f"The smart collection “{ref.name}” includes itself through its search; change "
                             "one of the searches so they do not name each other.", position, written)
        if len(nesting.within) >= MAX_COLLECTION_DEPTH:
            raise QueryError(f"Smart collections name each other more than {MAX_COLLECTION_DEPTH} deep here; "
                             "simplify them.", position, written)
        inner = _Nesting(within=(*nesting.within, ref.id), terms_left=nesting.terms_left)
        try:
            smart = parse_query(ref.query, vocabulary=vocabulary, today=today, collections=collections,
                                _nesting=inner)
        except QueryError as error:
            raise QueryError(f"The smart collection “{ref.name}” cannot be searched: {error.message}",
                             position, written) from None
        return InCollection(name=ref.name, collection_id=ref.id, smart=smart, span=span)

    builder = QueryBuilder(text=text, known=known, today=today, collection=collection)
    return builder.build(tree.children[0]) if tree.children else None



def toggle_label(text: str, node: Node | None, label: str) -> str:
    """``text`` with ``label`` removed if it is a top-level term, otherwise with ``label`` added."""
    spans = [
        item.span
        for item in conjuncts(node)
        if isinstance(item, LabelTerm) and item.label == label and not item.counts_absence
    ]
    if spans:
        for start, end in sorted(spans, reverse=True):
            text = text[:start] + " " + text[end:]
        return _tidy(text)
    base = text.strip()
    if isinstance(node, Or):
        base = f"({base})"  # AND binds tighter than OR: keep the whole OR together
    return f"{base} {format_label(label)}".strip()


def _tidy(text: str) -> str:
    """Drop what removing a term can leave behind: empty parentheses and dangling ANDs."""
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\(\s*\)", " ", text)
        text = re.sub(r"(?i)(^|\s|\()and(\s+and)+(?=\s|\)|$)", r"\1AND", text)
        text = re.sub(r"(?i)^\s*and(?=\s|\(|$)", " ", text)
        text = re.sub(r"(?i)(?<=\s|\()and\s*$", " ", text)
        text = re.sub(r"(?i)\(\s*and(?=\s)", "(", text)
        text = re.sub(r"(?i)(?<=\s)and\s*\)", ")", text)
    return " ".join(text.split())


def format_label(label: str) -> str:
    """``label`` as query text: bare when it reads back as the same single word, quoted otherwise."""
    if re.fullmatch(r"[^\s()\"<>=!@:\-][^\s()\"<>=!@:]*", label) and label.lower() not in KEYWORDS:
        return label
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


