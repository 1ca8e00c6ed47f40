"""Fetching files through the API: an API token, the session, anonymous and another user, for every file
URL an asset hands out; ETag / If-None-Match and Range on originals; signed URLs, their expiry and
tampering."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from media import signing
from media.services import asset_create
from review.services import detection_add_manual
from tagging.boxes import Box
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(user):
    data = image_bytes("JPEG", size=(120, 80), color=(30, 140, 200))
    return asset_create(owner=user, file=upload(data, "sea.jpg")).asset


@pytest.fixture
def foreign_photo(other_user):
    return asset_create(owner=other_user, file=upload(image_bytes("PNG", color=(9, 9, 9)), "theirs.png")).asset


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def file_urls(api_client, asset) -> dict[str, str]:
    """The file URLs the API hands out for ``asset`` (the original, thumbnails and detection crops)."""
    data = api_client.get(f"/api/assets/{asset.pk}/").json()
    urls = {name: data["urls"][name] for name in ("original", "thumbnail_small", "thumbnail_large")}
    urls.update({f"crop {d['id']}": d["crop"] for d in data["detections"] if d["crop"]})
    return urls


def test_every_file_url_works_with_the_api_token(api_client, photo):
    detection_add_manual(asset=photo, label="buoy", box=Box(10, 10, 30, 20))
    urls = file_urls(api_client, photo)
    assert len(urls) == 4
    for name, url in urls.items():
        response = api_client.get(url)
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("image/"), name
        assert body(response), name
    assert body(api_client.get(urls["original"])) == Path(photo.file.path).read_bytes()


def test_the_same_urls_work_with_the_browser_session(web_client, api_client, photo):
    detection_add_manual(asset=photo, label="buoy", box=Box(10, 10, 30, 20))
    for name, url in file_urls(api_client, photo).items():
        assert web_client.get(url).status_code == 200, name


def test_anonymous_gets_401_and_another_user_404(api_client, other_api_client, photo):
    detection_add_manual(asset=photo, label="buoy", box=Box(10, 10, 30, 20))
    urls = file_urls(api_client, photo)
    for name, url in urls.items():
        anonymous = APIClient().get(url)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated", name
        hidden = other_api_client.get(url)
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found", name


def test_an_img_tag_accept_header_is_no_obstacle(api_client, photo):
    response = api_client.get(f"/api/assets/{photo.pk}/thumbnail/small/", HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert api_client.get(f"/api/assets/{photo.pk}/thumbnail/huge/").status_code == 404


def test_original_answers_etag_and_if_none_match(api_client, web_client, photo):
    pairs = [(api_client, f"/api/assets/{photo.pk}/original/"), (web_client, f"/assets/{photo.pk}/original/")]
    for client, url in pairs:
        first = client.get(url)
        assert first["ETag"] == f'"{photo.sha256}"' and first["Accept-Ranges"] == "bytes"
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again.content == b""
        assert client.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_original_answers_byte_ranges(api_client, photo):
    url = f"/api/assets/{photo.pk}/original/"
    whole = Path(photo.file.path).read_bytes()
    size = len(whole)
    part = api_client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 10-19/{size}" and part["Content-Length"] == "10"
    assert body(part) == whole[10:20]
    tail = api_client.get(url, HTTP_RANGE="bytes=-5")
    assert tail.status_code == 206 and body(tail) == whole[-5:]
    rest = api_client.get(url, HTTP_RANGE=f"bytes={size - 3}-")
    assert body(rest) == whole[-3:]
    beyond = api_client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{size}"
    # A range for another version of the file (If-Range no longer matches) gets the whole file.
    stale = api_client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200 and body(stale) == whole
    # Several ranges: the whole file, as HTTP allows.
    several = api_client.get(url, HTTP_RANGE="bytes=0-1,5-6")
    assert several.status_code == 200 and body(several) == whole
    head = api_client.head(url, HTTP_RANGE="bytes=0-9")
    assert head.status_code == 206 and head["Content-Length"] == "10"


def test_download_asks_for_an_attachment_with_the_uploaded_name(api_client, photo):
    response = api_client.get(f"/api/assets/{photo.pk}/original/?download=1")
    assert response["Content-Disposition"].startswith("attachment") and "sea.jpg" in response["Content-Disposition"]


# --- signed URLs ----------------------------------------------------------------------------------


def signed_urls(api_client, asset) -> dict[str, str]:
    data = api_client.get(f"/api/assets/{asset.pk}/?signed=1").json()
    return data["signed_urls"]


def test_signed_urls_are_only_there_when_asked_for(api_client, photo):
    assert api_client.get(f"/api/assets/{photo.pk}/").json()["signed_urls"] is None
    listed = api_client.get("/api/assets/?signed=1").json()["results"][0]["signed_urls"]
    assert set(listed) == {"original", "thumbnail_small", "thumbnail_large", "expires_at"}


def test_a_signed_url_needs_no_token(api_client, photo):
    urls = signed_urls(api_client, photo)
    anonymous = Client()
    original = anonymous.get(urls["original"])
    assert original.status_code == 200 and body(original) == Path(photo.file.path).read_bytes()
    assert anonymous.get(urls["thumbnail_small"]).status_code == 200
    # It opens exactly one file: the same signature on another file of the asset is refused.
    query = urlsplit(urls["original"]).query
    other_file = anonymous.get(f"/api/assets/{photo.pk}/thumbnail/large/?{query}")
    assert other_file.status_code == 403 and other_file.json()["code"] == "signature_invalid"


def test_a_signed_url_for_one_asset_does_not_open_another(api_client, photo, foreign_photo):
    query = urlsplit(signed_urls(api_client, photo)["original"]).query
    response = Client().get(f"/api/assets/{foreign_photo.pk}/original/?{query}")
    assert response.status_code == 403


@pytest.mark.parametrize("change", ["expires", "signature", "extra"])
def test_a_changed_signed_url_is_403_with_a_message(api_client, photo, change):
    url = signed_urls(api_client, photo)["original"]
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    if change == "expires":
        params["expires"] = str(int(params["expires"]) + 3600)
    elif change == "signature":
        params["signature"] = params["signature"][:-1] + ("0" if params["signature"][-1] != "0" else "1")
    else:
        params["download"] = "1"
    response = Client().get(f"{parts.path}?{urlencode(params)}")
    assert response.status_code == 403
    assert "changed" in response.json()["detail"] and response.json()["code"] == "signature_invalid"


def test_an_expired_signed_url_is_403_and_says_so(photo):
    path = f"/api/assets/{photo.pk}/original/"
    url, _ = signing.sign(path, lifetime=60, now=time.time() - 120)
    response = Client().get(url)
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    incomplete = Client().get(f"{path}?signature=abc")
    assert incomplete.status_code == 403 and "incomplete" in incomplete.json()["detail"]


def test_a_signed_url_of_a_deleted_asset_is_404(api_client, photo, django_capture_on_commit_callbacks):
    url = signed_urls(api_client, photo)["original"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/assets/{photo.pk}/").status_code == 204
    assert Client().get(url).status_code == 404


def test_signed_url_endpoint_signs_one_file_with_a_lifetime(api_client, other_api_client, photo, settings):
    made = api_client.post(f"/api/assets/{photo.pk}/signed-urls/", {"file": "original", "lifetime": 120}, format="json")
    assert made.status_code == 201
    expires = int(dict(parse_qsl(urlsplit(made.json()["url"]).query))["expires"])
    assert 100 < expires - time.time() <= 121
    assert Client().get(made.json()["url"]).status_code == 200
    too_long = api_client.post(
        f"/api/assets/{photo.pk}/signed-urls/", {"file": "original", "lifetime": settings.FILE_URL_MAX_LIFETIME + 1},
        format="json",
    )
    assert too_long.status_code == 400 and too_long.json()["parameter"] == "lifetime"
    unknown = api_client.post(f"/api/assets/{photo.pk}/signed-urls/", {"file": "secrets"}, format="json")
    assert unknown.status_code == 400 and "file" in unknown.json()["errors"]
    assert other_api_client.post(f"/api/assets/{photo.pk}/signed-urls/", {"file": "original"},
                                 format="json").status_code == 404


def test_a_signed_crop_opens_that_crop_only(api_client, photo):
    buoy = detection_add_manual(asset=photo, label="buoy", box=Box(10, 10, 30, 20))
    made = api_client.post(f"/api/assets/{photo.pk}/signed-urls/", {"file": "crop", "detection": buoy.pk},
                           format="json")
    assert made.status_code == 201
    crop = Client().get(made.json()["url"])
    assert crop.status_code == 200 and crop["Content-Type"] == "image/jpeg"
    no_box = detection_add_manual(asset=photo, label="sea")
    refused = api_client.post(f"/api/assets/{photo.pk}/signed-urls/", {"file": "crop", "detection": no_box.pk},
                              format="json")
    assert refused.status_code == 400 and refused.json()["parameter"] == "detection"
