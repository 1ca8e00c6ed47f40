"""Webhooks have a queue of their own (a slow receiver never holds up detection), every shipped way of
running workers consumes it (nothing is stranded), a webhook-only worker loads no model, and a test
delivery (webhook.ping) is never retried."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from django.conf import settings as django_settings
from django.utils import timezone

from assetsite.celery import app
from integrations import services
from integrations.models import PING_EVENT, WebhookDelivery
from integrations.tasks import deliver_webhook

REPO = Path(__file__).resolve().parents[2]
HOOK_URL = "http://127.0.0.1:9/receiver"  # port 9 on loopback refuses at once


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_webhook_tasks_are_routed_to_their_own_queue():
    assert django_settings.WEBHOOK_QUEUE == "webhooks"
    assert queue_of("integrations.tasks.deliver_webhook") == "webhooks"
    assert queue_of("integrations.tasks.sweep_webhook_deliveries") == "webhooks"
    assert queue_of("tagging.tasks.detect_objects") == django_settings.TAGGING_QUEUE == "detection"
    assert queue_of("tagging.tasks.tag_next") == django_settings.TAGGING_BULK_QUEUE == "detection-bulk"


def test_a_queued_delivery_is_published_to_the_webhooks_queue(monkeypatch, user, settings,
                                                              django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    published: list[str] = []

    def capture(self, message, routing_key=None, **kwargs):
        published.append(routing_key)

    monkeypatch.setattr("kombu.messaging.Producer.publish", capture)
    hook = services.webhook_create(owner=user, url=HOOK_URL)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_ping(webhook=hook)
    assert published == ["webhooks"]


def _default(value: str) -> str:
    """``${NAME:-default}`` → ``default`` (what Compose uses when .env does not set NAME)."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
    return match.group(1) if match else value


def test_every_routed_queue_has_a_worker_in_compose_and_in_run_sh():
    needed = {django_settings.TAGGING_QUEUE, django_settings.TAGGING_BULK_QUEUE, django_settings.WEBHOOK_QUEUE,
              django_settings.CELERY_TASK_DEFAULT_QUEUE}
    services_ = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    served: set[str] = set()
    for service in services_.values():
        command = service.get("command") or []
        if "worker" in command and not service.get("profiles"):  # the workers `docker compose up` starts
            served |= set(_default(command[command.index("-Q") + 1]).split(","))
    assert needed <= served, f"queues no default compose worker consumes: {needed - served}"
    # The webhook worker is a service of its own: detection workers never wait on receivers.
    webhook_worker = services_["webhook-worker"]["command"]
    assert _default(webhook_worker[webhook_worker.index("-Q") + 1]) == "webhooks"
    assert "webhooks" not in _default(services_["worker"]["command"][services_["worker"]["command"].index("-Q") + 1])

    run_sh = (REPO / "scripts" / "run.sh").read_text()
    queues = {queue for found in re.findall(r"-Q\s+\"?([^\s\"]+)", run_sh) for queue in _default(found).split(",")}
    assert needed <= queues, f"queues scripts/run.sh starts no worker for: {needed - queues}"


def test_a_webhook_only_worker_does_not_load_the_model(monkeypatch):
    from tagging import model_cache, receivers

    monkeypatch.delenv("TAGGING_WORKER_SKIP_MODEL", raising=False)
    monkeypatch.delenv("TAGGING_WORKER_CONCURRENCY", raising=False)
    loads: list[str] = []
    monkeypatch.setattr(model_cache, "get_detector", lambda model="": loads.append(model))

    def started_with(*queues: str) -> None:
        queues_ = SimpleNamespace(consume_from={queue: object() for queue in queues})
        receivers.remember_concurrency(sender=SimpleNamespace(concurrency=2, app=SimpleNamespace(
            amqp=SimpleNamespace(queues=queues_))))

    started_with("webhooks")
    receivers.load_detector_after_fork()
    assert loads == [] and os.environ["TAGGING_WORKER_SKIP_MODEL"] == "1"

    monkeypatch.delenv("TAGGING_WORKER_SKIP_MODEL")
    started_with("detection", "celery")
    receivers.load_detector_after_fork()
    assert loads == [""] and "TAGGING_WORKER_SKIP_MODEL" not in os.environ

    started_with("detection-bulk")  # a worker for re-tags only detects too
    receivers.load_detector_after_fork()
    assert loads == ["", ""] and "TAGGING_WORKER_SKIP_MODEL" not in os.environ


# --- test deliveries are never retried ---------------------------------------------------------------


@pytest.fixture
def hook(user, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 6
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kwargs: None)
    return services.webhook_create(owner=user, url=HOOK_URL)


@pytest.mark.django_db
def test_a_failed_ping_is_not_retried(hook):
    ping = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=ping.pk)
    ping.refresh_from_db()
    assert ping.state == "failed" and ping.next_retry is None and ping.error
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 1
    # The same failure on a real event is retried: the difference is the event, nothing else.
    event = WebhookDelivery.objects.create(webhook=hook, event="asset.tagged", payload={})
    services.delivery_attempt(delivery_pk=event.pk)
    event.refresh_from_db()
    assert event.state == "retrying" and WebhookDelivery.objects.filter(webhook=hook, attempt=2).exists()


@pytest.mark.django_db
def test_a_ping_whose_worker_died_is_not_retried_by_the_sweeper(hook):
    ping = services.webhook_ping(webhook=hook)
    WebhookDelivery.objects.filter(pk=ping.pk).update(delivered_at=timezone.now(), error=services.INTERRUPTED)
    later = timezone.now() + timedelta(minutes=10)
    assert services.deliveries_sweep(now=later).interrupted == 0
    assert list(WebhookDelivery.objects.values_list("event", "attempt")) == [(PING_EVENT, 1)]
