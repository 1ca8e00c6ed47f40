"""Counts that stop growing with the library: the page's "N images" counted up to a limit, facets of a
broad search over a sample of its matches; both say when they are not exact, and both stay owner-scoped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from media.models import Asset
from media.selectors import assets_visible_to
from search import selectors
from search.selectors import Facet, ResultCount, label_facets, query_parse, results_count
from tagging.boxes import Box
from tagging.models import LabelCount
from tests.tagged_assets import make_asset, tag

pytestmark = pytest.mark.django_db
BOX = Box(1, 1, 10, 10)
BASE = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def pictures(user, other_user) -> list[Asset]:
    """Alice's five pictures, oldest first (dog+cat, dog+car, cat, dog+cat, dog); Mallory's dog+cat+zebra."""
    made = []
    for day, labels in enumerate((("dog", "cat"), ("dog", "car"), ("cat",), ("dog", "cat"), ("dog",))):
        asset = make_asset(user, color=(day * 20, 40, 60), name=f"{day}.png")
        tag(asset, *((label, 0.9, BOX) for label in labels))
        Asset.objects.filter(pk=asset.pk).update(created_at=BASE + timedelta(days=day))
        made.append(asset)
    theirs = make_asset(other_user, color=(1, 2, 3), name="m.png")
    tag(theirs, ("dog", 0.9, BOX), ("cat", 0.9, BOX), ("zebra", 0.9, BOX))
    Asset.objects.filter(pk=theirs.pk).update(created_at=BASE + timedelta(days=30))
    return made


def parse(user, text: str):  # type: ignore[no-untyped-def]
    return query_parse(text, assets=assets_visible_to(user), owner=user)


def recount(user, text: str) -> int:  # type: ignore[no-untyped-def]
    return selectors.assets_filter(assets=assets_visible_to(user), query=parse(user, text)).count()


@pytest.mark.parametrize("text", ["", "dog cat", "-car", "dog OR car", "cat -car", "dog@0.5", "unicorn"])
def test_result_count_is_exact_up_to_the_limit_and_says_more_past_it(user, pictures, text):
    exact = recount(user, text)
    assert results_count(user=user, query=parse(user, text)) == ResultCount(exact)
    assert results_count(user=user, query=parse(user, text), limit=exact) == ResultCount(exact)
    if exact:
        assert results_count(user=user, query=parse(user, text), limit=exact - 1) == ResultCount(exact - 1, exact=False)


def test_result_count_is_the_users_own(user, other_user, pictures):
    assert results_count(user=other_user, query=parse(other_user, "dog cat")) == ResultCount(1)
    assert results_count(user=other_user, query=None) == ResultCount(1)
    anonymous = type("Anonymous", (), {"is_authenticated": False})()
    assert results_count(user=anonymous, query=None) == ResultCount(0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the label summary is kept by PostgreSQL triggers")
def test_one_label_count_comes_from_the_label_summary(user, pictures):
    assert results_count(user=user, query=parse(user, "dog")) == ResultCount(4)
    assert results_count(user=user, query=parse(user, "dog"), limit=1) == ResultCount(4)  # exact, whatever the limit
    # A corrupted summary shows: the count really is read from it.
    LabelCount.objects.create(owner_id=user.pk, label_id=pictures[0].tags.get(label__name="dog").label_id, assets=3)
    assert results_count(user=user, query=parse(user, "dog")) == ResultCount(7)


def test_facets_of_a_search_within_the_sample_are_exact(user, pictures):
    facets = label_facets(user=user, query=parse(user, "-car"), sample=4)  # 4 matches
    assert facets == [Facet("cat", 3), Facet("dog", 3)] == label_facets(user=user, query=parse(user, "-car"))


def test_facets_past_the_sample_count_some_matches_as_lower_bounds(user, pictures):
    # "-car" matches days 0 (dog, cat), 2 (cat), 3 (dog, cat), 4 (dog): counted in 3 of them (sample + 1).
    full = {facet.label: facet.count for facet in label_facets(user=user, query=parse(user, "-car"))}
    facets = label_facets(user=user, query=parse(user, "-car"), sample=2)
    assert facets and all(not facet.exact for facet in facets)
    assert all(facet.count <= min(full[facet.label], 3) for facet in facets)
    assert sum(facet.count for facet in facets) in {3, 4, 5}  # three of the four matches' tags
    # Autocomplete within the search takes a sample too.
    within = label_facets(user=user, query=parse(user, "-car"), prefix="ca", sample=2)
    assert [facet.label for facet in within] == ["cat"] and not within[0].exact
    # Mallory's picture (with her zebra) never enters Alice's sample, however small.
    for sample in range(4):
        found = label_facets(user=user, query=parse(user, "dog OR cat"), sample=sample)
        assert "zebra" not in {facet.label for facet in found}


def test_library_page_and_api_say_when_counts_are_bounded(web_client, api_client, user, pictures, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    monkeypatch.setattr(selectors, "FACET_SAMPLE", 2)
    page = web_client.get("/", {"q": "-car"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "More than 2 images match" in text and "Counted in a sample of 2 matches." in text
    assert page.context["total"] == 2 and page.context["total_exact"] is False
    assert 'data-total-more="1"' in text and re.search(r'class="facet-count"[^>]*>\d\+</span>', text)
    answer = api_client.get("/api/labels/", {"q": "-car"}).json()
    assert {item["label"] for item in answer} <= {"dog", "cat"} and all(item["exact"] is False for item in answer)
    small = web_client.get("/", {"q": "car"})
    assert small.context["total"] == 1 and small.context["total_exact"] is True
    assert "1 image match" in small.content.decode() and "data-total-more" not in small.content.decode()
