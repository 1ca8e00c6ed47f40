"""FILE_REDIRECT_TO_STORAGE: file views and signed URLs answer 302 to a presigned URL of the bucket, only
after the same owner / signature / share-link check; the bucket then serves the bytes (Range too)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.test import Client
from PIL import Image

from media.models import Asset
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.images import image_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def redirecting(s3, settings):
    settings.FILE_REDIRECT_TO_STORAGE = True
    return s3


@pytest.fixture
def photo(redirecting, user):
    data = image_bytes("JPEG", size=(300, 200))
    response = token_client(user).post("/api/assets/", {"file": upload(data, "beach photo.jpg")}, format="multipart")
    assert response.status_code == 201
    return response.json()["id"], data


def test_the_owner_is_sent_to_the_bucket_for_the_bytes(redirecting, photo, user):
    asset_id, data = photo
    client = token_client(user)
    answer = client.get(f"/api/assets/{asset_id}/original/")
    assert answer.status_code == 302 and answer["Cache-Control"] == "private, no-store"
    location = answer["Location"]
    assert location.startswith(redirecting.endpoint) and "X-Amz-Signature=" in location
    status, headers, content = fetch(location)
    assert status == 200 and content == data and headers["Content-Type"] == "image/jpeg"
    status, headers, content = fetch(location, Range="bytes=10-29")
    assert status == 206 and content == data[10:30]

    download = fetch(client.get(f"/api/assets/{asset_id}/original/?download=1")["Location"])
    assert download[0] == 200 and download[1]["Content-Disposition"].startswith("attachment")
    assert "beach photo.jpg" in download[1]["Content-Disposition"]

    rendition = client.get(f"/api/assets/{asset_id}/rendition/?width=60&format=png")
    assert rendition.status_code == 302
    status, headers, content = fetch(rendition["Location"])
    assert status == 200 and headers["Content-Type"] == "image/png" and Image.open(io.BytesIO(content)).width == 60
    assert client.get(f"/api/assets/{asset_id}/rendition/?width=60&format=png")["X-Rendition-Cache"] == "hit"

    thumbnail = client.get(f"/api/assets/{asset_id}/thumbnail/small/")
    assert thumbnail.status_code == 302 and fetch(thumbnail["Location"])[0] == 200
    web = Client()
    web.force_login(user)
    page_file = web.get(f"/assets/{asset_id}/original/")
    assert page_file.status_code == 302 and fetch(page_file["Location"])[2] == data
    # A conditional request is still answered here, without a trip to the bucket.
    sha256 = Asset.objects.get(pk=asset_id).sha256
    assert client.get(f"/api/assets/{asset_id}/original/", HTTP_IF_NONE_MATCH=f'"{sha256}"').status_code == 304


def test_signed_urls_redirect_only_when_the_signature_holds(redirecting, photo, user):
    asset_id, data = photo
    signed = token_client(user).get(f"/api/assets/{asset_id}/?signed=1").json()["signed_urls"]
    answer = Client().get(signed["original"])
    assert answer.status_code == 302 and fetch(answer["Location"])[2] == data
    tampered = signed["original"].replace("signature=", "signature=0")
    assert Client().get(tampered).status_code == 403
    unsigned = urlsplit(signed["original"]).path
    assert Client().get(unsigned).status_code == 401  # no signature, no session: no redirect


def test_nobody_else_gets_a_redirect(redirecting, photo):
    asset_id, _ = photo
    eve = UserFactory(username="eve")
    assert token_client(eve).get(f"/api/assets/{asset_id}/original/").status_code == 404
    web = Client()
    web.force_login(eve)
    assert web.get(f"/assets/{asset_id}/original/").status_code == 404
    assert Client().get(f"/assets/{asset_id}/original/").status_code == 302  # to the login page, not the bucket
    assert "/login" in Client().get(f"/assets/{asset_id}/original/")["Location"]


def test_a_presigned_url_expires(redirecting, photo, user, settings):
    asset_id, _ = photo
    settings.FILE_REDIRECT_LIFETIME = 1
    location = token_client(user).get(f"/api/assets/{asset_id}/original/")["Location"]
    import time

    time.sleep(2.5)
    assert fetch(location)[0] == 403


def test_a_public_endpoint_signs_for_the_address_browsers_use(redirecting, photo, user, settings):
    asset_id, data = photo
    settings.FILE_REDIRECT_ENDPOINT_URL = redirecting.endpoint.replace("127.0.0.1", "localhost")
    location = token_client(user).get(f"/api/assets/{asset_id}/original/")["Location"]
    assert location.startswith(settings.FILE_REDIRECT_ENDPOINT_URL)
    assert fetch(location)[2] == data  # signed for that host, so the bucket accepts it


def test_local_storage_ignores_the_setting(user, settings):
    settings.FILE_REDIRECT_TO_STORAGE = True
    client = token_client(user)
    data = image_bytes("PNG", size=(20, 20))
    asset_id = client.post("/api/assets/", {"file": upload(data, "a.png")}, format="multipart").json()["id"]
    answer = client.get(f"/api/assets/{asset_id}/original/")
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == data


def test_a_share_link_redirects_only_for_its_collection(redirecting, photo, user):
    from albums.services import collection_add, collection_create
    from media.models import Asset

    asset_id, data = photo
    outside_id = token_client(user).post("/api/assets/", {"file": upload(image_bytes("PNG", size=(9, 9)), "o.png")},
                                         format="multipart").json()["id"]
    collection = collection_create(owner=user, name="Trip")
    collection_add(collection=collection, assets=Asset.objects.filter(pk=asset_id))
    made = token_client(user).post(f"/api/collections/{collection.pk}/share/", {"allow_download": True},
                                   format="json")
    path = urlsplit(made.json()["url"]).path
    stranger = Client()
    original = stranger.get(f"{path}assets/{asset_id}/original/")
    assert original.status_code == 302
    status, headers, content = fetch(original["Location"])
    assert content == data and headers["Content-Disposition"].startswith("attachment")
    assert stranger.get(f"{path}assets/{asset_id}/thumbnail/small/").status_code == 302
    assert stranger.get(f"{path}assets/{outside_id}/original/").status_code == 404  # not in the collection
