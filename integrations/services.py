"""Writes for integrations: API tokens, webhooks, and delivering events to them."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from integrations import webhooks
from integrations.models import PING_EVENT, Webhook, WebhookDelivery, WebhookEvent
from media.links import asset_file_paths, signed_file_paths, site_url
from media.models import Asset, TaggingStatus

logger = logging.getLogger(__name__)

STATUS_EVENTS = {TaggingStatus.TAGGED: WebhookEvent.ASSET_TAGGED, TaggingStatus.FAILED: WebhookEvent.ASSET_FAILED}
# Payloads carry at most this many detections; the asset's API URL has all of them.
PAYLOAD_MAX_DETECTIONS = 100


class WebhookInvalid(ValueError):
    """A webhook that cannot be saved; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str = "url") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- API tokens -----------------------------------------------------------------------------------


def token_create(*, user: AbstractBaseUser) -> Token:
    """The user's token, made if they have none (one token per user, as DRF's TokenAuthentication has it)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_regenerate(*, user: AbstractBaseUser) -> Token:
    """A new key; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def token_revoke(*, user: AbstractBaseUser) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


# --- webhooks -------------------------------------------------------------------------------------


def _checked_url(url: str) -> str:
    url = url.strip()
    try:
        webhooks.target_resolve(
            url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS, allowed_ports=settings.WEBHOOK_ALLOWED_PORTS
        )
    except webhooks.UnsafeTarget as error:
        raise WebhookInvalid(str(error)) from None
    return url


def _checked_events(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown or not chosen:
        raise WebhookInvalid(f"Choose events from {', '.join(WebhookEvent.values)}.", field="events")
    return chosen


def webhook_create(
    *,
    owner: AbstractBaseUser,
    url: str,
    events: Iterable[str] = tuple(WebhookEvent.values),
    description: str = "",
    active: bool = True,
) -> Webhook:
    """Register a URL; the host must resolve to public addresses (unless settings allow private ones)."""
    if Webhook.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_PER_USER:
        raise WebhookInvalid(
            f"You have {settings.WEBHOOK_MAX_PER_USER} webhooks, the most allowed; delete one first.", field="url"
        )
    return Webhook.objects.create(
        owner=owner,
        url=_checked_url(url),
        events=_checked_events(events),
        description=description.strip()[:200],
        active=active,
        secret=webhooks.secret_generate(),
    )


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Webhook:
    if url is not None:
        webhook.url = _checked_url(url)
    if events is not None:
        webhook.events = _checked_events(events)
    if description is not None:
        webhook.description = description.strip()[:200]
    if active is not None:
        webhook.active = active
    webhook.save(update_fields=["url", "events", "description", "active"])
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


def webhook_secret_rotate(*, webhook: Webhook) -> Webhook:
    """A new signing secret; deliveries from now on are signed with it."""
    webhook.secret = webhooks.secret_generate()
    webhook.save(update_fields=["secret"])
    return webhook


# --- events -----------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _asset_payload(asset: Asset) -> dict[str, Any]:
    detections = list(
        asset.detections.exclude(review="rejected").select_related("label").order_by("-confidence", "id")
    )
    return {
        "id": str(asset.pk),
        "filename": asset.original_filename,
        "title": asset.title,
        "status": asset.tagging_status,
        "error": asset.tagging_error,
        "width": asset.width,
        "height": asset.height,
        "sha256": asset.sha256,
        "created_at": _iso(asset.created_at),
        "tagged_at": _iso(asset.tagged_at),
        "api_path": reverse("api:asset-detail", args=[asset.pk]),
        # The receiver may hold the owner's token (urls) or none (signed_urls, valid for
        # WEBHOOK_FILE_URL_LIFETIME so that retries still carry working links). Absolute with SITE_URL.
        "urls": {
            "api": site_url(reverse("api:asset-detail", args=[asset.pk])),
            **{name: site_url(path) for name, path in asset_file_paths(asset).items()},
            "rendition": site_url(reverse("api:asset-rendition", args=[asset.pk])),
        },
        "signed_urls": {
            name: value if name == "expires_at" else site_url(value)
            for name, value in signed_file_paths(asset, lifetime=settings.WEBHOOK_FILE_URL_LIFETIME).items()
        },
        "tags": [
            {"label": tag.label.name, "confidence": tag.confidence, "count": tag.count}
            for tag in asset.tags.select_related("label").order_by("-confidence")
        ],
        "detection_count": len(detections),
        "detections": [
            {
                "id": detection.pk,
                "label": detection.label.name,
                "confidence": detection.confidence,
                "box": None
                if detection.box is None
                else {"x": detection.x, "y": detection.y, "width": detection.width, "height": detection.height},
                "source": detection.source,
                "review": detection.review,
            }
            for detection in detections[:PAYLOAD_MAX_DETECTIONS]
        ],
    }


def _payload(*, event: str, delivery_id: uuid.UUID, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(delivery_id), "event": event, "created_at": timezone.now().isoformat(), **data}


def webhook_event_emit(*, asset_id: uuid.UUID | str, status: str) -> list[WebhookDelivery]:
    """Queue a delivery of the asset's event to each of its owner's hooks that wants it.

    The payload is taken now, so every retry sends the same body.
    """
    event = STATUS_EVENTS.get(status)  # type: ignore[call-overload]
    asset = Asset.objects.filter(pk=asset_id).first()
    if event is None or asset is None:
        return []
    hooks = [hook for hook in Webhook.objects.filter(owner_id=asset.owner_id, active=True) if hook.wants(event)]
    if not hooks:
        return []
    data = {"asset": _asset_payload(asset)}
    deliveries = []
    with transaction.atomic():
        for hook in hooks:
            delivery_id = uuid.uuid4()
            deliveries.append(
                WebhookDelivery.objects.create(
                    webhook=hook,
                    delivery_id=delivery_id,
                    event=event,
                    payload=_payload(event=event, delivery_id=delivery_id, data=data),
                )
            )
        for delivery in deliveries:
            _enqueue_after_commit(delivery.pk)
    return deliveries


def webhook_ping(*, webhook: Webhook) -> WebhookDelivery:
    """A test delivery, so a user can check their receiver and its signature check."""
    delivery_id = uuid.uuid4()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            webhook=webhook,
            delivery_id=delivery_id,
            event=PING_EVENT,
            payload=_payload(
                event=PING_EVENT, delivery_id=delivery_id, data={"webhook": {"id": webhook.pk, "url": webhook.url}}
            ),
        )
        _enqueue_after_commit(delivery.pk)
    return delivery


def _enqueue_after_commit(delivery_pk: int, countdown: int | None = None) -> None:
    def send() -> None:
        from integrations.tasks import deliver_webhook

        try:
            deliver_webhook.apply_async(args=[delivery_pk], countdown=countdown)
        except Exception as error:  # kombu raises several types when the broker is unreachable
            logger.warning("could not enqueue webhook delivery %s (broker down?): %s", delivery_pk, error)

    transaction.on_commit(send, robust=True)


INTERRUPTED = "No answer was recorded: the worker stopped during the attempt."


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped."""
    return int(min(settings.WEBHOOK_RETRY_BASE * 4 ** (attempt - 1), settings.WEBHOOK_RETRY_MAX))


def delivery_attempt(*, delivery_pk: int) -> WebhookDelivery | None:
    """Make one attempt: POST the signed payload, record the answer, schedule the next attempt on failure.

    Safe to run twice for the same row: only the run that claims it (sets ``delivered_at``) sends.
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_pk, delivered_at__isnull=True).update(
        delivered_at=now, error=INTERRUPTED
    )
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if not claimed or delivery is None:
        return delivery
    hook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    retryable = True
    if not hook.active and delivery.event != PING_EVENT:
        result = webhooks.PostResult(None, "", "The webhook was turned off; not sent.", 0)
        retryable = False
    else:
        try:
            # Resolved again now: the name may point somewhere else than when the hook was saved.
            target = webhooks.target_resolve(
                hook.url,
                allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
                allowed_ports=settings.WEBHOOK_ALLOWED_PORTS,
            )
        except webhooks.UnsafeTarget as error:
            result = webhooks.PostResult(None, "", str(error), 0)
            retryable = isinstance(error, webhooks.UnresolvableHost)  # DNS trouble passes; a refused address not
        else:
            result = webhooks.post(
                target=target,
                body=body,
                headers={
                    webhooks.SIGNATURE_HEADER: webhooks.signature_header(secret=hook.secret, body=body),
                    webhooks.EVENT_HEADER: delivery.event,
                    webhooks.DELIVERY_HEADER: str(delivery.delivery_id),
                },
                timeout=settings.WEBHOOK_TIMEOUT,
                max_excerpt=settings.WEBHOOK_RESPONSE_EXCERPT,
            )
    delivery.status_code = result.status_code
    delivery.response_excerpt = result.excerpt
    delivery.error = result.error or (
        "" if delivery.succeeded else f"The receiver answered {result.status_code}; only 2xx counts as delivered."
    )
    delivery.duration_ms = result.duration_ms
    retry = not delivery.succeeded and retryable and delivery.attempt < settings.WEBHOOK_MAX_ATTEMPTS
    delivery.next_retry = timezone.now() + timedelta(seconds=retry_delay(delivery.attempt)) if retry else None
    with transaction.atomic():
        delivery.save(
            update_fields=["status_code", "response_excerpt", "error", "duration_ms", "next_retry"]
        )
        if retry:
            following = WebhookDelivery.objects.create(
                webhook=hook,
                delivery_id=delivery.delivery_id,
                event=delivery.event,
                payload=delivery.payload,
                attempt=delivery.attempt + 1,
            )
            _enqueue_after_commit(following.pk, countdown=retry_delay(delivery.attempt))
    return delivery


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    interrupted: int


def deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Send again what was lost on the way: attempts never queued (broker down) or never run, and
    attempts whose worker died mid-request (those count as failed and are retried if attempts remain).
    """
    now = now or timezone.now()
    grace = timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE)
    requeued = 0
    waiting = WebhookDelivery.objects.filter(delivered_at__isnull=True, created_at__lt=now - grace).order_by("id")
    for delivery in waiting[:limit]:
        previous = (
            WebhookDelivery.objects.filter(delivery_id=delivery.delivery_id, attempt=delivery.attempt - 1)
            .values_list("next_retry", flat=True)
            .first()
        )
        if previous is not None and previous > now - grace:
            continue  # a retry still waiting for its countdown
        _enqueue_after_commit(delivery.pk)
        requeued += 1
    # Time limits of the task plus grace: past them, a claimed attempt without an answer is dead.
    stale = now - grace - timedelta(seconds=settings.WEBHOOK_TIMEOUT * 3 + 20)
    interrupted = 0
    for delivery in WebhookDelivery.objects.filter(
        error=INTERRUPTED, status_code__isnull=True, next_retry__isnull=True, delivered_at__lt=stale
    ).select_related("webhook")[:limit]:
        with transaction.atomic():
            if delivery.attempt < settings.WEBHOOK_MAX_ATTEMPTS and not WebhookDelivery.objects.filter(
                delivery_id=delivery.delivery_id, attempt=delivery.attempt + 1
            ).exists():
                delivery.next_retry = now
                delivery.save(update_fields=["next_retry"])
                following = WebhookDelivery.objects.create(
                    webhook=delivery.webhook,
                    delivery_id=delivery.delivery_id,
                    event=delivery.event,
                    payload=delivery.payload,
                    attempt=delivery.attempt + 1,
                )
                _enqueue_after_commit(following.pk)
                interrupted += 1
    return SweepResult(requeued=requeued, interrupted=interrupted)
