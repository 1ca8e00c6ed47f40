"""Collections through the API, the search language and the pages: manual ones (add, remove, never
deleting an image), smart ones (members are whatever the search finds now, so new uploads join), names,
loops between smart collections, and another user's collection (404)."""

from __future__ import annotations

import pytest

from albums.models import Collection, CollectionItem
from media.models import Asset
from tagging.boxes import Box
from tests.tagged_assets import make_asset, tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


@pytest.fixture
def pets(user):
    """Three of the user's pictures: a dog, a cat, a dog with a cat."""
    made = {}
    for n, (name, labels) in enumerate({"dog.png": ["dog"], "cat.png": ["cat"], "both.png": ["dog", "cat"]}.items()):
        asset = make_asset(user, color=(10 * n + 5, 40, 90), name=name)
        tag(asset, *[(label, 0.9, Box(2 + 20 * i, 2, 15, 15)) for i, label in enumerate(labels)])
        made[name] = asset
    return made


def ids(response) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


def test_a_manual_collection_through_the_api(api_client, user, pets, foreign):
    made = api_client.post("/api/collections/", {"name": "  Summer   2024 "}, format="json")
    assert made.status_code == 201, made.content
    data = made.json()
    assert data["name"] == "Summer 2024" and data["kind"] == "manual" and data["count"] == 0
    key = data["id"]
    added = api_client.post(f"/api/collections/{key}/assets/",
                            {"ids": [str(pets["dog.png"].pk), str(pets["cat.png"].pk), str(foreign.pk)]},
                            format="json")
    assert added.json() == {"changed": 2, "matched": 2, "not_found": [str(foreign.pk)]}
    again = api_client.post(f"/api/collections/{key}/assets/", {"ids": [str(pets["dog.png"].pk)]}, format="json")
    assert again.json()["changed"] == 0
    assert api_client.get(f"/api/collections/{key}/").json()["count"] == 2
    listed = api_client.get(f"/api/assets/?collection={key}")
    assert ids(listed) == {str(pets["dog.png"].pk), str(pets["cat.png"].pk)}
    # Every search parameter works inside it.
    assert ids(api_client.get(f"/api/assets/?collection={key}&q=cat")) == {str(pets["cat.png"].pk)}
    assert ids(api_client.get('/api/assets/?q=collection:"summer 2024" dog')) == {str(pets["dog.png"].pk)}
    assert ids(api_client.get('/api/assets/?q=-collection:"Summer 2024"')) == {str(pets["both.png"].pk)}

    removed = api_client.delete(f"/api/collections/{key}/assets/", {"ids": [str(pets["dog.png"].pk)]},
                                format="json")
    assert removed.json()["changed"] == 1
    assert Asset.objects.filter(pk=pets["dog.png"].pk).exists()  # out of the collection, still in the library
    renamed = api_client.patch(f"/api/collections/{key}/", {"name": "Beach"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Beach"
    assert ids(api_client.get('/api/assets/?q=collection:Beach')) == {str(pets["cat.png"].pk)}
    assert api_client.delete(f"/api/collections/{key}/").status_code == 204
    assert Asset.objects.filter(owner=user).count() == 3  # deleting a collection deletes no image
    assert not CollectionItem.objects.exists()
    assert api_client.get(f"/api/collections/{key}/").status_code == 404


def test_a_smart_collection_follows_its_search(api_client, user, pets):
    made = api_client.post("/api/collections/", {"name": "Dogs", "query": "dog"}, format="json")
    assert made.status_code == 201 and made.json()["kind"] == "smart"
    key = made.json()["id"]
    assert made.json()["count"] == 2
    later = make_asset(user, color=(200, 1, 1), name="new-dog.png")
    tag(later, ("dog", 0.8, Box(1, 1, 10, 10)))
    assert ids(api_client.get(f"/api/assets/?collection={key}")) == {
        str(pets["dog.png"].pk), str(pets["both.png"].pk), str(later.pk)
    }
    assert api_client.get(f"/api/collections/{key}/").json()["count"] == 3
    # Adding by hand makes no sense for a smart collection: it says what to do instead.
    refused = api_client.post(f"/api/collections/{key}/assets/", {"ids": [str(pets["cat.png"].pk)]}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "smart_collection"
    assert "Change the search" in refused.json()["detail"]
    changed = api_client.patch(f"/api/collections/{key}/", {"query": "cat -dog"}, format="json")
    assert changed.status_code == 200
    assert ids(api_client.get(f"/api/assets/?collection={key}")) == {str(pets["cat.png"].pk)}
    # Collections inside searches, and smart collections naming other collections.
    api_client.post("/api/collections/", {"name": "Faves"}, format="json")
    faves = Collection.objects.get(name="Faves")
    CollectionItem.objects.create(collection=faves, asset=pets["both.png"])
    both = api_client.post("/api/collections/", {"name": "Either", "query": 'collection:Dogs OR collection:Faves'},
                           format="json")
    assert both.status_code == 201, both.content
    assert ids(api_client.get(f"/api/assets/?collection={both.json()['id']}")) == {
        str(pets["cat.png"].pk), str(pets["both.png"].pk)
    }


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({}, 400, "invalid"),
        ({"name": "   "}, 400, "invalid"),
        ({"name": "x" * 101}, 400, "invalid"),
        ({"name": "Dogs", "query": "(dog"}, 400, "invalid_query"),
        ({"name": "Dogs", "query": "dog@7"}, 400, "invalid_query"),
        ({"name": "Dogs", "query": "is:sad"}, 400, "invalid_query"),
    ],
)
def test_bad_collections_are_refused_with_a_message(api_client, body, status, code):
    response = api_client.post("/api/collections/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["detail"]
    assert not Collection.objects.exists()


def test_names_are_unique_per_user_in_any_case(api_client, other_api_client):
    assert api_client.post("/api/collections/", {"name": "Trips"}, format="json").status_code == 201
    twice = api_client.post("/api/collections/", {"name": "TRIPS"}, format="json")
    assert twice.status_code == 400 and twice.json()["code"] == "duplicate"
    assert other_api_client.post("/api/collections/", {"name": "Trips"}, format="json").status_code == 201
    other = api_client.post("/api/collections/", {"name": "Other"}, format="json").json()["id"]
    clash = api_client.patch(f"/api/collections/{other}/", {"name": "trips"}, format="json")
    assert clash.status_code == 400 and clash.json()["code"] == "duplicate"


def test_smart_collections_may_not_loop(api_client):
    first = api_client.post("/api/collections/", {"name": "A", "query": 'collection:B'}, format="json")
    assert first.status_code == 201  # B does not exist yet: A finds nothing
    second = api_client.post("/api/collections/", {"name": "B", "query": 'collection:A'}, format="json")
    assert second.status_code == 400 and "includes itself" in second.json()["detail"]
    assert not Collection.objects.filter(name="B").exists()
    third = api_client.post("/api/collections/", {"name": "C", "query": "dog"}, format="json").json()["id"]
    looped = api_client.patch(f"/api/collections/{third}/", {"name": "B", "query": "collection:A"}, format="json")
    assert looped.status_code == 400
    assert Collection.objects.get(pk=third).name == "C"
    self_named = api_client.patch(f"/api/collections/{third}/", {"query": "collection:C"}, format="json")
    assert self_named.status_code == 400 and "itself" in self_named.json()["detail"]


def test_another_users_collection_is_404(api_client, other_api_client, pets, foreign):
    key = api_client.post("/api/collections/", {"name": "Mine"}, format="json").json()["id"]
    api_client.post(f"/api/collections/{key}/assets/", {"ids": [str(pets["dog.png"].pk)]}, format="json")
    for method, url, body in [
        ("get", f"/api/collections/{key}/", None),
        ("patch", f"/api/collections/{key}/", {"name": "Stolen"}),
        ("delete", f"/api/collections/{key}/", None),
        ("post", f"/api/collections/{key}/assets/", {"ids": [str(foreign.pk)]}),
        ("delete", f"/api/collections/{key}/assets/", {"ids": [str(pets["dog.png"].pk)]}),
        ("post", f"/api/collections/{key}/share/", {}),
        ("delete", f"/api/collections/{key}/share/", None),
    ]:
        response = getattr(other_api_client, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
    assert other_api_client.get("/api/collections/").json() == []
    assert other_api_client.get(f"/api/assets/?collection={key}").status_code == 400
    assert other_api_client.get('/api/assets/?q=collection:Mine').json()["results"] == []
    assert Collection.objects.get(pk=key).name == "Mine" and CollectionItem.objects.count() == 1


def test_collection_pages_create_add_rename_remove_delete(web_client, user, pets):
    page = web_client.post("/collections/", {"name": "Walks", "kind": "manual"})
    assert page.status_code == 302
    walks = Collection.objects.get(name="Walks")
    bad = web_client.post("/collections/", {"name": "Dogs", "kind": "smart", "query": "dog@"})
    assert bad.status_code == 400 and "value after" in bad.content.decode()
    smart = web_client.post("/collections/", {"name": "Dogs", "kind": "smart", "query": "dog"})
    assert smart.status_code == 302 and Collection.objects.get(name="Dogs").query == "dog"

    # From the library's selection: ticked images, then everything matching a search.
    added = web_client.post("/collections/add/", {"ids": [pets["dog.png"].pk], "collection_name": "walks",
                                                  "next": "/?q=dog"}, follow=True)
    assert "Added 1 image to “Walks”." in added.content.decode()
    matching = web_client.post("/collections/add/", {"matching": "1", "search": "q=cat", "collection_name": "Walks"},
                               follow=True)
    assert "Added 2 images to “Walks”." in matching.content.decode()
    new = web_client.post("/collections/add/", {"ids": [pets["cat.png"].pk], "collection_name": "Cats only"},
                          follow=True)
    assert "Added 1 image to the new collection “Cats only”." in new.content.decode()
    assert set(walks.items.values_list("asset__original_filename", flat=True)) == {"dog.png", "cat.png", "both.png"}

    listing = web_client.get("/collections/").content.decode()
    assert "Walks" in listing and "Dogs" in listing and "3 images" in listing
    detail = web_client.get(f"/collections/{walks.pk}/")
    assert detail.status_code == 200 and detail.context["total"] == 3
    assert web_client.post(f"/collections/{walks.pk}/", {"name": "Long walks"}).status_code == 302
    removed = web_client.post(f"/collections/{walks.pk}/remove/", {"ids": [pets["cat.png"].pk]}, follow=True)
    assert "Took 1 image out of “Long walks”; it is still in your library." in removed.content.decode()
    assert web_client.get(f"/collections/{walks.pk}/delete/").status_code == 200
    assert web_client.post(f"/collections/{walks.pk}/delete/").status_code == 302
    assert not Collection.objects.filter(pk=walks.pk).exists() and Asset.objects.filter(owner=user).count() == 3


def test_the_library_says_when_no_collection_has_that_name(web_client, pets):
    page = web_client.get("/", {"q": 'collection:"Nowhere"'})
    assert page.status_code == 200 and list(page.context["assets"]) == []
    assert "You have no collection called <q>Nowhere</q>." in page.content.decode()


def test_a_collection_page_opens_the_viewer_on_the_owners_pictures_only(web_client, pets, foreign):
    walks = web_client.post("/collections/", {"name": "Walks", "kind": "manual"})
    collection = Collection.objects.get(name="Walks")
    web_client.post("/collections/add/", {"ids": [pets["dog.png"].pk], "collection_name": "Walks"})
    assert walks.status_code == 302

    page = web_client.get(f"/collections/{collection.pk}/?view={pets['cat.png'].pk}")
    html = page.content.decode()
    assert page.status_code == 200 and page.context["viewing"] == pets["cat.png"]
    assert f'id="viewer-start" data-asset-id="{pets["cat.png"].pk}"' in html and "js/viewer.js" in html
    assert f'data-api-url="/api/assets/{pets["dog.png"].pk}/"' in html  # each card, for the viewer's ←/→
    assert page.context["here"] == f"/collections/{collection.pk}/"  # forms come back without the viewer
    # Someone else's picture, or no picture at all: as if it did not exist.
    assert web_client.get(f"/collections/{collection.pk}/?view={foreign.pk}").status_code == 404
    assert web_client.get(f"/collections/{collection.pk}/?view=not-an-id").status_code == 404
    assert web_client.get(f"/collections/{collection.pk}/").context["viewing"] is None
