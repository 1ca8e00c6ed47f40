"""Owner isolation in pages, files and the API; authentication; the schema; edits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.services import token_digest
from media.models import Asset
from media.services import asset_create
from tests.conftest import stored_files
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_asset(user):
    return asset_create(owner=user, file=upload(image_bytes("PNG", color=(5, 6, 7)), "alice.png")).asset


@pytest.fixture
def mallory_asset(other_user):
    return asset_create(owner=other_user, file=upload(image_bytes("PNG", color=(70, 6, 7)), "mallory.png")).asset


def asset_urls(asset: Asset) -> list[str]:
    return [
        reverse("asset-detail", args=[asset.pk]),
        reverse("asset-file", args=[asset.pk]),
        reverse("asset-thumbnail", args=[asset.pk, "small"]),
        reverse("asset-thumbnail", args=[asset.pk, "large"]),
    ]


def test_owner_sees_own_pages_and_files(web_client, alice_asset):
    for url in asset_urls(alice_asset):
        response = web_client.get(url)
        assert response.status_code == 200, url
    original = web_client.get(reverse("asset-file", args=[alice_asset.pk]))
    assert original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == Path(alice_asset.file.path).read_bytes()


def test_other_users_pages_and_files_are_404(web_client, mallory_asset):
    for url in asset_urls(mallory_asset):
        assert web_client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_login(client, alice_asset):
    for url in [reverse("library"), reverse("upload"), *asset_urls(alice_asset)]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_library_lists_only_own_assets(web_client, alice_asset, mallory_asset):
    page = web_client.get(reverse("library")).content.decode()
    assert "alice.png" in page and "mallory.png" not in page
    assert str(alice_asset.pk) in page and str(mallory_asset.pk) not in page


def test_api_list_and_detail_are_scoped(api_client, alice_asset, mallory_asset):
    listing = api_client.get("/api/assets/")
    assert listing.status_code == 200
    ids = [item["id"] for item in listing.json()["results"]]
    assert ids == [str(alice_asset.pk)]
    assert api_client.get(f"/api/assets/{alice_asset.pk}/").status_code == 200
    hidden = api_client.get(f"/api/assets/{mallory_asset.pk}/")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "not_found"
    assert api_client.get("/api/assets/not-a-uuid/").status_code == 404


def test_api_patch_and_delete_are_scoped(api_client, settings, alice_asset, mallory_asset,
                                         django_capture_on_commit_callbacks):
    assert api_client.patch(f"/api/assets/{mallory_asset.pk}/", {"title": "x"}, format="json").status_code == 404
    assert api_client.delete(f"/api/assets/{mallory_asset.pk}/").status_code == 404
    renamed = api_client.patch(f"/api/assets/{alice_asset.pk}/", {"title": "  Beach  "}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Beach"
    # Read-only fields are ignored, not written.
    api_client.patch(f"/api/assets/{alice_asset.pk}/", {"width": 1, "status": "tagged"}, format="json")
    alice_asset.refresh_from_db()
    assert alice_asset.width == 64 and alice_asset.tagging_status == "pending"
    assert len(stored_files(settings.MEDIA_ROOT)) == 6
    with django_capture_on_commit_callbacks(execute=True):
        deleted = api_client.delete(f"/api/assets/{alice_asset.pk}/")
    assert deleted.status_code == 204
    assert not Asset.objects.filter(pk=alice_asset.pk).exists()  # in the trash: files kept until emptied
    assert len(stored_files(settings.MEDIA_ROOT)) == 6
    assert api_client.delete(f"/api/trash/{mallory_asset.pk}/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/trash/{alice_asset.pk}/").status_code == 204
    assert Asset.objects.filter(pk=mallory_asset.pk).exists()
    remaining = stored_files(settings.MEDIA_ROOT)
    assert len(remaining) == 3 and all(alice_asset.pk.hex not in path.name for path in remaining)


def test_api_requires_authentication(client, alice_asset):
    anonymous = APIClient()
    for method, url in [("get", "/api/assets/"), ("get", f"/api/assets/{alice_asset.pk}/"), ("post", "/api/assets/")]:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
        assert "credentials" in response.json()["detail"]
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad_token.get("/api/assets/").status_code == 401


def test_drf_create_token_command_gives_a_working_token(user, alice_asset, capsys):
    call_command("drf_create_token", user.username)
    # Only a digest is stored: the key is the one the command printed (DRF's line), and it is the user's token.
    printed = re.fullmatch(rf"Generated token (\S+) for user {user.username}\n", capsys.readouterr().out)
    assert printed is not None
    key = printed.group(1)
    assert ApiToken.objects.get(user=user).digest == token_digest(key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"/api/assets/{alice_asset.pk}/").status_code == 200


def test_session_auth_works_for_the_api(web_client, alice_asset):
    response = web_client.get(f"/api/assets/{alice_asset.pk}/")
    assert response.status_code == 200


def test_session_auth_post_needs_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/assets/", {"file": upload(image_bytes("PNG"), "x.png")})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_openapi_schema_is_served_as_json(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/assets/" in schema["paths"] and "/api/assets/{id}/" in schema["paths"]
    upload_body = schema["paths"]["/api/assets/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload_body


def test_login_page_and_login(client, user):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get(reverse("library")).status_code == 200


def test_create_user_command(db):
    call_command("create_user", "bob", "--password", "a-long-unusual-passphrase-42")
    client = APIClient()
    # The login lockout (django-axes) needs the request that Django's test client does not pass by itself.
    assert client.login(request=HttpRequest(), username="bob", password="a-long-unusual-passphrase-42")
