"""API bodies over API_MAX_BODY_BYTES (COCO imports: COCO_IMPORT_MAX_BYTES) are refused before they are read.

tests/system/test_server_limits.py sends the same requests to gunicorn over a socket: the 413 arrives
while the client is still sending, and chunked bodies are bounded too.
"""

from __future__ import annotations

import io
import json

import pytest
from django.test import RequestFactory

from assetsite.body_limits import RequestBodyLimitMiddleware
from media.models import Asset
from tests.images import image_bytes, upload
from tests.tagged_assets import make_asset

pytestmark = pytest.mark.django_db


class Unreadable(io.RawIOBase):
    """A request stream that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        pytest.fail("the body was read")

    readinto = read  # type: ignore[assignment]


def passes(request) -> object:
    return "view reached"


def test_a_declared_length_over_the_limit_is_413_without_reading(settings):
    settings.API_MAX_BODY_BYTES = 1000
    request = RequestFactory().generic("PATCH", "/api/assets/x/", b"", content_type="application/json")
    request.META["CONTENT_LENGTH"] = str(30 * 1024 * 1024)
    request.META["wsgi.input"] = Unreadable()
    request._stream = Unreadable()
    response = RequestBodyLimitMiddleware(passes)(request)
    assert response.status_code == 413 and response["Connection"] == "close"
    body = json.loads(response.content)
    assert body["code"] == "too_large"
    assert body["detail"] == ("The request body is 31.5 MB; an API request body may be at most 1,000 bytes "
                              "(API_MAX_BODY_BYTES). Send less in one request.")


def test_within_the_limit_and_outside_the_api_nothing_changes(settings):
    settings.API_MAX_BODY_BYTES = 1000
    middleware = RequestBodyLimitMiddleware(passes)
    small = RequestFactory().post("/api/assets/bulk/", b"{}" * 400, content_type="application/json")
    assert middleware(small) == "view reached"
    page = RequestFactory().post("/accounts/login/", b"x" * 5000, content_type="application/x-www-form-urlencoded")
    assert middleware(page) == "view reached"  # Django's own DATA_UPLOAD_MAX_MEMORY_SIZE covers forms


def test_multipart_is_left_to_the_upload_handlers(settings):
    settings.API_MAX_BODY_BYTES = 1000
    request = RequestFactory().post("/api/assets/", {"file": upload(image_bytes("PNG", size=(300, 300)), "a.png")})
    assert int(request.META["CONTENT_LENGTH"]) > 1000
    assert RequestBodyLimitMiddleware(passes)(request) == "view reached"


def chunked(path: str, body: bytes, content_type: str = "application/json", method: str = "PATCH"):
    request = RequestFactory().generic(method, path, b"-", content_type=content_type)  # a body sets the type
    request.META.pop("CONTENT_LENGTH")
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.META["wsgi.input"] = io.BytesIO(body)
    return request


def test_a_chunked_body_is_read_up_to_the_limit_and_no_further(settings):
    settings.API_MAX_BODY_BYTES = 1000
    source = io.BytesIO(b"[" + b"1," * 100_000 + b"1]")
    request = chunked("/api/assets/bulk/", b"")
    request.META["wsgi.input"] = source
    response = RequestBodyLimitMiddleware(passes)(request)
    assert response.status_code == 413 and json.loads(response.content)["code"] == "too_large"
    assert source.tell() == 1001  # one byte past the limit proves it, nothing more is read


def test_a_chunked_body_within_the_limit_reaches_the_view_whole(api_client, user):
    asset = make_asset(user)
    request_body = json.dumps({"title": "sent in chunks"}).encode()
    response = api_client.generic("PATCH", f"/api/assets/{asset.pk}/", b"", content_type="application/json",
                                  HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(request_body)},
                                  CONTENT_LENGTH="")
    assert response.status_code == 200, response.content
    asset.refresh_from_db()
    assert asset.title == "sent in chunks"


def test_a_chunked_upload_is_asked_for_its_length():
    request = chunked("/api/assets/", b"--x\r\n", content_type="multipart/form-data; boundary=x", method="POST")
    response = RequestBodyLimitMiddleware(passes)(request)
    assert response.status_code == 411 and json.loads(response.content)["code"] == "length_required"


def test_through_the_whole_stack_a_30_mb_patch_is_413(api_client, user, settings):
    asset = make_asset(user)
    big = json.dumps({"title": "x" * (30 * 1024 * 1024)})
    response = api_client.patch(f"/api/assets/{asset.pk}/", big, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert "API_MAX_BODY_BYTES" in response.json()["detail"]
    assert Asset.objects.get(pk=asset.pk).title == ""


def test_coco_imports_keep_their_own_larger_limit(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1024
    settings.COCO_IMPORT_MAX_BYTES = 4096
    document = {"images": [], "annotations": [], "categories": [], "info": {"note": "x" * 2000}}
    response = api_client.post("/api/import/coco/", document, format="json")
    assert response.status_code == 200, response.content  # over the API limit, within the COCO one
    document["info"]["note"] = "x" * 5000
    response = api_client.post("/api/import/coco/", document, format="json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert "COCO_IMPORT_MAX_BYTES" in response.json()["detail"] and "Split" in response.json()["detail"]


def test_uploads_are_not_limited_by_the_json_limit(api_client, settings):
    settings.API_MAX_BODY_BYTES = 1024
    response = api_client.post("/api/assets/", {"file": upload(image_bytes("PNG", size=(400, 300)), "a.png")},
                               format="multipart")
    assert response.status_code == 201, response.content


def test_a_coco_import_over_django_form_limit_but_within_its_own_is_read(api_client, settings):
    """DRF checks JSON bodies against DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) and answered an HTML 400: a 3 MB
    COCO document could not be imported although COCO_IMPORT_MAX_BYTES is 20 MB."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3_000_000 < settings.COCO_IMPORT_MAX_BYTES
    document = {"images": [], "annotations": [], "categories": [], "info": {"note": "x" * 3_000_000}}
    response = api_client.post("/api/import/coco/", json.dumps(document), content_type="application/json")
    assert response.status_code == 200, response.content[:200]
    assert response.json()["images"] == 0


def test_a_raised_api_limit_applies_to_every_json_route(api_client, user, settings):
    settings.API_MAX_BODY_BYTES = 4_000_000
    asset = make_asset(user)
    response = api_client.patch(f"/api/assets/{asset.pk}/", json.dumps({"title": "t", "pad": "x" * 3_000_000}),
                                content_type="application/json")
    assert response.status_code == 200 and response.json()["title"] == "t"
