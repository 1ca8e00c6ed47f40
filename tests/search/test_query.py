"""The search query parser: every operator, quoting, case, plurals and synonyms, errors and fuzzing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import labels, syntax
from search.nodes import (
    And,
    Compare,
    DateMissing,
    DateRange,
    FieldEquals,
    FilenameMatch,
    LabelTerm,
    Not,
    Or,
    positive_labels,
    selected_labels,
)
from search.query import QueryError, parse_query, toggle_label
from tagging.coco_categories import COCO_CATEGORIES, COCO_LABELS
from tagging.labels import normalize_label

TODAY = date(2025, 3, 15)


def parse(text: str, **kwargs):
    return parse_query(text, today=TODAY, **kwargs)


def label(name: str, **kwargs) -> LabelTerm:
    return LabelTerm(label=name, **kwargs)


def strip_spans(node):
    """The tree without source positions, to compare meaning only."""
    if isinstance(node, And | Or):
        return type(node)(tuple(strip_spans(item) for item in node.items))
    if isinstance(node, Not):
        return Not(strip_spans(node.item))
    if hasattr(node, "span"):
        return type(node)(**{**node.__dict__, "span": (0, 0)})
    return node


def meaning(text: str, **kwargs):
    return strip_spans(parse(text, **kwargs))


# --- operators ----------------------------------------------------------------------------------


def test_empty_query_is_none():
    assert parse("") is None
    assert parse("   \t ") is None


def test_bare_labels_are_anded():
    assert meaning("dog frisbee") == And((label("dog"), label("frisbee")))
    assert meaning("dog AND frisbee") == meaning("dog frisbee")


def test_or_not_minus_and_parentheses():
    assert meaning("(cat OR dog) -person") == And((Or((label("cat"), label("dog"))), Not(label("person"))))
    assert meaning("NOT person") == Not(label("person"))
    assert meaning("--dog") == Not(Not(label("dog")))


def test_and_binds_tighter_than_or():
    assert meaning("cat OR dog frisbee") == Or((label("cat"), And((label("dog"), label("frisbee")))))


def test_keywords_are_case_insensitive_but_quoted_keywords_are_labels():
    assert meaning("cat or dog") == meaning("cat OR dog")
    assert meaning("not dog") == Not(label("dog"))
    assert meaning('"or"') == label("or", known=False)
    # Words that merely start with a keyword are labels.
    assert meaning("orange notebook") == And((label("orange"), label("notebook", known=False)))


def test_quoted_multi_word_labels():
    assert meaning('"traffic light"') == label("traffic light")
    assert meaning('"Teddy   Bear" dog') == And((label("teddy bear"), label("dog")))
    assert meaning('"say \\"cheese\\""') == label('say "cheese"', known=False)


def test_curly_quotes_from_phones_work():
    assert meaning("\u201ctraffic light\u201d") == label("traffic light")


def test_unquoted_words_that_form_a_known_label_are_joined():
    assert meaning("traffic light") == label("traffic light")
    assert meaning("teddy bears>=2") == label("teddy bear", count=Compare(">=", 2))
    assert meaning("hot dogs") == label("hot dog")
    # ...but not when the first word is a label of its own, or AND was written out.
    assert meaning("dog bed") == And((label("dog"), label("bed")))
    assert meaning("teddy AND bear") == And((label("teddy bear"), label("bear")))


def test_a_joined_label_keeps_its_span_for_toggling():
    text = "cat teddy bear dog"
    node = parse(text)
    assert toggle_label(text, node, "teddy bear") == "cat dog"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("person>=3", Compare(">=", 3)),
        ("car=0", Compare("=", 0)),
        ("dog<2", Compare("<", 2)),
        ("dog<=2", Compare("<=", 2)),
        ("dog>1", Compare(">", 1)),
        ("dog!=1", Compare("!=", 1)),
        ("dog >= 3", Compare(">=", 3)),
    ],
)
def test_counts(text, count):
    assert strip_spans(parse(text)).count == count


def test_which_counts_include_assets_without_the_label():
    assert parse("car=0").counts_absence and parse("dog<2").counts_absence and parse("dog!=1").counts_absence
    assert not parse("dog>=1").counts_absence and not parse("dog=2").counts_absence
    # With a confidence the label has to be there.
    assert not parse("dog<2@0.5").counts_absence


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("dog@0.8", (Compare(">=", 0.8),)),
        ("dog@80%", (Compare(">=", 0.8),)),
        ("dog@.5", (Compare(">=", 0.5),)),
        ("dog@1", (Compare(">=", 1.0),)),
        ("dog@conf<0.5", (Compare("<", 0.5),)),
        ("dog@confidence>=90%", (Compare(">=", 0.9),)),
    ],
)
def test_confidence(text, confidence):
    assert parse(text).confidence == confidence


@pytest.mark.parametrize(
    ("text", "area"),
    [
        ("dog:big", (Compare(">=", 0.25),)),
        ("dog:large", (Compare(">=", 0.25),)),
        ("dog:huge", (Compare(">=", 0.5),)),
        ("dog:small", (Compare("<", 0.05),)),
        ("dog:medium", (Compare(">=", 0.05), Compare("<", 0.25))),
        ("dog@area>25%", (Compare(">", 0.25),)),
        ("dog:area>=0.1", (Compare(">=", 0.1),)),
        ("dog:size<5%", (Compare("<", 0.05),)),
    ],
)
def test_box_size(text, area):
    assert parse(text).area == area


def test_conditions_combine_on_one_label():
    term = parse('"teddy bear">=2@0.7:big')
    assert term == LabelTerm(
        label="teddy bear",
        count=Compare(">=", 2),
        confidence=(Compare(">=", 0.7),),
        area=(Compare(">=", 0.25),),
        span=(0, 23),
    )


# --- labels: case, plurals, synonyms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "resolved"),
    [
        ("Dog", "dog"),
        ("DOGS", "dog"),
        ("puppies", "dog"),
        ("people", "person"),
        ("Persons", "person"),
        ("women", "person"),
        ("kids", "person"),
        ("children", "person"),
        ("kitten", "cat"),
        ("automobile", "car"),
        ("bikes", "bicycle"),
        ("motorbike", "motorcycle"),
        ("TV", "tv"),
        ("television", "tv"),
        ("phone", "cell phone"),
        ("cellphones", "cell phone"),
        ("sofa", "couch"),
        ("couches", "couch"),
        ("buses", "bus"),
        ("knives", "knife"),
        ("mice", "mouse"),
        ("ties", "tie"),
        ("oranges", "orange"),
        ("wine glasses", "wine glass"),
        ("skis", "skis"),
        ("ski", "skis"),
        ("sheep", "sheep"),
        ("fridge", "refrigerator"),
        ("unicorns", "unicorns"),
    ],
)
def test_label_resolution(typed, resolved):
    assert labels.resolve_label(typed, COCO_LABELS)[0] == resolved


def test_labels_from_the_vocabulary_win_and_are_singularised():
    def vocabulary(candidates: set[str]) -> set[str]:
        return candidates & (COCO_LABELS | {"red ball", "kitten"})

    assert meaning('"red balls"', vocabulary=vocabulary) == label("red ball")
    # A label people actually use beats the synonym.
    assert meaning("kittens", vocabulary=vocabulary) == label("kitten")
    assert meaning("kittens") == label("cat")


def test_unknown_labels_are_kept_and_marked():
    assert meaning("Unicorn") == label("unicorn", known=False)


def test_every_synonym_points_at_a_coco_label():
    assert set(labels.SYNONYMS.values()) <= COCO_LABELS
    assert all(name == normalize_label(name) for name in labels.SYNONYMS)


def test_coco_list_matches_torchvision():
    weights = pytest.importorskip("torchvision.models.detection").FasterRCNN_MobileNet_V3_Large_FPN_Weights
    assert list(COCO_CATEGORIES) == list(weights.COCO_V1.meta["categories"])
    assert len(COCO_LABELS) == 80


def test_hard_coded_choices_match_the_models():
    from media.imaging import ACCEPTED_FORMATS
    from media.models import TaggingStatus
    from tagging.models import DetectionSource

    assert set(syntax.STATUSES) == set(TaggingStatus.values)
    assert set(syntax.SOURCES) == set(DetectionSource.values)
    assert set(syntax.FORMATS.values()) == set(ACCEPTED_FORMATS)
    from media.models import AssetKind

    assert set(syntax.KINDS) == set(AssetKind.values)


def test_kind_filter():
    assert parse_query("kind:video") == FieldEquals(field="kind", value="video", span=(0, 10))
    assert parse_query("kind:IMAGE").value == "image"
    assert isinstance(parse_query("dog kind!=video"), And)
    with pytest.raises(QueryError, match="Unknown kind 'film'.*image, video"):
        parse_query("kind:film")


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uploaded:2024", DateRange("uploaded", date(2024, 1, 1), date(2025, 1, 1))),
        ("uploaded:2024-06", DateRange("uploaded", date(2024, 6, 1), date(2024, 7, 1))),
        ("uploaded:2024-12", DateRange("uploaded", date(2024, 12, 1), date(2025, 1, 1))),
        ("taken:2024-02-29", DateRange("taken", date(2024, 2, 29), date(2024, 3, 1))),
        ("taken>=2024-06", DateRange("taken", date(2024, 6, 1), None)),
        ("taken>2024-06", DateRange("taken", date(2024, 7, 1), None)),
        ("taken<2020", DateRange("taken", None, date(2020, 1, 1))),
        ("taken<=2020", DateRange("taken", None, date(2021, 1, 1))),
        ("taken:2023-01..2023-03", DateRange("taken", date(2023, 1, 1), date(2023, 4, 1))),
        ("taken:2023..", DateRange("taken", date(2023, 1, 1), None)),
        ("taken:..2023-03-05", DateRange("taken", None, date(2023, 3, 6))),
        ("uploaded:today", DateRange("uploaded", TODAY, date(2025, 3, 16))),
        ("added:yesterday", DateRange("uploaded", date(2025, 3, 14), TODAY)),
        ("uploaded:7d", DateRange("uploaded", date(2025, 3, 9), date(2025, 3, 16))),
        ("uploaded!=2024", Not(DateRange("uploaded", date(2024, 1, 1), date(2025, 1, 1)))),
        ("taken:none", DateMissing("taken")),
        ("-taken:unknown", Not(DateMissing("taken"))),
        ("status:tagged", FieldEquals("status", "tagged")),
        ("Status:FAILED", FieldEquals("status", "failed")),
        ("status!=failed", Not(FieldEquals("status", "failed"))),
        ("source:manual", FieldEquals("source", "manual")),
        ("format:jpg", FieldEquals("format", "JPEG")),
        ("type:heic", FieldEquals("format", "HEIF")),
        ("filename:IMG_*", FilenameMatch("IMG_*")),
        ('filename:"summer 2024"', FilenameMatch("summer 2024")),
    ],
)
def test_filters(text, expected):
    assert meaning(text) == expected


def test_filters_mix_with_labels():
    assert meaning("dog uploaded:2024 -status:failed") == And(
        (
            label("dog"),
            DateRange("uploaded", date(2024, 1, 1), date(2025, 1, 1)),
            Not(FieldEquals("status", "failed")),
        )
    )


def test_a_field_name_alone_or_quoted_is_a_label():
    assert meaning("status") == label("status", known=False)
    assert meaning('"format":big') == label("format", known=False, area=(Compare(">=", 0.25),))


# --- reading a parsed query ---------------------------------------------------------------------


def test_positive_and_selected_labels():
    node = parse("(cat OR dog) frisbee -person car=0 bird>=2")
    assert positive_labels(node) == ["cat", "dog", "frisbee", "bird"]
    assert selected_labels(node) == {"frisbee", "bird"}


@pytest.mark.parametrize(
    ("text", "toggled", "expected"),
    [
        ("", "dog", "dog"),
        ("dog", "dog", ""),
        ("cat dog", "dog", "cat"),
        ("dog AND cat", "dog", "cat"),
        ("cat AND dog AND bird", "dog", "cat AND bird"),
        ("(dog) cat", "dog", "cat"),
        ("cat", "traffic light", 'cat "traffic light"'),
        ("cat OR dog", "bird", "(cat OR dog) bird"),
        ("-dog", "dog", "-dog dog"),
        ("dogs@0.5 cat", "dog", "cat"),
    ],
)
def test_toggle_label(text, toggled, expected):
    result = toggle_label(text, parse(text), toggled)
    assert result == expected
    parse(result)  # still a valid query


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "token", "words"),
    [
        ("dog AND", 7, "", "after 'AND'"),
        ("(cat OR dog", 0, "(", "never closed"),
        ("cat)", 3, ")", "no '(' to close"),
        ("()", 1, ")", "Empty parentheses"),
        ('"traffic light', 0, '"', "quote"),
        ("dog>=", 5, "", "value after '>='"),
        ("dog>=x", 5, "x", "whole number"),
        ("dog>=2.5", 5, "2.5", "whole number"),
        ("dog=99999999", 4, "99999999", "whole number"),
        ("dog@2", 4, "2", "between 0 and 1"),
        ("dog@80", 4, "80", "80%"),
        ("dog@nan", 4, "nan", "confidence"),
        ("dog@area", 4, "area", "comparison"),
        ("dog:foo", 4, "foo", "Unknown condition"),
        ("dog=0@0.8", 3, "=0@0.8", "asks for no dog"),
        ("dog<0", 3, "<0", "never match"),
        ("dog>=1>=2", 6, ">=", "twice"),
        ("a OR OR b", 5, "OR", "expected a label"),
        ("status:not", 7, "not", 'quote it: "not"'),
        ("status:foo", 7, "foo", "pending, processing, tagged, failed"),
        ("status>=tagged", 6, ">=", "status:value"),
        ("source:robot", 7, "robot", "auto, manual"),
        ("format:bmp", 7, "bmp", "jpeg"),
        ("status@x", 6, "@", "filter"),
        ("uploaded:2024-13", 9, "2024-13", "not a date"),
        ("uploaded:9999", 9, "9999", "out of range"),
        ("taken>=0001-01-01", 7, "0001-01-01", "out of range"),
        ("taken:2023-02-29", 6, "2023-02-29", "not a date"),
        ("taken:2025..2024", 6, "2025..2024", "ends before it starts"),
        ("uploaded:..", 9, "..", "at least one end"),
        ("uploaded:none", 9, "none", "taken:none"),
        ("uploaded>=2024<2025", 14, "<", "range"),
        ('""', 0, '""', "Empty quotes"),
        ('filename:""', 9, '""', "filename"),
        ("dog!", 3, "!", "NOT"),
        ("dog \x00", 4, "\x00", "unusable character"),
    ],
)
def test_bad_queries_point_at_the_bad_token(text, position, token, words):
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert (error.position, error.token) == (position, token), error.message
    assert words in error.message
    assert text[error.position : error.position + len(error.token)] == error.token


def test_limits():
    with pytest.raises(QueryError, match="limit is 500"):
        parse("dog " * 200)
    with pytest.raises(QueryError, match="more than 40 terms"):
        parse(" OR ".join(["dog"] * 41))
    parse(" OR ".join(["dog"] * 40))
    with pytest.raises(QueryError, match="nests") as caught:
        parse("(" * 25 + "dog" + ")" * 25)
    assert caught.value.token == "("
    with pytest.raises(QueryError, match="nests"):
        parse("NOT " * 25 + "dog")


# --- fuzzing ------------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [" ", "dog", "cats", '"', "(", ")", "OR", "and", "NOT", "-", ">=", "<", "=", "!=", "@", ":", "0.5", "80%",
     "3", "area", "big", "status", "tagged", "uploaded", "2024-06", "..", "taken", "none", "filename", "*",
     "\\", "\u201c", "traffic light", "\x00", "\ud800", "é", "%"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=25).map("".join)))
def test_fuzz_only_query_errors(text):
    try:
        result = parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert error.message
        return
    # Whatever parses can be toggled and read without surprises.
    positive_labels(result)
    for name in ("dog", "traffic light"):
        toggled = toggle_label(text, result, name)
        assert isinstance(toggled, str)
