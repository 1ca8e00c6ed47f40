"""The integration pages through Django's test client: the API token page and the webhook pages, each owner-checked."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import services
from integrations.models import ApiToken, Webhook, WebhookDelivery
from integrations.services import token_create, token_digest
from integrations.tasks import deliver_webhook

pytestmark = pytest.mark.django_db

HOOK_URL = "http://127.0.0.1:9/receiver"


def api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/assets/").status_code


def shown_key(response) -> str:
    match = re.search(r'id="token-key"[^>]*value="(ast_[A-Za-z0-9_-]{43})"', response.content.decode())
    assert match, "the page does not show the token"
    return match.group(1)


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


# --- API token ------------------------------------------------------------------------------------------


def test_token_page_creates_lists_and_revokes_named_tokens(web_client, user):
    url = reverse("integrations-token")
    page = web_client.get(url)
    assert page.status_code == 200 and b"You have no tokens" in page.content
    assert "no-store" in page["Cache-Control"]

    created = web_client.post(url, {"action": "create", "name": "backup script", "expires_in_days": "30"})
    first = shown_key(created)
    assert "no-store" in created["Cache-Control"]  # the one answer that holds the key is never cached
    token = ApiToken.objects.get(user=user)
    assert token.name == "backup script" and token.digest == token_digest(first) and api_status(first) == 200
    assert 29 <= (token.expires_at - timezone.now()).days <= 30
    assert first not in "".join(str(value) for value in ApiToken.objects.values_list(flat=False).get())

    later = web_client.get(url).content.decode()
    assert first not in later  # shown once: only the fingerprint is stored
    assert "backup script" in later and token.prefix in later and first[:8] == token.prefix
    token.refresh_from_db()
    assert token.last_used_at is not None  # the API call above

    second = shown_key(web_client.post(url, {"action": "create", "name": "camera upload"}))
    assert second != first and api_status(first) == 200 and api_status(second) == 200
    assert ApiToken.objects.get(user=user, name="camera upload").expires_at is None

    revoked = web_client.post(url, {"action": "revoke", "token": token.pk}, follow=True)
    assert b"revoked" in revoked.content and f'data-token-id="{token.pk}"'.encode() not in revoked.content
    assert api_status(first) == 401 and api_status(second) == 200
    assert list(ApiToken.objects.filter(user=user).values_list("name", flat=True)) == ["camera upload"]

    assert web_client.post(url, {"action": "explode"}).status_code == 400
    assert web_client.post(url, {"action": "create", "expires_in_days": "12"}).status_code == 400


def test_token_page_refuses_tokens_beyond_the_limits(web_client, user, settings):
    settings.API_TOKEN_MAX_PER_USER = 1
    url = reverse("integrations-token")
    shown_key(web_client.post(url, {"action": "create", "name": "one"}))
    refused = web_client.post(url, {"action": "create", "name": "two"})
    assert refused.status_code == 400 and "revoke one you no longer use" in refused.content.decode()
    assert ApiToken.objects.filter(user=user).count() == 1


def test_token_page_shows_only_your_own_tokens(web_client, other_user):
    theirs, key = token_create(user=other_user, name="mallory's deploy key")
    page = web_client.get(reverse("integrations-token"))
    assert key.encode() not in page.content and b"mallory" not in page.content and b"You have no tokens" in page.content
    revoke = web_client.post(reverse("integrations-token"), {"action": "revoke", "token": theirs.pk})
    assert revoke.status_code == 404 and ApiToken.objects.filter(pk=theirs.pk).exists()


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
    # Every answer that shows (or could show) a secret is never stored by a browser or proxy.
    for answer in (response, detail, shown):
        assert "no-store" in answer["Cache-Control"]


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


def test_add_webhook_refuses_a_url_already_registered(web_client, user, allow_loopback):
    url = reverse("integrations-webhooks")
    assert web_client.post(url, {"url": HOOK_URL, "events": ["asset.tagged"]}).status_code == 200
    again = web_client.post(url, {"url": HOOK_URL, "events": ["asset.failed"]})
    assert again.status_code == 400
    assert f"You already have a webhook for {HOOK_URL}" in again.content.decode()
    assert Webhook.objects.filter(owner=user).count() == 1


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

    # Deliver it for real: port 9 on loopback refuses, so the log shows an error; a test delivery is not retried.
    services.delivery_attempt(delivery_pk=ping.pk)
    log = web_client.get(url).content.decode()
    assert "webhook.ping" in log and "failed" in log and "retrying" not in log and str(ping.delivery_id) in log
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 1 and queued == [ping.pk]
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
    assert Webhook.objects.filter(pk=hook.pk).exists() and not ApiToken.objects.filter(user=user).exists()


def test_nav_links_to_the_integration_pages(web_client):
    page = web_client.get(reverse("library")).content.decode()
    assert reverse("integrations-token") in page and reverse("integrations-webhooks") in page
