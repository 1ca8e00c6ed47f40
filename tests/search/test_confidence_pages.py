"""Sorting a search by a label it does not require (``cat OR dog``, by cat's confidence): pages are read
in two parts (search.selectors._confidence_parts), pictures with the label by its confidence, then the
rest newest first, and must page exactly as the whole ranking does, forwards and backwards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assetsite.pagination import keyset_page
from search.query import parse_query
from search.selectors import assets_search, results_count
from tests.search.test_search import make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def cats_and_dogs(user, other_user) -> None:
    confidences = [0.91, 0.55, 0.91, 0.72, 0.6, 0.91, 0.83]  # ties broken by upload date...
    for number, confidence in enumerate(confidences):
        make_asset(user, f"cat{number}.jpg", objects=(("cat", confidence, 0.2),), day=number)
    make_asset(user, "cat7.jpg", objects=(("cat", 0.91, 0.2),), day=5)  # ...then by id
    for number in range(6):
        make_asset(user, f"dog{number}.jpg", objects=(("dog", 0.9, 0.2),), day=number)
    make_asset(user, "dog6.jpg", objects=(("dog", 0.8, 0.2),), day=5)
    make_asset(user, "cat_and_dog.jpg", objects=(("dog", 0.99, 0.2), ("cat", 0.5, 0.1)), day=9)
    make_asset(other_user, "not_yours.jpg", objects=(("cat", 0.99, 0.2),))


def ranking(user) -> list[str]:
    """The whole ranking in one query: what the pages read in parts must add up to."""
    return [asset.original_filename for asset in assets_search(user=user, query=parse_query("cat OR dog"),
                                                                sort="confidence")]


def test_the_ranking_puts_the_label_first_by_confidence_then_the_rest_newest_first(user, cats_and_dogs):
    ranked = ranking(user)
    assert sorted(ranked[:2]) == ["cat5.jpg", "cat7.jpg"]  # 0.91 and the same upload time
    assert ranked[2:8] == ["cat2.jpg", "cat0.jpg", "cat6.jpg", "cat3.jpg", "cat4.jpg", "cat1.jpg"]
    assert ranked[8] == "cat_and_dog.jpg" and len(ranked) == 16 and "not_yours.jpg" not in ranked
    # No cat: newest first, whatever the dog's confidence.
    assert sorted(ranked[9:11]) == ["dog5.jpg", "dog6.jpg"]
    assert ranked[11:] == ["dog4.jpg", "dog3.jpg", "dog2.jpg", "dog1.jpg", "dog0.jpg"]


@pytest.mark.parametrize("size", [1, 3, 8, 20])
def test_pages_read_in_parts_follow_the_ranking_both_ways(user, cats_and_dogs, size):
    queryset = assets_search(user=user, query=parse_query("cat OR dog"), sort="confidence")
    expected = ranking(user)
    forwards, cursor, last = [], None, None
    while True:
        page = keyset_page(queryset=queryset, cursor=cursor, size=size)
        forwards += [asset.original_filename for asset in page.items]
        last = page
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert forwards == expected

    backwards, cursor = [], last.previous_cursor
    while cursor is not None:
        page = keyset_page(queryset=queryset, cursor=cursor, size=size)
        backwards = [asset.original_filename for asset in page.items] + backwards
        cursor = page.previous_cursor
    assert backwards + [asset.original_filename for asset in last.items] == expected


def test_a_page_orders_by_an_indexed_column_not_the_whole_ranking(user, cats_and_dogs):
    queryset = assets_search(user=user, query=parse_query("cat OR dog"), sort="confidence")
    with CaptureQueriesContext(connection) as first:
        page = keyset_page(queryset=queryset, cursor=None, size=3)
    assert len(first.captured_queries) == 1  # the labelled part alone fills the page
    with CaptureQueriesContext(connection) as across:
        keyset_page(queryset=queryset, cursor=page.next_cursor, size=8)  # the last cats, then dogs
    assert len(across.captured_queries) == 2
    for query in first.captured_queries + across.captured_queries:
        assert "COALESCE" not in query["sql"].upper(), query["sql"]


def test_the_result_count_does_not_rank_the_match(user, cats_and_dogs):
    with CaptureQueriesContext(connection) as counted:
        count = results_count(user=user, query=parse_query("cat OR dog"))
    assert (count.value, count.exact) == (16, True)
    counting = [query["sql"].upper() for query in counted.captured_queries if "media_asset" in query["sql"]]
    assert len(counting) == 1
    assert "COALESCE" not in counting[0] and "ORDER BY" not in counting[0], counting[0]
