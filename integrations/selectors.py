"""Reads for integrations. Everything a user can reach is scoped to them: another user's hook is None."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import QuerySet

from integrations.models import ApiToken, CocoImportJob, Webhook, WebhookDelivery


def webhooks_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Webhook]:
    if not user.is_authenticated:
        return Webhook.objects.none()
    return Webhook.objects.filter(owner=user)


def webhook_get(*, user: AbstractBaseUser | AnonymousUser, webhook_id: int | str) -> Webhook | None:
    try:
        key = int(str(webhook_id))
    except ValueError:
        return None
    if not 0 < key < 2**63:
        return None
    return webhooks_of(user).filter(pk=key).first()


def owner_has_active_webhooks(owner_id: int) -> bool:
    """Whether anyone listens, asked once per tagged asset by the worker: one plain statement, since the
    ORM's compilation (~0.7 ms on a small CPU) was most of this lookup's cost."""
    table = connection.ops.quote_name(Webhook._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE owner_id = %s AND active LIMIT 1", [owner_id])
        return cursor.fetchone() is not None


def deliveries_of(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")


def tokens_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_get(*, user: AbstractBaseUser | AnonymousUser, token_id: int | str) -> ApiToken | None:
    try:
        key = int(str(token_id))
    except ValueError:
        return None
    if not 0 < key < 2**63:
        return None
    return tokens_of(user).filter(pk=key).first()


def token_by_digest(digest: str) -> ApiToken | None:
    """The token with this key digest, with its user (for authentication)."""
    return ApiToken.objects.select_related("user").filter(digest=digest).first()


def coco_job_get(*, user: AbstractBaseUser | AnonymousUser, job_id: str) -> CocoImportJob | None:
    """The user's COCO import job, or None (someone else's, or not an id)."""
    if not user.is_authenticated:
        return None
    try:
        key = uuid.UUID(str(job_id))
    except ValueError:
        return None
    return CocoImportJob.objects.filter(owner=user, pk=key).first()
