"""Share links: made through the API and the collection page; whoever holds one sees that collection
read-only (grid, one image, its labels, originals only when allowed) and nothing else; revoked and
expired links answer 410, unknown ones 404; the key is long and random and only its digest is stored."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from albums.models import ShareLink
from albums.services import collection_add, collection_create, share_key_digest
from media.models import Asset
from tagging.boxes import Box
from tests.tagged_assets import make_asset, tag

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


@pytest.fixture
def album(user):
    """A collection with a dog picture; a cat picture (with a secret label) stays out of it."""
    inside = make_asset(user, color=(30, 60, 90), name="inside.png")
    tag(inside, ("dog", 0.9, Box(10, 10, 40, 30)))
    outside = make_asset(user, color=(90, 60, 30), name="outside-secret.png")
    tag(outside, ("secretlabel", 0.9, Box(5, 5, 20, 20)))
    collection = collection_create(owner=user, name="Walks")
    collection_add(collection=collection, assets=Asset.objects.filter(pk=inside.pk))
    return {"collection": collection, "inside": inside, "outside": outside}


def share(api_client, collection, **body) -> str:
    response = api_client.post(f"/api/collections/{collection.pk}/share/", body, format="json")
    assert response.status_code == 201, response.content
    return urlsplit(response.json()["url"]).path


def test_a_link_shows_the_collection_and_nothing_else(api_client, album):
    path = share(api_client, album["collection"])
    key = path.strip("/").split("/")[-1]
    assert len(key) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", key)  # 192 random bits
    assert ShareLink.objects.get().digest == share_key_digest(key)
    assert key not in str(list(ShareLink.objects.values()))  # only the digest is stored

    anonymous = Client()
    grid = anonymous.get(path)
    assert grid.status_code == 200
    page = grid.content.decode()
    inside, outside = album["inside"], album["outside"]
    assert "Walks" in page and str(inside.pk) in page and "dog" in page
    assert str(outside.pk) not in page and "secretlabel" not in page and "outside-secret" not in page
    assert grid["X-Robots-Tag"] == "noindex, nofollow" and grid["Referrer-Policy"] == "no-referrer"
    assert "Log out" not in page and 'href="/"' not in page  # no way into the site from here

    one = anonymous.get(f"{path}assets/{inside.pk}/")
    assert one.status_code == 200 and "dog" in one.content.decode() and 'class="box"' in one.content.decode()
    for size in ("small", "large"):
        assert anonymous.get(f"{path}assets/{inside.pk}/thumbnail/{size}/").status_code == 200
    # Another image of the owner's, by id, through this link: as if it did not exist.
    for url in (f"{path}assets/{outside.pk}/", f"{path}assets/{outside.pk}/thumbnail/small/",
                f"{path}assets/{outside.pk}/original/"):
        assert anonymous.get(url).status_code == 404, url
    # Downloads were not allowed.
    assert anonymous.get(f"{path}assets/{inside.pk}/original/").status_code == 404
    assert anonymous.get(f"{path}download/").status_code == 404
    assert "Download" not in page
    # The rest of the site still wants a login.
    assert anonymous.get("/").status_code == 302
    assert anonymous.get(f"/assets/{inside.pk}/thumbnail/small/").status_code == 302
    assert anonymous.get("/api/assets/").status_code == 401


def test_originals_and_the_zip_only_when_the_owner_allows(api_client, album):
    path = share(api_client, album["collection"], allow_download=True, expires_in_days=7)
    anonymous = Client()
    inside = album["inside"]
    original = anonymous.get(f"{path}assets/{inside.pk}/original/")
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == Path(inside.file.path).read_bytes()
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(anonymous.get(f"{path}download/").streaming_content)))
    assert zipped.namelist() == ["inside.png"]
    detail = api_client.get(f"/api/collections/{album['collection'].pk}/").json()["share"]
    assert detail["allow_download"] is True and detail["expires_at"]


def test_revoked_expired_and_unknown_links(api_client, album):
    collection = album["collection"]
    first = share(api_client, collection)
    second = share(api_client, collection)  # a new link replaces the old one
    anonymous = Client()
    gone = anonymous.get(first)
    assert gone.status_code == 410 and "turned this link off" in gone.content.decode()
    assert anonymous.get(f"{first}assets/{album['inside'].pk}/thumbnail/small/").status_code == 410
    assert anonymous.get(second).status_code == 200
    assert api_client.delete(f"/api/collections/{collection.pk}/share/").status_code == 204
    assert anonymous.get(second).status_code == 410
    assert api_client.get(f"/api/collections/{collection.pk}/").json()["share"] is None

    third = share(api_client, collection, expires_in_days=1)
    ShareLink.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = anonymous.get(third)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert anonymous.get("/s/not-a-real-key-at-all/").status_code == 404
    assert anonymous.get("/s/" + "x" * 43 + "/").status_code == 404


def test_a_link_follows_the_collection_as_it_changes(api_client, user, album):
    path = share(api_client, album["collection"])
    anonymous = Client()
    api_client.delete(f"/api/assets/{album['inside'].pk}/")  # to the trash: not shown any more
    assert str(album["inside"].pk) not in anonymous.get(path).content.decode()
    assert anonymous.get(f"{path}assets/{album['inside'].pk}/").status_code == 404
    api_client.post(f"/api/trash/{album['inside'].pk}/restore/")
    assert anonymous.get(f"{path}assets/{album['inside'].pk}/").status_code == 200
    # A smart collection's link shows what its search finds now.
    smart = collection_create(owner=user, name="Dogs", query="dog")
    smart_path = share(api_client, smart)
    later = make_asset(user, color=(5, 5, 5), name="later.png")
    tag(later, ("dog", 0.7, Box(1, 1, 9, 9)))
    assert str(later.pk) in anonymous.get(smart_path).content.decode()
    api_client.delete(f"/api/collections/{smart.pk}/")
    assert anonymous.get(smart_path).status_code == 404  # the collection and its links are gone


def test_share_requests_are_checked(api_client, album, settings):
    url = f"/api/collections/{album['collection'].pk}/share/"
    assert api_client.post(url, {"expires_in_days": 0}, format="json").status_code == 400
    assert api_client.post(url, {"expires_in_days": "soon"}, format="json").status_code == 400
    settings.SHARE_LINK_MAX_DAYS = 30
    capped = api_client.post(url, {"expires_in_days": 31}, format="json")
    assert capped.status_code == 400 and "30 days" in capped.json()["detail"]
    defaulted = api_client.post(url, {}, format="json").json()
    assert defaulted["expires_at"] is not None


def test_the_collection_page_makes_and_revokes_links(web_client, album):
    collection = album["collection"]
    made = web_client.post(f"/collections/{collection.pk}/share/", {"action": "create", "expires_in_days": "3",
                                                                     "allow_download": "1"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    url = made.context["new_link"]
    assert "Anyone with this link" in made.content.decode()
    assert Client().get(urlsplit(url).path).status_code == 200
    bad = web_client.post(f"/collections/{collection.pk}/share/", {"action": "create", "expires_in_days": "x"})
    assert bad.status_code == 400 and "whole number" in bad.content.decode()
    assert Client().get(urlsplit(url).path).status_code == 200  # a refused request changes nothing
    web_client.post(f"/collections/{collection.pk}/share/", {"action": "revoke"})
    assert Client().get(urlsplit(url).path).status_code == 410
