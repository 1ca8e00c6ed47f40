"""Pages for integrators: the API token page, the webhook pages with their delivery log, and the API
reference (Swagger UI, Redoc) served without any CDN."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assetsite.api_errors import DATABASE_UNAVAILABLE
from integrations import services
from integrations.models import Webhook, WebhookDelivery
from integrations.tasks import deliver_webhook

pytestmark = pytest.mark.django_db

HOOK_URL = "http://127.0.0.1:9/receiver"


def api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/assets/").status_code


def shown_key(response) -> str:
    match = re.search(r'id="token-key"[^>]*value="([0-9a-f]{40})"', response.content.decode())
    assert match, "the page does not show the token"
    return match.group(1)


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


# --- API token ------------------------------------------------------------------------------------------


def test_token_page_creates_shows_regenerates_and_revokes(web_client, user):
    url = reverse("integrations-token")
    page = web_client.get(url)
    assert page.status_code == 200 and b"You have no token" in page.content

    created = web_client.post(url, {"action": "create"})
    first = shown_key(created)
    assert Token.objects.get(user=user).key == first and api_status(first) == 200

    later = web_client.get(url)
    assert first.encode() not in later.content  # shown on demand only
    assert shown_key(web_client.post(url, {"action": "show"})) == first

    second = shown_key(web_client.post(url, {"action": "regenerate"}))
    assert second != first and api_status(first) == 401 and api_status(second) == 200

    revoked = web_client.post(url, {"action": "revoke"}, follow=True)
    assert b"revoked" in revoked.content and b"You have no token" in revoked.content
    assert api_status(second) == 401 and not Token.objects.filter(user=user).exists()

    assert web_client.post(url, {"action": "explode"}).status_code == 400


def test_token_page_shows_only_your_own_token(web_client, other_user):
    theirs = Token.objects.create(user=other_user)
    page = web_client.post(reverse("integrations-token"), {"action": "show"})
    assert theirs.key.encode() not in page.content and b"You have no token" in page.content


# --- webhooks -------------------------------------------------------------------------------------------


def test_add_webhook_shows_the_secret_once(web_client, user, allow_loopback):
    response = web_client.post(
        reverse("integrations-webhooks"), {"url": HOOK_URL, "description": "Ops", "events": ["asset.tagged"]}
    )
    assert response.status_code == 200
    hook = Webhook.objects.get(owner=user)
    assert hook.events == ["asset.tagged"] and hook.description == "Ops"
    assert hook.secret.encode() in response.content
    detail = web_client.get(reverse("integrations-webhook-detail", args=[hook.pk]))
    assert hook.secret.encode() not in detail.content
    shown = web_client.post(reverse("integrations-webhook-detail", args=[hook.pk]), {"action": "show_secret"})
    assert hook.secret.encode() in shown.content
    listing = web_client.get(reverse("integrations-webhooks")).content.decode()
    assert HOOK_URL in listing and hook.secret not in listing


@pytest.mark.parametrize(
    "data, message",
    [
        ({"url": "http://127.0.0.1/x", "events": ["asset.tagged"]}, "private, loopback or reserved"),
        ({"url": "ftp://example.com/x", "events": ["asset.tagged"]}, "Only http:// and https://"),
        ({"url": HOOK_URL}, "This field is required"),
    ],
)
def test_add_webhook_explains_refusals(web_client, settings, data, message):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = web_client.post(reverse("integrations-webhooks"), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Webhook.objects.exists()


def test_webhook_detail_actions_and_delivery_log(
    web_client, user, allow_loopback, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args=None, **kw: queued.append(args[0]))
    hook = services.webhook_create(owner=user, url=HOOK_URL)
    url = reverse("integrations-webhook-detail", args=[hook.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = web_client.post(url, {"action": "ping"}, follow=True)
    assert b"Test delivery queued" in response.content
    ping = WebhookDelivery.objects.get(webhook=hook)
    assert queued == [ping.pk]

    # Deliver it for real: port 9 on loopback refuses, so the log shows an error and a retry.
    services.delivery_attempt(delivery_pk=ping.pk)
    log = web_client.get(url).content.decode()
    assert "webhook.ping" in log and "retrying" in log and str(ping.delivery_id) in log
    assert "Connection refused" in log or "refused" in log.lower()
    assert "&quot;event&quot;: &quot;webhook.ping&quot;" in log  # the payload as JSON

    web_client.post(url, {"action": "deactivate"})
    hook.refresh_from_db()
    assert not hook.active
    old_secret = hook.secret
    rotated = web_client.post(url, {"action": "rotate_secret"})
    hook.refresh_from_db()
    assert hook.secret != old_secret and hook.secret.encode() in rotated.content

    assert web_client.post(url, {"action": "nonsense"}).status_code == 400
    deleted = web_client.post(url, {"action": "delete"})
    assert deleted.status_code == 302 and not Webhook.objects.exists()


def test_other_users_webhook_pages_are_404(web_client, other_user, allow_loopback):
    theirs = services.webhook_create(owner=other_user, url=HOOK_URL)
    url = reverse("integrations-webhook-detail", args=[theirs.pk])
    assert web_client.get(url).status_code == 404
    for action in ("show_secret", "delete", "rotate_secret", "deactivate", "ping"):
        assert web_client.post(url, {"action": action}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and WebhookDelivery.objects.count() == 0
    assert HOOK_URL not in web_client.get(reverse("integrations-webhooks")).content.decode()


def test_pages_need_login_and_csrf(client, user, allow_loopback):
    hook = services.webhook_create(owner=user, url=HOOK_URL)
    urls = [
        reverse("integrations-token"),
        reverse("integrations-webhooks"),
        reverse("integrations-webhook-detail", args=[hook.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(urls[0], {"action": "create"}).status_code == 403
    assert strict.post(urls[2], {"action": "delete"}).status_code == 403
    assert Webhook.objects.filter(pk=hook.pk).exists() and not Token.objects.filter(user=user).exists()


def test_nav_links_to_the_integration_pages(web_client):
    page = web_client.get(reverse("library")).content.decode()
    assert reverse("integrations-token") in page and reverse("integrations-webhooks") in page


# --- API reference ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api:swagger-ui", "api:redoc"])
def test_api_reference_pages_load_everything_from_this_site(web_client, name):
    page = web_client.get(reverse(name))
    assert page.status_code == 200
    html = page.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
    assert external == [], external
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html)
    assert assets, "no static assets referenced"
    for path in assets:
        response = web_client.get(path)
        assert response.status_code == 200, path


def test_swagger_ui_does_not_call_the_online_validator(web_client):
    html = web_client.get(reverse("api:swagger-ui")).content.decode()
    assert '"validatorUrl": null' in html  # Swagger UI's default sends the schema to validator.swagger.io


def test_schema_documents_the_integration_endpoints(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    for path in [
        "/api/assets/{asset_id}/detections/",
        "/api/assets/{asset_id}/retag/",
        "/api/assets/bulk/",
        "/api/detections/{detection_id}/",
        "/api/webhooks/",
        "/api/webhooks/{id}/deliveries/",
        "/api/webhooks/{id}/secret/",
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
    import tagging.review_api

    def fail(**kwargs):
        raise OperationalError("server closed the connection unexpectedly") if error == "database" else error

    monkeypatch.setattr(tagging.review_api, "asset_get", fail)
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
