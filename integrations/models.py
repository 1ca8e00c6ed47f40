from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class WebhookEvent(models.TextChoices):
    ASSET_TAGGED = "asset.tagged", "An asset was tagged"
    ASSET_FAILED = "asset.failed", "Tagging an asset failed"


# Sent only by the "send a test delivery" button or API call; hooks cannot subscribe to it.
PING_EVENT = "webhook.ping"


class Webhook(models.Model):
    """A URL a user wants told about their assets' events, with the secret its deliveries are signed with."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text="Event names this hook receives.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "active"], name="webhook_owner_active")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return self.active and event in self.events


class WebhookDelivery(models.Model):
    """One attempt to deliver one event: the delivery log.

    Attempts of the same event share ``delivery_id`` (sent as X-Assetsite-Delivery, so receivers can
    drop repeats) and the same payload. A failed attempt that will be retried has ``next_retry``;
    the retry is a new row with ``attempt`` + 1.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="When this attempt was made.")
    next_retry = models.DateTimeField(null=True, blank=True, help_text="When the next attempt is due, if any.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["webhook", "-created_at", "-id"], name="delivery_webhook_created")]

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} to {self.webhook_id}"

    @property
    def payload_text(self) -> str:
        """The payload as indented JSON, for the delivery log page."""
        return json.dumps(self.payload, indent=2, ensure_ascii=False)

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def state(self) -> str:
        """pending (not tried yet), succeeded, retrying (failed, will be tried again) or failed (gave up)."""
        if self.delivered_at is None:
            return "pending"
        if self.succeeded:
            return "succeeded"
        return "retrying" if self.next_retry is not None else "failed"


class ApiToken(models.Model):
    """A key for the API, stored only as its SHA-256 digest: the key itself is shown once, at creation.

    Keys are 256 random bits (older, migrated ones 160), so a plain digest cannot be reversed or guessed;
    a slow password hash would only slow every API request down.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, so you know which one to revoke.")
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key (hex).")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from then on; empty: never.")
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class CocoImportJob(models.Model):
    """A COCO import written by a worker (more than COCO_IMPORT_BACKGROUND_ANNOTATIONS annotations).

    The document was checked when the job was made; the worker checks it again against the assets as
    they are then, writes it, and keeps ``progress`` (annotations written) for the client to poll.
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coco_imports")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    annotations = models.PositiveIntegerField(help_text="Annotations in the document.")
    progress = models.PositiveIntegerField(default=0, help_text="Annotations of matched images written so far.")
    to_write = models.PositiveIntegerField(default=0, help_text="Annotations of matched images, to write in all.")
    document = models.JSONField(null=True, help_text="Dropped once the job ends.")
    result = models.JSONField(null=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    # The message that runs it: its redelivery (a worker died) resumes it, a second message does not.
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"])]
