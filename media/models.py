from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce


class TaggingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    TAGGED = "tagged", "Tagged"
    FAILED = "failed", "Failed"


class AssetKind(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"


class LiveAssetManager(models.Manager["Asset"]):
    """Assets that are not in the trash: what every read sees unless it asks for the trash by name.

    The default manager, so ``Asset.objects``, ``user.assets`` and everything built on them (the
    owner-scoped ``assets_visible_to``, signed file URLs, webhooks, the sweeper) cannot forget the
    rule. Related lookups (``detection.asset``) and deletions use the base manager and see every row.
    """

    def get_queryset(self) -> models.QuerySet[Asset]:
        return super().get_queryset().filter(trashed_at__isnull=True)


class Asset(models.Model):
    """One uploaded image or video. Files are named by id, never by the uploaded filename."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    file = models.FileField(max_length=255)
    original_filename = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=10)
    mime_type = models.CharField(max_length=40)
    kind = models.CharField(max_length=5, choices=AssetKind.choices, default=AssetKind.IMAGE)
    # Upright (EXIF orientation or the video's rotation applied).
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Videos only: seconds, average frames per second, codec (h264, hevc, av1, vp8, vp9).
    duration = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    video_codec = models.CharField(max_length=16, blank=True)
    byte_size = models.PositiveBigIntegerField()
    taken_at = models.DateTimeField(null=True, blank=True)
    # Minutes east of UTC on the camera's clock (EXIF OffsetTimeOriginal, a phone video's creation
    # date); None when the file does not say, and then taken_at is the camera's time read as UTC.
    taken_offset = models.SmallIntegerField(null=True, blank=True)
    camera = models.CharField(max_length=255, blank=True)
    thumbnail_small = models.FileField(max_length=255, blank=True)
    thumbnail_large = models.FileField(max_length=255, blank=True)
    # Videos browsers cannot play as uploaded: an H.264 MP4 (or VP9 WebM) copy made by the worker
    # after tagging (media/video_proxy.py); empty for images and web-playable videos.
    video_proxy = models.FileField(max_length=255, blank=True)
    # Why no proxy could be made (the original does not decode): not tried again by the sweeper.
    video_proxy_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Driven by the tagging pipeline.
    tagging_status = models.CharField(max_length=12, choices=TaggingStatus.choices, default=TaggingStatus.PENDING)
    tagging_error = models.TextField(blank=True)
    tagging_attempts = models.PositiveSmallIntegerField(default=0)
    tagging_task_id = models.CharField(max_length=64, blank=True)
    tagging_enqueued_at = models.DateTimeField(null=True, blank=True)
    tagging_started_at = models.DateTimeField(null=True, blank=True)
    tagged_at = models.DateTimeField(null=True, blank=True)
    # Objects found (rejected ones excluded), kept by the tagging app so "most objects" sorts by index.
    object_count = models.PositiveIntegerField(default=0)

    # A person's marks: a heart, and when the asset went to the trash (None: not in it). A trashed
    # asset keeps its files, detections and collection places until it is restored or purged.
    favorite = models.BooleanField(default=False)
    trashed_at = models.DateTimeField(null=True, blank=True)

    objects = LiveAssetManager()
    # The trash and everything else: only the trash's own reads and writes, dedupe and admin use it.
    all_objects = models.Manager()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="asset_unique_content_per_owner"),
        ]
        indexes = [
            # Newest first; taken_at and trashed_at are key columns so PostgreSQL checks "taken in a range"
            # and "not in the trash" on the index entries while walking it, reading a row only for a hit,
            # and lists a search's ids index-only (docs/search.md, "Ten million detections").
            models.Index(fields=["owner", "-created_at", "-id", "taken_at", "trashed_at"], name="asset_owner_newest"),
            models.Index(fields=["tagging_status", "tagging_enqueued_at"], name="asset_tagging_queue"),
            models.Index(fields=["owner", "-object_count", "-created_at", "-id"], name="asset_owner_objects"),
            # The timeline (search/timeline.py): date taken, else uploaded, newest first.
            models.Index(
                models.F("owner"),
                Coalesce("taken_at", "created_at").desc(),
                models.F("id").desc(),
                name="asset_owner_timeline",
            ),
            # The trash page (newest first) and the purge (oldest first) read only trashed rows.
            models.Index(
                fields=["owner", "-trashed_at"], name="asset_owner_trash", condition=models.Q(trashed_at__isnull=False)
            ),
            models.Index(fields=["trashed_at"], name="asset_trash_purge", condition=models.Q(trashed_at__isnull=False)),
            # A user's live asset ids, index-only: the match set that facets of a search and OR queries
            # join against, instead of reading the whole table (docs/search.md, "Plans").
            models.Index(fields=["owner", "id"], name="asset_owner_live", condition=models.Q(trashed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.title or self.original_filename

    @property
    def taken_local(self) -> datetime | None:
        """When it was taken on the camera's own clock (naive: templates must not convert it)."""
        if self.taken_at is None:
            return None
        offset = timedelta(minutes=self.taken_offset or 0)
        return (self.taken_at.astimezone(UTC) + offset).replace(tzinfo=None)

    @property
    def taken_zone(self) -> str:
        """The camera's offset as +02:00, or UTC when the file gave none."""
        if self.taken_offset is None:
            return "UTC"
        sign = "-" if self.taken_offset < 0 else "+"
        hours, minutes = divmod(abs(self.taken_offset), 60)
        return f"{sign}{hours:02d}:{minutes:02d}"

    @property
    def display_name(self) -> str:
        return self.title or self.original_filename

    @property
    def is_video(self) -> bool:
        return self.kind == AssetKind.VIDEO

    @property
    def in_trash(self) -> bool:
        return self.trashed_at is not None

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000
