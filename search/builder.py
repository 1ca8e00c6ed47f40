"""From the grammar's tree to ``search.nodes``: labels resolved, conditions checked, filters and dates read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Literal

from lark import Token, Tree

from search.labels import resolve_label
from search.nodes import (
    And,
    Compare,
    DateMissing,
    DateRange,
    Favorite,
    FieldEquals,
    FilenameMatch,
    InCollection,
    LabelTerm,
    Node,
    Not,
    Or,
    Span,
)
from search.syntax import (
    FAVORITE_WORDS,
    FIELD_NAMES,
    FORMATS,
    KINDS,
    MAX_COUNT,
    MAX_RELATIVE_DAYS,
    MAX_YEAR,
    MIN_YEAR,
    SIZE_WORDS,
    SOURCES,
    STATUSES,
    QueryError,
    is_filter,
    is_plain_word,
    span_text,
    term_parts,
    unquote,
)
from search.wildcards import MAX_FILENAME_PATTERN
from tagging.labels import normalize_label

# Turns a collection:"Name" filter into its node (the name as written, the value token for errors).
CollectionLookup = Callable[[str, Token, Span], InCollection]


def _no_collections(name: str, token: Token, span: Span) -> InCollection:
    return InCollection(name=name, span=span)


class QueryBuilder:
    def __init__(
        self, *, text: str, known: set[str], today: date, collection: CollectionLookup = _no_collections
    ) -> None:
        self.text = text
        self.known = known
        self.today = today
        self.collection = collection

    def build(self, node: Tree | Token) -> Node:
        if isinstance(node, Token):  # cannot happen with this grammar; keeps the types honest
            raise QueryError(f"Unexpected '{node.value}'.", node.start_pos or 0, str(node.value))
        if node.data == "or_expr":
            return Or(tuple(self.build(child) for child in node.children))
        if node.data == "and_expr":
            return self._and(node)
        if node.data == "negation":
            return Not(self.build(node.children[1]))
        if node.data == "group":
            return self.build(node.children[1])
        if node.data == "term":
            return self._term(node)
        raise QueryError("This query could not be read.", 0, "")

    def _and(self, node: Tree) -> Node:
        # Runs of bare words that together name a known label ("teddy bear", "cell phones") are
        # one label, unless the first word is a label itself ("dog bed" stays dog AND bed).
        children = node.children
        items: list[Node] = []
        index = 0
        while index < len(children):
            child = children[index]
            if isinstance(child, Token):  # an explicit AND, which also stops words being joined
                index += 1
                continue
            merged = self._merged_label(children, index)
            if merged is not None:
                term, used = merged
                items.append(term)
                index += used
                continue
            items.append(self.build(child))
            index += 1
        return items[0] if len(items) == 1 else And(tuple(items))

    def _merged_label(self, children: list, index: int) -> tuple[LabelTerm, int] | None:
        for length in (3, 2):
            run = children[index : index + length]
            if len(run) < length or not all(is_plain_word(child) for child in run):
                continue
            # Only the last word may carry conditions (teddy bear>=2).
            if any(len(child.children) > 1 for child in run[:-1]):
                continue
            words = [str(child.children[0].value) for child in run]
            label, known = resolve_label(" ".join(words), self.known)
            first, first_known = resolve_label(words[0], self.known)
            if known and (not first_known or first == label):
                last = run[-1]
                term = self._label_term(last, name_override=" ".join(words))
                return replace(term, span=(run[0].meta.start_pos, last.meta.end_pos)), length
        return None

    def _term(self, node: Tree) -> Node:
        if is_filter(node):
            return self._filter(node)
        name, qualifiers = term_parts(node)
        if name.type == "WORD" and name.value.lower() in FIELD_NAMES and qualifiers and qualifiers[0][0].type == "AT":
            field = name.value.lower()
            raise QueryError(
                f"'{name.value}' is a filter: write {field}:value, not {field}@value.",
                qualifiers[0][0].start_pos or 0,
                "@",
            )
        return self._label_term(node)

    def _label_term(self, node: Tree, *, name_override: str | None = None) -> LabelTerm:
        name, qualifiers = term_parts(node)
        raw = name_override if name_override is not None else unquote(name)
        if not normalize_label(raw):
            raise QueryError(
                f"Empty quotes at position {name.start_pos}: put a label between them.",
                name.start_pos or 0,
                str(name.value),
            )
        label, known = resolve_label(raw, self.known)
        count: Compare | None = None
        confidence: list[Compare] = []
        area: list[Compare] = []
        index = 0
        while index < len(qualifiers):
            kind, value = qualifiers[index]
            word = unquote(value).lower()
            if kind.type == "CMP":
                if count is not None:
                    raise QueryError(
                        f"The count for '{raw}' is given twice (at position {kind.start_pos}).",
                        kind.start_pos or 0,
                        str(kind.value),
                    )
                count = Compare(kind.value, self._count(value))  # type: ignore[arg-type]
            elif word in {"area", "size", "conf", "confidence"}:
                following = qualifiers[index + 1] if index + 1 < len(qualifiers) else None
                if following is None or following[0].type != "CMP":
                    raise QueryError(
                        f"'{kind.value}{value.value}' needs a comparison after it, like {kind.value}{word}>25%"
                        if word in {"area", "size"}
                        else f"'{kind.value}{value.value}' needs a comparison after it, like @{word}>=0.8",
                        value.start_pos or 0,
                        str(value.value),
                    )
                compare = Compare(following[0].value, self._share(following[1], word))  # type: ignore[arg-type]
                (area if word in {"area", "size"} else confidence).append(compare)
                index += 1
            elif kind.type == "AT":
                confidence.append(Compare(">=", self._share(value, "confidence")))
            elif word in SIZE_WORDS:
                low, high = SIZE_WORDS[word]
                if low is not None:
                    area.append(Compare(">=", low))
                if high is not None:
                    area.append(Compare("<", high))
            else:
                raise QueryError(
                    f"Unknown condition ':{value.value}' on '{raw}': use :big, :small, :medium, :huge, "
                    f":area>25% or @0.8; filters are {', '.join(sorted(set(FIELD_NAMES.values())))}.",
                    value.start_pos or 0,
                    str(value.value),
                )
            index += 1
        term = LabelTerm(
            label=label,
            known=known,
            count=count,
            confidence=tuple(confidence),
            area=tuple(area),
            span=(node.meta.start_pos, node.meta.end_pos),
        )
        conditions_at = _condition_position(node)
        conditions = self.text[conditions_at : node.meta.end_pos]
        if count is not None and (confidence or area) and not any(count.accepts(n) for n in (1, 2, 10**6)):
            if count.accepts(0):
                raise QueryError(
                    f"'{span_text(self.text, node)}' asks for no {raw} but also for a confidence or size.",
                    conditions_at,
                    conditions,
                )
        if count is not None and not any(count.accepts(n) for n in (0, 1, 2, count.value, count.value + 1)):
            raise QueryError(
                f"'{span_text(self.text, node)}' can never match: a count is never below zero.",
                conditions_at,
                conditions,
            )
        return term

    def _count(self, token: Token) -> int:
        text = unquote(token)
        if not re.fullmatch(r"\d{1,7}", text) or int(text) > MAX_COUNT:
            raise QueryError(
                f"Expected a whole number of objects (0 to {MAX_COUNT}) at position {token.start_pos}, got '{text}'.",
                token.start_pos or 0,
                text,
            )
        return int(text)

    def _share(self, token: Token, what: str) -> float:
        """0-1, written as a fraction (0.25) or a percentage (25%)."""
        text = unquote(token)
        match = re.fullmatch(r"(\d{1,3}(?:\.\d{0,6})?|\.\d{1,6})(%?)", text)
        name = "A box size" if what in {"area", "size"} else "A confidence"
        if match is None:
            raise QueryError(
                f"{name} is a number from 0 to 1 or a percentage, like 0.8 or 80%; got '{text}' "
                f"at position {token.start_pos}.",
                token.start_pos or 0,
                text,
            )
        value = float(match.group(1)) / (100 if match.group(2) else 1)
        if not 0 <= value <= 1:
            hint = f" (did you mean {text}%?)" if not match.group(2) and float(match.group(1)) <= 100 else ""
            raise QueryError(
                f"{name} must be between 0 and 1 or 0% and 100%; got '{text}'{hint}.", token.start_pos or 0, text
            )
        return value

    # --- filters ---

    def _filter(self, node: Tree) -> Node:
        name, qualifiers = term_parts(node)
        field = FIELD_NAMES[name.value.lower()]
        span = (node.meta.start_pos, node.meta.end_pos)
        if len(qualifiers) > 1:
            extra = qualifiers[1][0]
            hint = f" For a range write {field}:2024-01..2024-06." if field in {"uploaded", "taken"} else ""
            raise QueryError(
                f"'{field}' takes one value; '{extra.value}' at position {extra.start_pos} is extra.{hint}",
                extra.start_pos or 0,
                str(extra.value),
            )
        kind, token = qualifiers[0]
        op = ":" if kind.type == "COLON" else str(kind.value)
        value = unquote(token)
        if field in {"uploaded", "taken"}:
            return self._date_filter(field, op, value, token, span)  # type: ignore[arg-type]
        if op not in {":", "=", "!="}:
            raise QueryError(
                f"'{field}' can only be compared with ':' or '!=' (like {field}:value), not '{op}'.",
                kind.start_pos or 0,
                op,
            )
        result: Node
        if field == "collection":
            if not value.strip():
                raise QueryError('collection: needs a name, like collection:"Summer 2024".', token.start_pos or 0,
                                 str(token.value))
            result = self.collection(" ".join(value.split()), token, span)
        elif field == "is":
            if value.lower() not in FAVORITE_WORDS:
                raise QueryError(
                    f"Unknown is:{value} at position {token.start_pos}: use is:favorite.", token.start_pos or 0, value
                )
            result = Favorite(span=span)
        elif field == "filename":
            if not value.strip():
                raise QueryError("filename: needs some text to look for.", token.start_pos or 0, str(token.value))
            if len(value.strip()) > MAX_FILENAME_PATTERN:
                raise QueryError(
                    f"filename: at position {token.start_pos} is longer than {MAX_FILENAME_PATTERN} characters.",
                    token.start_pos or 0, str(token.value),
                )
            result = FilenameMatch(pattern=value.strip(), span=span)
        else:
            result = FieldEquals(field=field, value=self._choice(field, value, token), span=span)  # type: ignore[arg-type]
        return Not(result) if op == "!=" else result

    def _choice(self, field: str, value: str, token: Token) -> str:
        word = value.lower()
        if field == "status" and word in STATUSES:
            return word
        if field == "source" and word in SOURCES:
            return word
        if field == "format" and word in FORMATS:
            return FORMATS[word]
        if field == "kind" and word in KINDS:
            return word
        choices = {"status": STATUSES, "source": SOURCES, "format": sorted(set(FORMATS)), "kind": KINDS}[field]
        raise QueryError(
            f"Unknown {field} '{value}' at position {token.start_pos}: use {', '.join(choices)}.",
            token.start_pos or 0,
            value,
        )

    def _date_filter(self, field: Literal["uploaded", "taken"], op: str, value: str, token: Token, span: Span) -> Node:
        position = token.start_pos or 0
        lowered = value.lower()
        if lowered in {"none", "unknown"}:
            if field != "taken" or op not in {":", "=", "!="}:
                raise QueryError("Only taken:none is allowed (every image has an upload date).", position, value)
            missing = DateMissing(field="taken", span=span)
            return Not(missing) if op == "!=" else missing
        if ".." in value:
            if op not in {":", "="}:
                raise QueryError(f"A date range takes ':', like {field}:2024-01..2024-06.", position, value)
            first, _, last = value.partition("..")
            start = self._period(first, position)[0] if first else None
            end = self._period(last, position + len(first) + 2)[1] if last else None
            if start is None and end is None:
                raise QueryError("A date range needs at least one end, like 2024.. or ..2024-06.", position, value)
            if start is not None and end is not None and start >= end:
                raise QueryError(f"The range '{value}' ends before it starts.", position, value)
            return DateRange(field=field, start=start, end=end, span=span)
        begin, finish = self._period(value, position)
        bounds: dict[str, tuple[date | None, date | None]] = {
            ":": (begin, finish),
            "=": (begin, finish),
            "!=": (begin, finish),
            ">=": (begin, None),
            ">": (finish, None),
            "<": (None, begin),
            "<=": (None, finish),
        }
        start, end = bounds[op]
        result = DateRange(field=field, start=start, end=end, span=span)
        return Not(result) if op == "!=" else result

    def _period(self, value: str, position: int) -> tuple[date, date]:
        """The days a date word covers, as [first day, day after the last)."""
        lowered = value.lower()
        today = self.today
        try:
            if lowered == "today":
                return today, today + timedelta(days=1)
            if lowered == "yesterday":
                return today - timedelta(days=1), today
            relative = re.fullmatch(r"(\d{1,5})d", lowered)
            if relative and 1 <= int(relative.group(1)) <= MAX_RELATIVE_DAYS:
                return today - timedelta(days=int(relative.group(1)) - 1), today + timedelta(days=1)
            match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
            if match and not MIN_YEAR <= int(match.group(1)) <= MAX_YEAR:
                raise QueryError(
                    f"'{value}' at position {position} is out of range: years from {MIN_YEAR} to {MAX_YEAR}.",
                    position,
                    value,
                )
            if match:
                year = int(match.group(1))
                if match.group(3):
                    day = date(year, int(match.group(2)), int(match.group(3)))
                    return day, day + timedelta(days=1)
                if match.group(2):
                    month = int(match.group(2))
                    first = date(year, month, 1)
                    return first, (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1))
                return date(year, 1, 1), date(year + 1, 1, 1)
        except QueryError:
            raise
        except (ValueError, OverflowError):  # no such day, like 2023-02-29
            pass
        raise QueryError(
            f"'{value}' at position {position} is not a date: use 2024, 2024-06, 2024-06-30, today, yesterday, "
            "30d (the last 30 days) or a range like 2024-01..2024-06.",
            position,
            value,
        )


def _condition_position(node: Tree) -> int:
    """Where a term's first condition starts (for errors about the conditions as a whole)."""
    if len(node.children) > 1 and isinstance(node.children[1], Tree):
        kind = node.children[1].children[0]
        if isinstance(kind, Token) and kind.start_pos is not None:
            return kind.start_pos
    return node.meta.start_pos
