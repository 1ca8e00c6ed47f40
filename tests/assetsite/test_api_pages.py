"""The API's own pages and errors: the reference (Swagger UI, Redoc) served without any CDN, unknown
URLs and crashes answered in the API's error shape, a lost database as a 503 to retry."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from assetsite.api_errors import DATABASE_UNAVAILABLE

pytestmark = pytest.mark.django_db


# --- API reference ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api:swagger-ui", "api:redoc"])
def test_api_reference_pages_load_everything_from_this_site(web_client, name):
    page = web_client.get(reverse(name))
    assert page.status_code == 200
    html = page.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
    assert external == [], external
    assets = re.findall(r"""(?:src|href)=["'](/(?:static|api)/[^"']+)""", html)
    assert assets, "no scripts or styles referenced"
    for path in assets:
        response = web_client.get(path)
        assert response.status_code == 200, path


def test_swagger_ui_does_not_call_the_online_validator(web_client):
    html = web_client.get(reverse("api:swagger-ui")).content.decode()
    # Its start-up script is a file of its own (the CSP allows no inline script), served by the same view.
    script = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', html)
    assert script and "<script>" not in html
    code = web_client.get(script.group(1))
    assert code.status_code == 200 and code["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in code.content.decode()  # the default sends the schema to validator.swagger.io


def test_schema_documents_the_integration_endpoints(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    for path in [
        "/api/assets/{asset_id}/detections/",
        "/api/assets/{id}/retag/",
        "/api/assets/bulk/",
        "/api/detections/{detection_id}/",
        "/api/webhooks/",
        "/api/webhooks/{id}/deliveries/",
        "/api/webhooks/{id}/secret/",
        "/api/tokens/",
        "/api/tokens/{id}/",
        "/api/export/coco/",
        "/api/import/coco/",
        "/api/labels/",
    ]:
        assert path in paths, path
    assert {"q", "label", "sort"} <= {p["name"] for p in paths["/api/export/coco/"]["get"]["parameters"]}


# --- errors outside DRF's views ------------------------------------------------------------------------


def test_unknown_api_urls_are_json_404s(api_client):
    for url in ["/api/nope/", "/api/assets/x/y/z/", "/api/v2/assets/"]:
        response = api_client.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
        assert "/api/docs/" in response.json()["detail"]
    assert api_client.get("/api/assets").status_code == 301  # APPEND_SLASH still redirects


@pytest.mark.parametrize(
    ("error", "status", "code", "detail", "page_text"),
    [
        # A bug: logged, a 500 in the one error shape.
        (RuntimeError("boom"), 500, "server_error",
         "Something went wrong on the server. It was logged; try again later.", "Server Error"),
        # The database went away (restarting): nobody's fault, the same request works again soon.
        ("database", 503, "database_unavailable", DATABASE_UNAVAILABLE, "The database is not answering"),
    ],
    ids=["crash", "database-lost"],
)
def test_a_crash_is_a_json_500_and_a_lost_database_a_503_to_retry(user, monkeypatch, error, status, code, detail,
                                                                    page_text):
    from django.db import OperationalError

    import media.views
    import review.api

    def fail(**kwargs):
        raise OperationalError("server closed the connection unexpectedly") if error == "database" else error

    monkeypatch.setattr(review.api, "asset_get", fail)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    response = client.get("/api/assets/1b7c5b1e-3f0a-4a55-9d7e-2a4f7c0c9e11/detections/")
    assert response.status_code == status
    assert response.json() == {"detail": detail, "code": code}
    assert response.get("Retry-After") == ("5" if status == 503 else None)
    monkeypatch.setattr(media.views, "asset_get", fail)
    page = Client(raise_request_exception=False)
    page.force_login(user)
    response = page.get("/assets/1b7c5b1e-3f0a-4a55-9d7e-2a4f7c0c9e11/")
    assert response.status_code == status and response["Content-Type"].startswith("text/html")
    assert page_text in response.content.decode()


def test_the_redoc_bundle_draws_its_logo_from_this_site(web_client):
    response = web_client.get(reverse("api:redoc-bundle"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    text = response.content.decode()
    assert "cdn.redoc.ly" not in text and "/static/img/favicon.svg" in text
