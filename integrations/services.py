"""Writes for integrations: API tokens, webhooks, and delivering events to them."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from integrations import webhooks
from integrations.models import PING_EVENT, ApiToken, Webhook, WebhookDelivery, WebhookEvent
from integrations.selectors import owner_has_active_webhooks
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

# New keys start with this, so they are recognisable (secret scanners, logs); older keys were 40 hex digits.
TOKEN_KEY_PREFIX = "ast_"
TOKEN_SHOWN_CHARS = 8
# "Last used" is written at most this often per token, so a busy script does not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)


class TokenInvalid(ValueError):
    """A token that cannot be made; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(
    *, user: AbstractBaseUser, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token and its key. Only the digest is stored: the caller shows the key once, or never."""
    now = timezone.now()
    if ApiToken.objects.filter(user=user).count() >= settings.API_TOKEN_MAX_PER_USER:
        raise TokenInvalid(
            f"You have {settings.API_TOKEN_MAX_PER_USER} tokens, the most allowed; revoke one you no longer use."
        )
    if expires_at is not None and expires_at <= now:
        raise TokenInvalid("The expiry date must be in the future.", field="expires_at")
    if settings.API_TOKEN_MAX_DAYS:
        latest = now + timedelta(days=settings.API_TOKEN_MAX_DAYS)
        if expires_at is None:
            expires_at = latest
        elif expires_at > latest:
            raise TokenInvalid(
                f"Tokens may live at most {settings.API_TOKEN_MAX_DAYS} days here; choose an earlier expiry.",
                field="expires_at",
            )
    key = TOKEN_KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=" ".join(name.split())[:100] or "API token",
        prefix=key[:TOKEN_SHOWN_CHARS],
        digest=token_digest(key),
        expires_at=expires_at,
    )
    return token, key


def token_revoke(*, token: ApiToken) -> None:
    """Requests with this token are refused from now on."""
    token.delete()


def token_revoke_all(*, user: AbstractBaseUser) -> int:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def token_mark_used(*, token: ApiToken, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if token.last_used_at is not None and token.last_used_at > now - TOKEN_TOUCH_INTERVAL:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOKEN_TOUCH_INTERVAL)
    ).update(last_used_at=now)
    token.last_used_at = now


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


def _target_key(url: str) -> tuple[str, str, str, str]:
    """What makes two URLs the same target: case-insensitive scheme and host, default port dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").rstrip(".")
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return scheme, host, parts.path or "/", parts.query


def _refuse_duplicate(owner: AbstractBaseUser, url: str, *, exclude: int | None = None) -> None:
    """One hook per target: a second one would deliver every event twice."""
    key = _target_key(url)
    for hook in Webhook.objects.filter(owner=owner).exclude(pk=exclude).only("url", "created_at"):
        if _target_key(hook.url) == key:
            raise WebhookInvalid(
                f"You already have a webhook for {hook.url} (added {hook.created_at:%Y-%m-%d}): "
                "change or delete that one instead of adding the same URL twice."
            )


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
    _refuse_duplicate(owner, url)
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
        _refuse_duplicate(webhook.owner, url, exclude=webhook.pk)
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


def webhook_event_emit(
    *, asset_id: uuid.UUID | str, status: str, owner_id: int | None = None
) -> list[WebhookDelivery]:
    """Queue a delivery of the asset's event to each of its owner's hooks that wants it.

    The payload is taken now, so every retry sends the same body. With ``owner_id`` (the worker sends
    it), an owner without hooks costs one query and the asset is not read.
    """
    event = STATUS_EVENTS.get(status)  # type: ignore[call-overload]
    if event is None:
        return []
    asset = None
    if owner_id is None:
        asset = Asset.objects.filter(pk=asset_id).first()
        if asset is None:
            return []
        owner_id = asset.owner_id
    elif not owner_has_active_webhooks(owner_id):
        return []
    hooks = [hook for hook in Webhook.objects.filter(owner_id=owner_id, active=True) if hook.wants(event)]
    if not hooks:
        return []
    asset = asset or Asset.objects.filter(pk=asset_id, owner_id=owner_id).first()
    if asset is None:  # deleted or in the trash meanwhile
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
    # A test delivery is never retried: the person who asked for it reads its one answer in the log.
    retryable = retryable and delivery.event != PING_EVENT
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
    # A test delivery is not retried, also not after its worker died.
    for delivery in WebhookDelivery.objects.filter(
        error=INTERRUPTED, status_code__isnull=True, next_retry__isnull=True, delivered_at__lt=stale
    ).exclude(event=PING_EVENT).select_related("webhook")[:limit]:
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
