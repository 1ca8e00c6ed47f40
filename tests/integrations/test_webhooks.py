"""Webhooks end to end: registered through the API, fired by the tagging services, delivered by the
Celery task (eager) over real HTTP to a server on loopback, checked with the recipe in docs/api.md."""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import services, webhooks
from integrations.models import Webhook, WebhookDelivery
from integrations.tasks import deliver_webhook
from media.services import asset_create
from tagging.boxes import Box, DetectedObject
from tagging.services import RunInfo, detections_replace, tagging_fail
from testkit.stack import REPO
from testkit.worker_process import celery_worker, purge_queues
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db

DOCS = REPO / "docs" / "api.md"


# --- a real receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"ok"
    delay: float = 0.0
    location: str = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(receiver.delay)
            self.send_response(receiver.status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/assetsite?source=test"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT = 5.0


@pytest.fixture
def countdowns(monkeypatch) -> list[int | None]:
    """The countdown each delivery task was queued with (eager mode runs them at once regardless)."""
    seen: list[int | None] = []
    original = deliver_webhook.apply_async

    def spy(args=None, kwargs=None, countdown=None, **options):
        seen.append(countdown)
        return original(args=args, kwargs=kwargs, countdown=countdown, **options)

    monkeypatch.setattr(deliver_webhook, "apply_async", spy)
    return seen


def docs_verify():
    """The verification function from docs/api.md, run as a receiver would run it."""
    text = DOCS.read_text()
    block = re.search(r"<!-- verify-recipe -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/api.md lost its verification recipe"
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 (our own documentation)
    return namespace["verify_assetsite_signature"]


def make_asset(owner, color=(10, 20, 30)):
    return asset_create(owner=owner, file=upload(image_bytes("PNG", size=(120, 80), color=color), "cat.png")).asset


def event_delivery(hook: Webhook) -> WebhookDelivery:
    """An asset.tagged delivery, not queued (a test delivery would do for sending, but it is never retried)."""
    return WebhookDelivery.objects.create(webhook=hook, event="asset.tagged", payload={"event": "asset.tagged"})


def tag(asset) -> None:
    detections_replace(
        asset_id=asset.pk,
        objects=[DetectedObject("cat", 0.91, Box(10, 10, 40, 30))],
        info=RunInfo(model_name="test"),
    )


# --- delivery ---------------------------------------------------------------------------------------


def test_tagged_asset_is_delivered_signed_and_the_docs_recipe_verifies_it(
    api_client, user, receiver, eager, loopback_allowed, django_capture_on_commit_callbacks
):
    created = api_client.post("/api/webhooks/", {"url": receiver.url, "description": "CI"}, format="json")
    assert created.status_code == 201, created.content
    hook = created.json()
    assert hook["events"] == ["asset.failed", "asset.tagged"] and hook["secret"].startswith("whsec_")
    asset = make_asset(user)

    with django_capture_on_commit_callbacks(execute=True):
        tag(asset)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/assetsite?source=test"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Assetsite-Event"] == "asset.tagged"
    verify = docs_verify()
    assert verify(hook["secret"], request.body, request.headers["X-Assetsite-Signature"])
    assert not verify(hook["secret"], request.body + b" ", request.headers["X-Assetsite-Signature"])
    assert not verify("whsec_wrong", request.body, request.headers["X-Assetsite-Signature"])

    payload = json.loads(request.body)
    assert payload["event"] == "asset.tagged"
    assert payload["id"] == request.headers["X-Assetsite-Delivery"]
    assert payload["asset"]["id"] == str(asset.pk) and payload["asset"]["status"] == "tagged"
    assert payload["asset"]["tags"] == [{"label": "cat", "confidence": 0.91, "count": 1}]
    assert payload["asset"]["detections"][0]["box"] == {"x": 10, "y": 10, "width": 40, "height": 30}
    assert payload["asset"]["api_path"] == f"/api/assets/{asset.pk}/"

    log = api_client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert [(entry["event"], entry["state"], entry["status_code"], entry["attempt"]) for entry in log] == [
        ("asset.tagged", "succeeded", 200, 1)
    ]
    assert log[0]["response_excerpt"] == "ok" and log[0]["duration_ms"] is not None


def test_the_payload_carries_file_urls_that_work_with_and_without_a_token(
    api_client, user, receiver, eager, loopback_allowed, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://photos.example.com/"
    api_client.post("/api/webhooks/", {"url": receiver.url}, format="json")
    asset = make_asset(user)
    with django_capture_on_commit_callbacks(execute=True):
        tag(asset)
    payload = json.loads(receiver.requests[0].body)["asset"]
    assert payload["urls"]["original"] == f"https://photos.example.com/api/assets/{asset.pk}/original/"
    assert set(payload["urls"]) == {"api", "original", "thumbnail_small", "thumbnail_large", "rendition"}
    signed = payload["signed_urls"]
    expires = datetime.fromisoformat(signed["expires_at"])
    lifetime = (expires - datetime.now(UTC)).total_seconds()
    assert settings.WEBHOOK_FILE_URL_LIFETIME - 60 < lifetime <= settings.WEBHOOK_FILE_URL_LIFETIME
    site = "https://photos.example.com"
    for name in ("original", "thumbnail_small", "thumbnail_large"):
        assert signed[name].startswith(site)
        response = Client().get(signed[name].removeprefix(site))  # a receiver without a token
        assert response.status_code == 200, name
    with_token = api_client.get(payload["urls"]["original"].removeprefix(site))
    assert with_token.status_code == 200


def test_failed_tagging_is_delivered_only_to_hooks_that_want_it(
    user, receiver, eager, loopback_allowed, django_capture_on_commit_callbacks
):
    services.webhook_create(owner=user, url=receiver.url, events=["asset.failed"])
    services.webhook_create(owner=user, url=receiver.url + "&only=tagged", events=["asset.tagged"])
    services.webhook_create(owner=user, url=receiver.url + "&off=1", active=False)
    asset = make_asset(user)
    with django_capture_on_commit_callbacks(execute=True):
        tagging_fail(asset_id=asset.pk, error="The image could not be decoded.")
    assert [r.headers["X-Assetsite-Event"] for r in receiver.requests] == ["asset.failed"]
    payload = json.loads(receiver.requests[0].body)
    assert payload["asset"]["status"] == "failed" and payload["asset"]["error"] == "The image could not be decoded."


def test_only_the_owners_hooks_hear_about_an_asset(
    user, other_user, receiver, eager, loopback_allowed, django_capture_on_commit_callbacks
):
    services.webhook_create(owner=other_user, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        tag(make_asset(user))
    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0


def test_nothing_is_sent_before_the_commit(user, receiver, eager, loopback_allowed, django_capture_on_commit_callbacks):
    services.webhook_create(owner=user, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tag(make_asset(user))
    assert receiver.requests == [] and WebhookDelivery.objects.count() == 0
    for callback in callbacks:  # the commit happens
        callback()
    assert WebhookDelivery.objects.count() == 1


def test_a_failing_receiver_is_retried_with_backoff_and_logged(
    api_client, user, receiver, eager, loopback_allowed, settings, countdowns, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.status = 500
    receiver.reply = b"database down " * 500
    hook = services.webhook_create(owner=user, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        tag(make_asset(user))

    assert len(receiver.requests) == 3
    # Every attempt is the same delivery with the same body, signed afresh.
    assert len({r.headers["X-Assetsite-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert countdowns == [None, 30, 120]  # 30 s, then 4 × as long

    log = api_client.get(f"/api/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert [(entry["attempt"], entry["state"], entry["status_code"]) for entry in log] == [
        (3, "failed", 500),
        (2, "retrying", 500),
        (1, "retrying", 500),
    ]
    first = WebhookDelivery.objects.get(webhook=hook, attempt=1)
    assert 29 <= (first.next_retry - first.delivered_at).total_seconds() <= 31
    second = WebhookDelivery.objects.get(webhook=hook, attempt=2)
    assert 119 <= (second.next_retry - second.delivered_at).total_seconds() <= 121
    assert log[0]["next_retry"] is None and "500" in log[0]["error"]
    assert len(log[0]["response_excerpt"]) == settings.WEBHOOK_RESPONSE_EXCERPT


def test_a_recovering_receiver_ends_the_retries(user, receiver, eager, loopback_allowed, monkeypatch):
    hook = services.webhook_create(owner=user, url=receiver.url)
    delivery = event_delivery(hook)
    receiver.status = 503
    services.delivery_attempt(delivery_pk=delivery.pk)  # first try fails; its retry row is queued
    receiver.status = 204
    retry = WebhookDelivery.objects.get(webhook=hook, attempt=2)
    services.delivery_attempt(delivery_pk=retry.pk)
    retry.refresh_from_db()
    assert retry.state == "succeeded" and retry.next_retry is None
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 2
    # A message delivered twice does not send twice.
    services.delivery_attempt(delivery_pk=retry.pk)
    assert len(receiver.requests) == 2


def test_redirects_are_not_followed(user, receiver, loopback_allowed):
    receiver.status = 302
    receiver.location = receiver.url.replace("/hooks/", "/elsewhere/")
    hook = services.webhook_create(owner=user, url=receiver.url)
    delivery = event_delivery(hook)
    services.delivery_attempt(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    assert [r.path.split("?")[0] for r in receiver.requests] == ["/hooks/assetsite"]
    assert delivery.status_code == 302 and delivery.state == "retrying"


def test_a_slow_receiver_times_out(user, receiver, loopback_allowed, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    receiver.delay = 1.0
    hook = services.webhook_create(owner=user, url=receiver.url)
    delivery = event_delivery(hook)
    started = time.monotonic()
    services.delivery_attempt(delivery_pk=delivery.pk)
    assert time.monotonic() - started < 1.0
    delivery.refresh_from_db()
    assert delivery.status_code is None and "timed out" in delivery.error and delivery.state == "retrying"


def test_ping_through_the_api(api_client, user, receiver, eager, loopback_allowed, django_capture_on_commit_callbacks):
    hook = services.webhook_create(owner=user, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/webhooks/{hook.pk}/ping/")
    assert response.status_code == 202 and response.json()["event"] == "webhook.ping"
    assert len(receiver.requests) == 1
    assert webhooks.verify_signature(
        secret=hook.secret, body=receiver.requests[0].body, header=receiver.requests[0].headers["X-Assetsite-Signature"]
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_tags_the_upload_and_delivers_the_webhook(api_client, receiver, settings, tmp_path):
    """Upload through the API, a real Celery worker process (-Q detection,celery) tags it and delivers."""
    settings.MEDIA_ROOT = tmp_path / "shared-media"
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    hook = api_client.post("/api/webhooks/", {"url": receiver.url}, format="json").json()
    purge_queues()
    loopback = {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOK_ALLOWED_PORTS": "*"}  # the receiver's random port
    with celery_worker(settings.MEDIA_ROOT, extra_env=loopback) as worker:
        data = image_bytes("PNG", size=(96, 64), color=(30, 160, 90))
        created = api_client.post("/api/assets/", {"file": upload(data, "green.png")}, format="multipart")
        assert created.status_code == 201
        deadline = time.monotonic() + 180
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.3)
        assert receiver.requests, f"no delivery arrived\n{worker.log}"
    request = receiver.requests[0]
    assert request.headers["X-Assetsite-Event"] == "asset.tagged"
    assert docs_verify()(hook["secret"], request.body, request.headers["X-Assetsite-Signature"])
    assert json.loads(request.body)["asset"]["id"] == created.json()["id"]
    log = api_client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert [entry["state"] for entry in log] == ["succeeded"]


def test_deliveries_lost_to_a_broker_outage_are_sent_by_the_sweeper(
    user, receiver, loopback_allowed, monkeypatch, django_capture_on_commit_callbacks
):
    hook = services.webhook_create(owner=user, url=receiver.url)

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(deliver_webhook, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        tag(make_asset(user))
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.state == "pending" and receiver.requests == []

    sent: list[int] = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args=None, **kw: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep().requeued == 0  # too recent: maybe still on its way
    later = timezone.now() + timedelta(minutes=3)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep(now=later).requeued == 1
    assert sent == [delivery.pk]
    services.delivery_attempt(delivery_pk=delivery.pk)
    assert len(receiver.requests) == 1 and WebhookDelivery.objects.get(pk=delivery.pk).state == "succeeded"


def test_the_sweeper_leaves_retries_to_their_countdown(user, receiver, loopback_allowed, monkeypatch):
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kw: None)
    receiver.status = 500
    hook = services.webhook_create(owner=user, url=receiver.url)
    first = event_delivery(hook)
    services.delivery_attempt(delivery_pk=first.pk)  # fails; attempt 2 is due 30 s later
    soon = timezone.now() + timedelta(seconds=60)
    assert services.deliveries_sweep(now=soon).requeued == 0
    assert services.deliveries_sweep(now=soon + timedelta(minutes=5)).requeued == 1


def test_an_attempt_whose_worker_died_is_retried_by_the_sweeper(user, receiver, loopback_allowed, monkeypatch):
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kw: None)
    hook = services.webhook_create(owner=user, url=receiver.url)
    delivery = event_delivery(hook)
    # Claimed, then the worker vanished before recording an answer.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(delivered_at=timezone.now(), error=services.INTERRUPTED)
    assert services.deliveries_sweep().interrupted == 0  # it may still be running
    later = timezone.now() + timedelta(minutes=10)
    assert services.deliveries_sweep(now=later).interrupted == 1
    assert services.deliveries_sweep(now=later).interrupted == 0  # once
    retry = WebhookDelivery.objects.get(webhook=hook, attempt=2)
    services.delivery_attempt(delivery_pk=retry.pk)
    assert len(receiver.requests) == 1
    assert [d.state for d in WebhookDelivery.objects.filter(webhook=hook).order_by("attempt")] == [
        "retrying",
        "succeeded",
    ]


# --- where hooks may point ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1:8000/hook", "private, loopback or reserved"),
        ("http://localhost/hook", "private, loopback or reserved"),
        ("http://[::1]/hook", "private, loopback or reserved"),
        ("http://10.1.2.3/hook", "private, loopback or reserved"),
        ("http://192.168.0.10/hook", "private, loopback or reserved"),
        ("http://169.254.169.254/latest/meta-data/", "private, loopback or reserved"),
        ("http://[::ffff:127.0.0.1]/hook", "private, loopback or reserved"),
        ("http://0.0.0.0/hook", "private, loopback or reserved"),
        ("http://224.0.0.1/hook", "private, loopback or reserved"),
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("file:///etc/passwd", "Enter a valid URL"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "Enter a valid URL"),
        ("http://user:pass@93.184.215.14/hook", "credentials"),
        ("not a url", "Enter a valid URL"),
    ],
)
def test_unsafe_urls_are_refused(api_client, settings, url, message):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = api_client.post("/api/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and "url" in body["errors"] and message in body["detail"], body
    assert Webhook.objects.count() == 0


@pytest.mark.parametrize("scheme", ["ftp", "file", "gopher", "javascript"])
def test_the_guard_itself_refuses_other_schemes(scheme):
    with pytest.raises(webhooks.UnsafeTarget, match="Only http"):
        webhooks.target_resolve(f"{scheme}://example.com/x", allow_private=True)


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_resolves_to_a_private_address_is_refused(user, monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    fake_dns(monkeypatch, {"hooks.example.test": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(services.WebhookInvalid, match="10.0.0.5"):
        services.webhook_create(owner=user, url="https://hooks.example.test/x")


def test_the_address_is_checked_again_at_delivery(user, receiver, monkeypatch, settings):
    """DNS rebinding: public when registered, loopback when delivered. Nothing is sent, nothing retried."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    port = receiver.url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"rebind.example.test": ["93.184.215.14"]})
    hook = services.webhook_create(owner=user, url=f"http://rebind.example.test:{port}/hooks/x")
    fake_dns(monkeypatch, {"rebind.example.test": ["127.0.0.1"]})
    delivery = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    assert receiver.requests == []
    assert "127.0.0.1" in delivery.error and delivery.state == "failed"
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 1


def test_the_connection_goes_to_the_checked_address_with_the_hosts_name(user, receiver, monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    port = receiver.url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"pinned.example.test": ["127.0.0.1"]})
    hook = services.webhook_create(owner=user, url=f"http://pinned.example.test:{port}/hooks/x")
    services.delivery_attempt(delivery_pk=services.webhook_ping(webhook=hook).pk)
    assert [r.headers["Host"] for r in receiver.requests] == [f"pinned.example.test:{port}"]


@pytest.fixture
def tls_receiver(receiver, tmp_path, monkeypatch):
    """An https receiver for the name secure.example.test (resolved to loopback) with its own certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=secure.example.test",
         "-addext", "subjectAltName=DNS:secure.example.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake_dns(monkeypatch, {"secure.example.test": ["127.0.0.1"]})
    yield f"https://secure.example.test:{server.server_port}/hooks/tls", cert
    server.shutdown()
    server.server_close()


def test_https_certificates_are_checked_against_the_host_name(user, receiver, tls_receiver, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    url, cert = tls_receiver
    hook = services.webhook_create(owner=user, url=url)
    untrusted = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=untrusted.pk)
    untrusted.refresh_from_db()
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error and receiver.requests == []

    # Once the certificate is trusted, the pinned connection completes with the name's certificate.
    real_context = ssl.create_default_context
    monkeypatch.setattr(webhooks.ssl, "create_default_context", lambda: real_context(cafile=str(cert)))
    trusted = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=trusted.pk)
    trusted.refresh_from_db()
    assert trusted.state == "succeeded", trusted.error
    assert [r.path for r in receiver.requests] == ["/hooks/tls"]
    assert webhooks.verify_signature(
        secret=hook.secret, body=receiver.requests[0].body, header=receiver.requests[0].headers["X-Assetsite-Signature"]
    )


def test_loopback_needs_the_setting_also_for_existing_hooks(user, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    hook = services.webhook_create(owner=user, url=receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    delivery = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    assert receiver.requests == [] and "loopback" in delivery.error and delivery.state == "failed"


# --- signatures -----------------------------------------------------------------------------------------


def test_signature_checks_body_secret_and_age():
    body = b'{"event":"asset.tagged"}'
    header = webhooks.signature_header(secret="s3", body=body, timestamp=1_700_000_000)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    assert webhooks.verify_signature(secret="s3", body=body, header=header, now=1_700_000_100)
    assert not webhooks.verify_signature(secret="s3", body=body, header=header, now=1_700_000_400)  # too old
    assert not webhooks.verify_signature(secret="s4", body=body, header=header, now=1_700_000_000)
    assert not webhooks.verify_signature(secret="s3", body=body[:-1], header=header, now=1_700_000_000)
    forged = header.replace("t=1700000000", "t=1700000300")  # a fresher stamp does not carry the signature
    assert not webhooks.verify_signature(secret="s3", body=body, header=forged, now=1_700_000_300)
    assert not webhooks.verify_signature(secret="s3", body=body, header="garbage", now=1_700_000_000)
    assert docs_verify()("s3", body, header, now=1_700_000_100)
    assert not docs_verify()("s3", body, header, now=1_700_000_400)


# --- the webhook API ------------------------------------------------------------------------------------


def test_webhook_crud_and_secret(api_client, user, receiver, loopback_allowed):
    created = api_client.post(
        "/api/webhooks/", {"url": receiver.url, "events": ["asset.tagged"], "description": "ci"}, format="json"
    ).json()
    secret = created["secret"]
    url = f"/api/webhooks/{created['id']}/"
    detail = api_client.get(url).json()
    assert "secret" not in detail and detail["events"] == ["asset.tagged"] and detail["active"] is True
    assert "secret" not in api_client.get("/api/webhooks/").json()["results"][0]
    assert api_client.get(url + "secret/").json() == {"secret": secret}

    rotated = api_client.post(url + "secret/").json()["secret"]
    assert rotated != secret and Webhook.objects.get(pk=created["id"]).secret == rotated

    patched = api_client.patch(url, {"active": False, "events": ["asset.failed", "asset.tagged"]}, format="json")
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert patched.json()["events"] == ["asset.failed", "asset.tagged"]
    bad = api_client.patch(url, {"events": ["asset.exploded"]}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()["errors"]
    assert api_client.patch(url, {"events": []}, format="json").status_code == 400

    assert api_client.delete(url).status_code == 204
    assert not Webhook.objects.exists()


def test_webhook_count_is_capped(api_client, user, receiver, loopback_allowed, settings):
    settings.WEBHOOK_MAX_PER_USER = 2
    for n in range(2):  # two targets (the same URL twice is refused for another reason)
        assert api_client.post("/api/webhooks/", {"url": f"{receiver.url}?n={n}"}, format="json").status_code == 201
    response = api_client.post("/api/webhooks/", {"url": f"{receiver.url}?n=3"}, format="json")
    assert response.status_code == 400 and "delete one first" in response.json()["detail"]


def test_other_users_webhooks_are_404(api_client, other_user, receiver, loopback_allowed):
    theirs = services.webhook_create(owner=other_user, url=receiver.url)
    url = f"/api/webhooks/{theirs.pk}/"
    assert api_client.get("/api/webhooks/").json()["results"] == []
    for method, path in [
        ("get", url),
        ("patch", url),
        ("delete", url),
        ("get", url + "secret/"),
        ("post", url + "secret/"),
        ("post", url + "ping/"),
        ("get", url + "deliveries/"),
    ]:
        response = getattr(api_client, method)(path, {"active": False}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found", (method, path)
    theirs.refresh_from_db()
    assert theirs.active and WebhookDelivery.objects.count() == 0 and receiver.requests == []
    assert api_client.get("/api/webhooks/abc/").status_code == 404


def test_webhook_api_needs_authentication(user, receiver, loopback_allowed):
    hook = services.webhook_create(owner=user, url=receiver.url)
    for client in (APIClient(), _bad_token()):
        for method, path in [
            ("get", "/api/webhooks/"),
            ("post", "/api/webhooks/"),
            ("get", f"/api/webhooks/{hook.pk}/"),
            ("get", f"/api/webhooks/{hook.pk}/secret/"),
            ("get", f"/api/webhooks/{hook.pk}/deliveries/"),
        ]:
            response = getattr(client, method)(path, {"url": receiver.url}, format="json")
            assert response.status_code == 401 and "secret" not in response.json(), (method, path)
    assert Webhook.objects.count() == 1


def _bad_token() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    return client


def test_delivery_goes_on_to_the_next_checked_address_when_one_refuses(receiver):
    from urllib.parse import urlsplit

    from integrations import webhooks

    parts = urlsplit(receiver.url)
    # 127.0.0.2 is loopback too, but nothing listens there: as when one of a host's machines is down.
    target = webhooks.Target("http", "127.0.0.1", parts.port, parts.path, ("127.0.0.2", "127.0.0.1"))
    result = webhooks.post(target=target, body=b"{}", headers={}, timeout=5, max_excerpt=100)
    assert (result.status_code, result.error) == (200, "")
    assert [request.path for request in receiver.requests] == [parts.path]
    refused = webhooks.post(target=webhooks.Target("http", "127.0.0.1", parts.port, parts.path, ("127.0.0.2",)),
                            body=b"{}", headers={}, timeout=5, max_excerpt=100)
    assert refused.status_code is None and "refused" in refused.error.lower()


def test_the_same_url_twice_is_refused_with_a_reason(api_client, other_api_client, settings):
    """One hook per target (scheme and host case and a default port do not make another one); a
    second would deliver every event twice. Another user's hook is no obstacle."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    first = api_client.post("/api/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert first.status_code == 201, first.content
    for same in ("http://127.0.0.1:9/hook", "HTTP://127.0.0.1:9/hook", " http://127.0.0.1:9/hook "):
        again = api_client.post("/api/webhooks/", {"url": same}, format="json")
        assert again.status_code == 400, again.content
        body = again.json()
        assert "url" in body["errors"] and "You already have a webhook for http://127.0.0.1:9/hook" in body["detail"]
    assert api_client.post("/api/webhooks/", {"url": "http://127.0.0.1:9/other"}, format="json").status_code == 201
    assert other_api_client.post("/api/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json").status_code == 201
    # Changing one hook's URL to another's is the same mistake; keeping its own URL is not.
    other = Webhook.objects.get(url="http://127.0.0.1:9/other")
    moved = api_client.patch(f"/api/webhooks/{other.pk}/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert moved.status_code == 400 and "already have a webhook" in moved.json()["detail"]
    kept = api_client.patch(f"/api/webhooks/{other.pk}/", {"url": "http://127.0.0.1:9/other"}, format="json")
    assert kept.status_code == 200
    assert Webhook.objects.count() == 3


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://example.com/hook", "https://EXAMPLE.com:443/hook", True),
        ("http://example.com", "http://example.com/", True),
        ("https://example.com/hook", "https://example.com/hook?x=1", False),
        ("https://example.com:8443/hook", "https://example.com/hook", False),
        ("http://example.com/hook", "https://example.com/hook", False),
        ("https://example.com/Hook", "https://example.com/hook", False),
    ],
)
def test_which_urls_are_the_same_target(a, b, same):
    assert (services._target_key(a) == services._target_key(b)) is same
