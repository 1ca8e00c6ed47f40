"""Hearts: PATCH favorite through the API, the form on cards and the asset page, is:favorite and
?favorite= in searches; another user's asset is 404 and unchanged."""

from __future__ import annotations

import pytest

from media.models import Asset
from tests.tagged_assets import make_asset

pytestmark = pytest.mark.django_db


def test_favorite_through_the_api(api_client, other_api_client, user, tagged):
    plain = make_asset(user, color=(3, 3, 3), name="plain.png")
    assert api_client.get(f"/api/assets/{tagged.pk}/").json()["favorite"] is False
    marked = api_client.patch(f"/api/assets/{tagged.pk}/", {"favorite": True}, format="json")
    assert marked.status_code == 200 and marked.json()["favorite"] is True
    assert [item["id"] for item in api_client.get("/api/assets/?q=is:favorite").json()["results"]] == [str(tagged.pk)]
    assert [item["id"] for item in api_client.get("/api/assets/?q=-is:favorite").json()["results"]] == [str(plain.pk)]
    assert [item["id"] for item in api_client.get("/api/assets/?favorite=true").json()["results"]] == [str(tagged.pk)]
    assert [item["id"] for item in api_client.get("/api/assets/?q=dog is:fav").json()["results"]] == [str(tagged.pk)]
    bad = api_client.patch(f"/api/assets/{tagged.pk}/", {"favorite": "maybe"}, format="json")
    assert bad.status_code == 400 and "favorite" in bad.json()["errors"]
    assert other_api_client.patch(f"/api/assets/{tagged.pk}/", {"favorite": False}, format="json").status_code == 404
    assert Asset.objects.get(pk=tagged.pk).favorite is True
    off = api_client.patch(f"/api/assets/{tagged.pk}/", {"favorite": False}, format="json")
    assert off.json()["favorite"] is False
    assert api_client.get("/api/assets/?q=is:favorite").json()["results"] == []


def test_the_heart_form_works_without_javascript(web_client, client, other_user, tagged):
    page = web_client.get("/").content.decode()
    assert f'action="/assets/{tagged.pk}/favorite/"' in page and 'aria-pressed="false"' in page
    response = web_client.post(f"/assets/{tagged.pk}/favorite/", {"favorite": "1", "next": "/?q=dog"})
    assert response.status_code == 302 and response["Location"] == "/?q=dog"
    assert Asset.objects.get(pk=tagged.pk).favorite is True
    asset_page = web_client.get(f"/assets/{tagged.pk}/").content.decode()
    assert 'class="heart-toggle is-on" aria-pressed="true"' in asset_page
    assert 'name="favorite" value="0"' in asset_page  # pressing it again takes the heart off
    away = web_client.post(f"/assets/{tagged.pk}/favorite/", {"favorite": "0", "next": "https://evil.example/"})
    assert away["Location"] == f"/assets/{tagged.pk}/"  # never to another site
    assert Asset.objects.get(pk=tagged.pk).favorite is False
    client.force_login(other_user)
    assert client.post(f"/assets/{tagged.pk}/favorite/", {"favorite": "1"}).status_code == 404
    assert Asset.objects.get(pk=tagged.pk).favorite is False
