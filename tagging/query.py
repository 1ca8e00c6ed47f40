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
vocabulary the caller supplies (``tagging.search`` passes COCO plus the Label table).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, TypeAlias

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from tagging.coco import COCO_LABELS

MAX_QUERY_LENGTH = 500
MAX_TERMS = 40
MAX_DEPTH = 20  # parentheses and NOTs inside each other
MAX_COUNT = 100_000
MAX_RELATIVE_DAYS = 36_600
# Photos fall well inside this; the bounds keep dates clear of datetime's limits in any time zone.
MIN_YEAR = 1800
MAX_YEAR = 2999

# Kept here rather than imported so the parser stays free of Django and Pillow; tests check
# them against media.models.TaggingStatus and media.imaging.ACCEPTED_FORMATS.
STATUSES = ("pending", "processing", "tagged", "failed")
SOURCES = ("auto", "manual")
FORMATS = {
    "jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF",
    "tiff": "TIFF", "tif": "TIFF", "heif": "HEIF", "heic": "HEIF",
}  # fmt: skip

# Size words for a label's largest box, as (lowest share, highest share) of the picture.
SIZE_WORDS: dict[str, tuple[float | None, float | None]] = {
    "small": (None, 0.05),
    "medium": (0.05, 0.25),
    "big": (0.25, None),
    "large": (0.25, None),
    "huge": (0.5, None),
}

FIELD_NAMES = {
    "uploaded": "uploaded", "added": "uploaded",
    "taken": "taken",
    "status": "status",
    "source": "source",
    "format": "format", "type": "format",
    "filename": "filename", "file": "filename",
}  # fmt: skip

# Other words for COCO labels. Every target must be a COCO name (a test checks).
SYNONYMS: dict[str, str] = {
    # people
    "people": "person", "man": "person", "woman": "person", "kid": "person", "child": "person",
    "boy": "person", "girl": "person", "baby": "person", "human": "person", "adult": "person",
    "guy": "person", "lady": "person", "toddler": "person", "pedestrian": "person",
    # animals
    "puppy": "dog", "doggy": "dog", "doggie": "dog", "hound": "dog",
    "kitten": "cat", "kitty": "cat",
    "pony": "horse", "foal": "horse", "lamb": "sheep", "cattle": "cow", "bull": "cow", "calf": "cow",
    # vehicles
    "automobile": "car", "sedan": "car", "bike": "bicycle", "cycle": "bicycle",
    "motorbike": "motorcycle", "plane": "airplane", "aeroplane": "airplane", "aircraft": "airplane",
    "jet": "airplane", "lorry": "truck", "ship": "boat", "sailboat": "boat", "yacht": "boat",
    "canoe": "boat", "kayak": "boat", "coach": "bus",
    # street
    "stoplight": "traffic light", "traffic signal": "traffic light", "hydrant": "fire hydrant",
    # things
    "television": "tv", "telly": "tv", "tv set": "tv",
    "phone": "cell phone", "cellphone": "cell phone", "mobile": "cell phone", "mobile phone": "cell phone",
    "smartphone": "cell phone", "iphone": "cell phone",
    "sofa": "couch", "settee": "couch", "table": "dining table", "plant": "potted plant",
    "houseplant": "potted plant", "fridge": "refrigerator", "doughnut": "donut", "hotdog": "hot dog",
    "hairdryer": "hair drier", "hair dryer": "hair drier", "teddy": "teddy bear", "teddybear": "teddy bear",
    "ball": "sports ball", "football": "sports ball", "soccer ball": "sports ball", "racket": "tennis racket",
    "racquet": "tennis racket", "purse": "handbag", "bag": "handbag", "luggage": "suitcase", "ski": "skis",
    "scissor": "scissors", "mug": "cup", "wineglass": "wine glass", "rucksack": "backpack",
    "remote control": "remote", "computer mouse": "mouse", "notebook computer": "laptop",
}  # fmt: skip

# Plurals that do not end in a plain -s / -es / -ies / -ves.
IRREGULAR_PLURALS = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "cacti": "cactus",
}  # fmt: skip

_KEYWORDS = {"and", "or", "not"}
_WORD_CHARS = r'[^\s()"<>=!@:]'
_GRAMMAR = rf"""
start: expr?
?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (AND? not_expr)*
?not_expr: NOT not_expr -> negation
         | MINUS not_expr -> negation
         | atom
?atom: LPAR expr RPAR -> group
     | term
term: (WORD | STRING) qualifier*
qualifier: CMP value | AT value | COLON value
?value: WORD | STRING

_OR.2: /(?i:or)(?!{_WORD_CHARS})/
AND.2: /(?i:and)(?!{_WORD_CHARS})/
NOT.2: /(?i:not)(?!{_WORD_CHARS})/
MINUS: "-"
LPAR: "("
RPAR: ")"
CMP: ">=" | "<=" | "!=" | "=" | "<" | ">"
AT: "@"
COLON: ":"
WORD: /[^\s()"<>=!@:\-]{_WORD_CHARS}*/
STRING: /"(?:[^"\\]|\\.)*"/
%ignore /\s+/
"""
# The basic lexer makes AND/OR/NOT keywords everywhere (quote them to search for such a label).
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)

# Names of grammar terminals in error messages.
_EXPECTED_WORDS = {
    "WORD": "a label",
    "STRING": "a quoted label",
    "LPAR": "'('",
    "RPAR": "')'",
    "NOT": "NOT",
    "MINUS": "'-'",
    "_OR": "OR",
    "AND": "AND",
    "CMP": "a comparison such as >=",
    "AT": "'@'",
    "COLON": "':'",
    "$END": "the end of the query",
}


class QueryError(ValueError):
    """A query that cannot be searched: ``position`` is the 0-based offset of ``token`` in the text."""

    def __init__(self, message: str, position: int, token: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.token = token

    def __str__(self) -> str:
        return self.message


# --- syntax tree --------------------------------------------------------------------------------

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
    field: Literal["status", "source", "format"]
    value: str
    span: Span = (0, 0)


@dataclass(frozen=True)
class FilenameMatch:
    """Case-insensitive; ``*`` and ``?`` are wildcards, otherwise the text may appear anywhere."""

    pattern: str
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


Node: TypeAlias = LabelTerm | AnyTag | DateRange | DateMissing | FieldEquals | FilenameMatch | And | Or | Not

# Given candidate label names, return the ones that exist.
Vocabulary: TypeAlias = Callable[[set[str]], set[str]]


def coco_vocabulary(candidates: set[str]) -> set[str]:
    return candidates & COCO_LABELS


# --- labels -------------------------------------------------------------------------------------


def normalize_label(name: str) -> str:
    """Lower-case with single spaces: the form labels are stored in (see tagging.services)."""
    return " ".join(name.strip().lower().split())[:100]


def _singulars(word: str) -> list[str]:
    found = []
    if word in IRREGULAR_PLURALS:
        found.append(IRREGULAR_PLURALS[word])
    if word.endswith("ies") and len(word) > 4:
        found.append(word[:-3] + "y")
    if word.endswith("ves") and len(word) > 4:
        found += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es") and len(word) > 3:
        found.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        found.append(word[:-1])
    return found


def label_candidates(name: str) -> list[str]:
    """Names ``name`` may stand for, best first: itself, a synonym, singulars, plurals."""
    normalized = normalize_label(name)
    if not normalized:
        return []
    head, _, last = normalized.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms = [normalized] + [prefix + single for single in _singulars(last)]
    candidates: list[str] = []
    for form in forms:
        candidates.append(form)
        if form in SYNONYMS:
            candidates.append(SYNONYMS[form])
    candidates += [normalized + "s", normalized + "es"]
    return list(dict.fromkeys(candidates))


def resolve_label(name: str, known: set[str]) -> tuple[str, bool]:
    """The label ``name`` means and whether it exists; an unknown name stays as typed (normalised)."""
    candidates = label_candidates(name)
    for candidate in candidates:
        if candidate in known:
            return candidate, True
    return (candidates[0] if candidates else ""), False


def format_label(label: str) -> str:
    """``label`` as query text: bare when it reads back as the same single word, quoted otherwise."""
    if re.fullmatch(r"[^\s()\"<>=!@:\-][^\s()\"<>=!@:]*", label) and label.lower() not in _KEYWORDS:
        return label
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- parsing ------------------------------------------------------------------------------------


def parse_query(text: str, *, vocabulary: Vocabulary = coco_vocabulary, today: date | None = None) -> Node | None:
    """Parse ``text``; None for an empty query. Raises QueryError for anything that cannot be searched."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"The query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}.",
            MAX_QUERY_LENGTH,
            text[MAX_QUERY_LENGTH : MAX_QUERY_LENGTH + 10],
        )
    text = _normalize_quotes(text)
    for position, char in enumerate(text):
        if unicodedata.category(char) in {"Cc", "Cs"} and char not in "\t\n\r":
            raise QueryError(f"The query contains an unusable character ({char!r}).", position, char)
    tree = _parse_tree(text)
    _check_size(tree, text)
    names = _label_names(tree)
    wanted = {candidate for name in names for candidate in label_candidates(name)}
    known = vocabulary(wanted) if wanted else set()
    builder = _Builder(text=text, known=known, today=today or date.today())
    return builder.build(tree.children[0]) if tree.children else None


def _normalize_quotes(text: str) -> str:
    # Phones turn " into curly quotes; they are the same length, so positions still match.
    return text.translate({ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb"})


def _parse_tree(text: str) -> Tree:
    try:
        return _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None


def _syntax_error(error: UnexpectedInput, text: str) -> QueryError:
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream
        char = text[position]
        if char == '"':
            return QueryError(f'The quote at position {position} is never closed: add a closing ".', position, '"')
        if char == "!":
            return QueryError(f"Unexpected '!' at position {position}: use NOT, '-' or != .", position, "!")
        return QueryError(
            f"Unexpected {char!r} at position {position}: expected {_expected(error.allowed, text, position)}.",
            position,
            char,
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type == "$END":
        position = len(text.rstrip())
        opened = _unclosed_paren(text)
        if opened is not None and "RPAR" in error.expected:
            return QueryError(f"The '(' at position {opened} is never closed: add ')'.", opened, "(")
        expected = _expected(error.expected, text, position)
        if not expected.startswith("a value after"):
            expected += f" after '{_previous_token(text, position)}'"
        return QueryError(f"The query ends too early: expected {expected}.", position, "")
    position = token.start_pos if token.start_pos is not None else 0
    if token.type == "RPAR" and text[:position].rstrip().endswith("("):
        return QueryError(f"Empty parentheses at position {position}: put a condition inside.", position, ")")
    if token.type == "RPAR" and _unclosed_paren(text[:position]) is None:
        return QueryError(f"Unexpected ')' at position {position}: there is no '(' to close.", position, ")")
    hint = f' (to search for the word, quote it: "{token.value}")' if token.type in {"_OR", "AND", "NOT"} else ""
    return QueryError(
        f"Unexpected '{token.value}' at position {position}: expected {_expected(error.expected, text, position)}"
        f"{hint}.",
        position,
        str(token.value),
    )


def _expected(terminals: set[str] | frozenset[str], text: str, position: int) -> str:
    previous = _previous_token(text, position)
    if previous and previous[-1] in "<>=@:":
        return f"a value after '{previous[-2:] if previous[-2:] in {'>=', '<=', '!='} else previous[-1]}'"
    words = [_EXPECTED_WORDS[name] for name in _EXPECTED_WORDS if name in terminals]
    if "a label" in words and "a quoted label" in words:
        words.remove("a quoted label")
    words = words[:4]
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _previous_token(text: str, position: int) -> str:
    match = re.search(r"(\S+)\s*$", text[:position])
    return match.group(1)[-20:] if match else ""


def _unclosed_paren(text: str) -> int | None:
    stack: list[int] = []
    in_quote = False
    for index, char in enumerate(text):
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            stack.append(index)
        elif not in_quote and char == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _check_size(tree: Tree, text: str) -> None:
    """Bound the work one query can ask for (each term is a subquery; nesting is recursion)."""
    terms = 0
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in {"group", "negation"}:
            depth += 1
            if depth > MAX_DEPTH:
                position = node.meta.start_pos if not node.meta.empty else 0
                raise QueryError(
                    f"The query nests parentheses or NOT more than {MAX_DEPTH} deep.", position, text[position]
                )
        if node.data == "term":
            terms += 1
            if terms > MAX_TERMS:
                position = node.meta.start_pos
                raise QueryError(
                    f"The query has more than {MAX_TERMS} terms; narrow it down.", position, _span_text(text, node)
                )
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


def _span_text(text: str, node: Tree) -> str:
    return text[node.meta.start_pos : node.meta.end_pos]


def _term_parts(node: Tree) -> tuple[Token, list[tuple[Token, Token]]]:
    name = node.children[0]
    assert isinstance(name, Token)
    qualifiers = []
    for qualifier in node.children[1:]:
        assert isinstance(qualifier, Tree)
        kind, value = qualifier.children
        assert isinstance(kind, Token) and isinstance(value, Token)
        qualifiers.append((kind, value))
    return name, qualifiers


def _unquote(token: Token) -> str:
    if token.type == "STRING":
        return re.sub(r"\\(.)", r"\1", token.value[1:-1])
    return str(token.value)


def _is_filter(node: Tree) -> bool:
    name, qualifiers = _term_parts(node)
    return (
        name.type == "WORD"
        and name.value.lower() in FIELD_NAMES
        and bool(qualifiers)
        and qualifiers[0][0].type in {"COLON", "CMP"}
    )


def _is_plain_word(node: Tree | Token) -> bool:
    return isinstance(node, Tree) and node.data == "term" and node.children[0].type == "WORD" and not _is_filter(node)


def _label_names(tree: Tree) -> set[str]:
    """Every label name the query may mention, including runs of words that may form one label."""
    names: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "term" and not _is_filter(node):
            names.add(_unquote(node.children[0]))
        if node.data == "and_expr":
            children = node.children
            for start in range(len(children)):
                for length in (2, 3):
                    run = children[start : start + length]
                    if len(run) == length and all(_is_plain_word(child) for child in run):
                        names.add(" ".join(str(child.children[0].value) for child in run))
    return names


class _Builder:
    def __init__(self, *, text: str, known: set[str], today: date) -> None:
        self.text = text
        self.known = known
        self.today = today

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
            if len(run) < length or not all(_is_plain_word(child) for child in run):
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
        if _is_filter(node):
            return self._filter(node)
        name, qualifiers = _term_parts(node)
        if name.type == "WORD" and name.value.lower() in FIELD_NAMES and qualifiers and qualifiers[0][0].type == "AT":
            field = name.value.lower()
            raise QueryError(
                f"'{name.value}' is a filter: write {field}:value, not {field}@value.",
                qualifiers[0][0].start_pos or 0,
                "@",
            )
        return self._label_term(node)

    def _label_term(self, node: Tree, *, name_override: str | None = None) -> LabelTerm:
        name, qualifiers = _term_parts(node)
        raw = name_override if name_override is not None else _unquote(name)
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
            word = _unquote(value).lower()
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
                    f"'{_span_text(self.text, node)}' asks for no {raw} but also for a confidence or size.",
                    conditions_at,
                    conditions,
                )
        if count is not None and not any(count.accepts(n) for n in (0, 1, 2, count.value, count.value + 1)):
            raise QueryError(
                f"'{_span_text(self.text, node)}' can never match: a count is never below zero.",
                conditions_at,
                conditions,
            )
        return term

    def _count(self, token: Token) -> int:
        text = _unquote(token)
        if not re.fullmatch(r"\d{1,7}", text) or int(text) > MAX_COUNT:
            raise QueryError(
                f"Expected a whole number of objects (0 to {MAX_COUNT}) at position {token.start_pos}, got '{text}'.",
                token.start_pos or 0,
                text,
            )
        return int(text)

    def _share(self, token: Token, what: str) -> float:
        """0-1, written as a fraction (0.25) or a percentage (25%)."""
        text = _unquote(token)
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
        name, qualifiers = _term_parts(node)
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
        value = _unquote(token)
        if field in {"uploaded", "taken"}:
            return self._date_filter(field, op, value, token, span)  # type: ignore[arg-type]
        if op not in {":", "=", "!="}:
            raise QueryError(
                f"'{field}' can only be compared with ':' or '!=' (like {field}:value), not '{op}'.",
                kind.start_pos or 0,
                op,
            )
        result: Node
        if field == "filename":
            if not value.strip():
                raise QueryError("filename: needs some text to look for.", token.start_pos or 0, str(token.value))
            result = FilenameMatch(pattern=value.strip()[:255], span=span)
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
        choices = {"status": STATUSES, "source": SOURCES, "format": sorted(set(FORMATS))}[field]
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
