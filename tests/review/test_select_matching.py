""""Select all N matching": the library's bulk actions on every image a search finds, not only the
cards loaded; the count is on the page before acting, and the confirmation counts them all."""

from __future__ import annotations

import pytest

from media.models import Asset
from tagging.boxes import Box
from tagging.models import Detection
from tests.tagged_assets import make_asset, tag

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


@pytest.fixture
def dogs(user):
    made = []
    for n in range(7):
        asset = make_asset(user, color=(n * 20, 9, 9), name=f"dog{n}.png")
        tag(asset, ("dog", 0.9, Box(1, 1, 10, 10)))
        made.append(asset)
    cat = make_asset(user, color=(250, 9, 9), name="cat.png")
    tag(cat, ("cat", 0.9, Box(1, 1, 10, 10)))
    return made


def test_the_library_shows_the_count_and_carries_the_search(web_client, dogs, monkeypatch):
    from library.views import LibraryView

    monkeypatch.setattr(LibraryView, "page_size", 3)
    page = web_client.get("/", {"q": "dog", "sort": "oldest", "cursor": ""}).content.decode()
    assert page.count('<li class="card"') == 3
    assert "All 7 images matching, not only those shown" in page
    assert 'name="search" value="q=dog&amp;sort=oldest"' in page


def test_bulk_tag_on_everything_matching(web_client, user, dogs, foreign):
    response = web_client.post("/assets/bulk/", {"action": "add_tag", "label": "pet", "matching": "1",
                                                 "search": "q=dog", "ids": [dogs[0].pk], "next": "/?q=dog"})
    assert messages_of(response) == ["Added “pet” to 7 of 7 images."]
    assert Detection.objects.filter(label__name="pet").count() == 7
    assert not Detection.objects.filter(asset__owner=foreign.owner, label__name="pet").exists()


def test_delete_everything_matching_asks_with_the_count(web_client, user, dogs):
    confirm = web_client.post("/assets/bulk/", {"action": "delete", "matching": "1", "search": "q=dog"})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Move 7 images to the trash?" in page
    assert 'name="matching" value="1"' in page and 'name="search" value="q=dog"' in page
    done = web_client.post("/assets/bulk/", {"action": "delete", "matching": "1", "search": "q=dog", "confirm": "1"})
    assert messages_of(done) == ["Moved 7 images to the trash."]
    assert list(Asset.objects.filter(owner=user).values_list("original_filename", flat=True)) == ["cat.png"]


def test_too_many_or_a_broken_search_says_so_and_changes_nothing(web_client, dogs, settings):
    settings.BULK_MAX_ASSETS = 5
    response = web_client.post("/assets/bulk/", {"action": "add_tag", "label": "x", "matching": "1",
                                                 "search": "q=dog"})
    assert messages_of(response) == [
        "The search matches more than 5 images; narrow it down (this takes at most 5 at a time)."
    ]
    broken = web_client.post("/assets/bulk/", {"action": "retag", "matching": "1", "search": "q=%28dog"})
    assert messages_of(broken)[0].startswith("The search could not be run: The '(' at position 0 is never closed")
    assert not Detection.objects.filter(label__name="x").exists()
