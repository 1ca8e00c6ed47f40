"""filename: and ?filename= wildcards: escaped LIKE on every backend, one length cap for both."""

from __future__ import annotations

import pytest

from media.models import Asset
from search.selectors import assets_filter, query_parse
from search.wildcards import MAX_FILENAME_PATTERN
from tests.search.test_search import make_asset

pytestmark = pytest.mark.django_db

# Backtracks in a regular expression: C(40, 9) ways to place the a's before failing on the b.
PATHOLOGICAL = "*a*a*a*a*a*a*a*a*a*b"


@pytest.fixture
def names(user):
    for name in ("a" * 40, "IMG_0001.JPG", "img_0012.jpg", "100%_odd.png", "100x-odd.png", r"back\slash.png",
                 "Ünïcode_ä.png", "report.jpg.exe"):
        make_asset(user, name)
    return user


def matching(user, pattern: str) -> set[str]:
    assets = Asset.objects.filter(owner=user)
    query = query_parse(f'filename:"{pattern}"', assets=assets, owner=user)
    return set(assets_filter(assets=assets, query=query).values_list("original_filename", flat=True))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("img_*", {"IMG_0001.JPG", "img_0012.jpg"}),
        ("IMG_000?.jpg", {"IMG_0001.JPG"}),
        ("*.jpg", {"IMG_0001.JPG", "img_0012.jpg"}),  # anchored: report.jpg.exe ends otherwise
        ("100%_*", {"100%_odd.png"}),  # % and _ are literal, not LIKE's wildcards
        ("100?_odd.png", {"100%_odd.png"}),
        ("back\\*", {r"back\slash.png"}),  # a backslash is literal, not LIKE's escape
        ("*a*a", {"a" * 40}),
        (PATHOLOGICAL, set()),
        ("a" * 40 + "?", set()),
        ("?" * 40, {"a" * 40}),
    ],
)
def test_wildcards_match_whole_names_with_literal_like_characters(names, pattern, expected):
    assert matching(names, pattern) == expected


def test_the_query_is_a_like_never_a_regular_expression(names):
    assets = Asset.objects.filter(owner=names)
    sql = str(assets_filter(assets=assets, query=query_parse(f"filename:{PATHOLOGICAL}", assets=assets)).query)
    assert " LIKE " in sql.upper()
    assert "REGEXP" not in sql.upper() and "~*" not in sql


@pytest.mark.parametrize("length", [MAX_FILENAME_PATTERN, MAX_FILENAME_PATTERN + 1])
def test_both_entry_points_share_the_length_cap(api_client, names, length):
    pattern = "a" + "?" * 39 + "*" * (length - 40)  # 40 characters or more, starting with a
    by_filter = api_client.get("/api/assets/", {"filename": pattern})
    by_query = api_client.get("/api/assets/", {"q": f"filename:{pattern}"})
    if length <= MAX_FILENAME_PATTERN:
        assert by_filter.status_code == 200 and by_query.status_code == 200, (by_filter.content, by_query.content)
        assert [item["filename"] for item in by_filter.json()["results"]] == ["a" * 40]
        return
    assert by_filter.status_code == 400 and "filename" in by_filter.json()["errors"], by_filter.content
    assert str(MAX_FILENAME_PATTERN) in str(by_filter.json()["errors"]["filename"])
    body = by_query.json()
    assert by_query.status_code == 400 and body["code"] == "invalid_query", body
    assert f"longer than {MAX_FILENAME_PATTERN} characters" in body["detail"]
