"""The query language's grammar and its limits: text to a lark tree, with errors people can act on.

The tree is turned into ``search.nodes`` by ``search.builder``; ``search.query.parse_query`` runs both.
"""

from __future__ import annotations

import re

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

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
KINDS = ("image", "video")  # media.models.AssetKind
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
    "collection": "collection", "album": "collection",
    "is": "is",
    "kind": "kind",
}  # fmt: skip
# is:favorite and the spellings people type for it.
FAVORITE_WORDS = {"favorite", "favourite", "fav", "favorites", "favourites", "heart", "hearted", "starred"}
# Smart collections whose searches name other collections: how deep, and how many terms in all.
MAX_COLLECTION_DEPTH = 4
MAX_NESTED_TERMS = 4 * MAX_TERMS

KEYWORDS = {"and", "or", "not"}
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



def normalize_quotes(text: str) -> str:
    # Phones turn " into curly quotes; they are the same length, so positions still match.
    return text.translate({ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb"})


def parse_tree(text: str) -> Tree:
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


def check_size(tree: Tree, text: str) -> None:
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
                    f"The query has more than {MAX_TERMS} terms; narrow it down.", position, span_text(text, node)
                )
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


def span_text(text: str, node: Tree) -> str:
    return text[node.meta.start_pos : node.meta.end_pos]


def term_parts(node: Tree) -> tuple[Token, list[tuple[Token, Token]]]:
    name = node.children[0]
    assert isinstance(name, Token)
    qualifiers = []
    for qualifier in node.children[1:]:
        assert isinstance(qualifier, Tree)
        kind, value = qualifier.children
        assert isinstance(kind, Token) and isinstance(value, Token)
        qualifiers.append((kind, value))
    return name, qualifiers


def unquote(token: Token) -> str:
    if token.type == "STRING":
        return re.sub(r"\\(.)", r"\1", token.value[1:-1])
    return str(token.value)


def is_filter(node: Tree) -> bool:
    name, qualifiers = term_parts(node)
    return (
        name.type == "WORD"
        and name.value.lower() in FIELD_NAMES
        and bool(qualifiers)
        and qualifiers[0][0].type in {"COLON", "CMP"}
    )


def collection_names(tree: Tree) -> set[str]:
    """The names in the query's ``collection:"Name"`` filters, spaces collapsed as collection names are."""
    names: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "term" and is_filter(node):
            name, qualifiers = term_parts(node)
            if FIELD_NAMES[name.value.lower()] == "collection" and len(qualifiers) == 1:
                names.add(" ".join(unquote(qualifiers[0][1]).split()))
    return names


def term_count(tree: Tree) -> int:
    return sum(1 for node in tree.iter_subtrees() if node.data == "term")


def is_plain_word(node: Tree | Token) -> bool:
    return isinstance(node, Tree) and node.data == "term" and node.children[0].type == "WORD" and not is_filter(node)


def label_names(tree: Tree) -> set[str]:
    """Every label name the query may mention, including runs of words that may form one label."""
    names: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "term" and not is_filter(node):
            names.add(unquote(node.children[0]))
        if node.data == "and_expr":
            children = node.children
            for start in range(len(children)):
                for length in (2, 3):
                    run = children[start : start + length]
                    if len(run) == length and all(is_plain_word(child) for child in run):
                        names.add(" ".join(str(child.children[0].value) for child in run))
    return names
