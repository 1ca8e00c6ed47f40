"""“Did you mean …?” for labels nobody's pictures have, and the library's sort by confidence without a
label (results and a notice, never an error page)."""

from __future__ import annotations

import pytest

from search.selectors import query_parse
from search.suggestions import closest_label, unknown_labels
from tagging.boxes import Box
from tests.tagged_assets import make_asset, tag


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("circel", "circle"),
        ("CIRCEL", "circle"),
        ("tri", "triangle"),
        ("squar", "square"),
        ("traffic lihgt", "traffic light"),
        ("zebra", None),
        ("circle", None),  # known: nothing to suggest
        ("", None),
    ],
)
def test_closest_label(typed, expected):
    known = ["circle", "square", "triangle", "traffic light"]
    assert closest_label(typed, known=known) == expected


def test_only_the_users_own_labels_are_suggested(user, other_user, tagged, foreign):
    """tagged: dog and cat for ``user``; foreign: a car for ``other_user``."""
    mine = user.assets.all()
    query = query_parse("dgo -caat", assets=mine, owner=user)
    found = unknown_labels(user=user, query=query, text="dgo -caat")
    assert [(item.label, item.suggestion) for item in found] == [("dgo", "dog"), ("caat", "cat")]
    assert found[0].corrected == "dog -caat" and found[1].corrected == "dgo -cat"
    # "caar" is nearest to the other user's car: never named to this user.
    (theirs,) = unknown_labels(user=user, query=query_parse("caar", assets=mine, owner=user), text="caar")
    assert theirs.suggestion is None
    query = query_parse("caar", assets=other_user.assets.all(), owner=other_user)
    assert unknown_labels(user=other_user, query=query, text="caar")[0].suggestion == "car"


def test_a_multi_word_suggestion_is_quoted(user):
    asset = make_asset(user)
    tag(asset, ("traffic light", 0.9, Box(1, 1, 10, 10)))
    text = "trafic@0.5"
    query = query_parse(text, assets=user.assets.all(), owner=user)
    (found,) = unknown_labels(user=user, query=query, text=text)
    assert (found.suggestion, found.corrected) == ("traffic light", '"traffic light"@0.5')


def test_library_page_suggests_and_links(web_client, tagged):
    page = web_client.get("/", {"q": "dgo"}).content.decode()
    assert "No picture has a label called <q>dgo</q>: did you mean" in page
    assert 'href="?q=dog"' in page and ">dog</a>?" in page
    # The rest of the search stays as it was (the sort here).
    page = web_client.get("/", {"q": "dgo -cat", "sort": "objects"}).content.decode()
    assert 'href="?q=dog+-cat&amp;sort=objects"' in page
    page = web_client.get("/", {"q": "wombat"}).content.decode()
    assert "No picture has a label called <q>wombat</q>." in page and "did you mean" not in page


def test_library_confidence_sort_without_a_label_falls_back(web_client, tagged):
    response = web_client.get("/", {"sort": "confidence"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Sorting by confidence needs a label in the search" in page
    assert f'id="card-{tagged.pk}"' in page
    assert 'value="confidence"' not in page  # not offered without a label
    labelled = web_client.get("/", {"q": "dog", "sort": "confidence"}).content.decode()
    assert '<option value="confidence" selected>Confidence of “dog”</option>' in labelled
    assert "dog 0.90" in labelled and "Sorting by confidence needs" not in labelled
    # The API keeps its clear 400: a program asked for something that cannot be done.
    assert web_client.get("/api/assets/", {"sort": "confidence"}).status_code == 400


def test_library_objects_sort_shows_each_cards_count(web_client, tagged):
    page = web_client.get("/", {"sort": "objects"}).content.decode()
    assert '<span class="score">2 objects</span>' in page
