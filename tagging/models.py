from __future__ import annotations

from django.conf import settings
from django.db import models

from media.models import Asset
from tagging.boxes import Box


class Label(models.Model):
    """A tag name: COCO's, a custom model's, or one a user typed. Stored lower-case."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DetectionRun(models.Model):
    """Provenance of one detection attempt on one asset: which model, with which settings, how it went."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="detection_runs")
    model_name = models.CharField(max_length=200)
    weights = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=32, blank=True)
    score_threshold = models.FloatField(null=True, blank=True)
    label_thresholds = models.JSONField(default=dict, blank=True)
    max_detections = models.PositiveIntegerField(null=True, blank=True)
    min_box_size = models.PositiveIntegerField(null=True, blank=True)
    batch_size = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    detection_count = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    # Videos: sampling rate, scene cuts, the tracker's settings, samples analysed, resumed-from time.
    video = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["asset", "-started_at"], name="run_asset_started")]

    def __str__(self) -> str:
        return f"{self.model_name} on {self.asset_id} at {self.started_at:%Y-%m-%d %H:%M}"


class DetectionSource(models.TextChoices):
    AUTO = "auto", "Automatic"
    MANUAL = "manual", "Manual"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "Not reviewed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Detection(models.Model):
    """One object in one image. The box is null for a manual tag without a box."""

    # No single-column indexes: detection_asset_source (asset, ...) and detection_label_confidence
    # (label, ...) start with them, and every detection a worker writes would update both twice.
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="detections", db_index=False)
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="detections", db_index=False)
    confidence = models.FloatField()
    x = models.PositiveIntegerField(null=True, blank=True)
    y = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=DetectionSource.choices, default=DetectionSource.AUTO)
    review = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.UNREVIEWED)
    run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="detections")
    # What the detector first called this box, kept when a person relabels it: re-tagging must not
    # suggest the old label for the same object again.
    suggested_label = models.ForeignKey(
        Label, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-confidence", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(x__isnull=True, y__isnull=True, width__isnull=True, height__isnull=True)
                    | models.Q(x__isnull=False, y__isnull=False, width__gt=0, height__gt=0)
                ),
                name="detection_box_complete_or_absent",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0.0, confidence__lte=1.0), name="detection_confidence_0_1"
            ),
        ]
        indexes = [
            models.Index(fields=["asset", "source", "review"], name="detection_asset_source"),
            models.Index(fields=["label", "-confidence"], name="detection_label_confidence"),
        ]

    def __str__(self) -> str:
        return f"{self.label.name} {self.confidence:.2f}"

    @property
    def box(self) -> Box | None:
        if self.x is None or self.y is None or self.width is None or self.height is None:
            return None
        return Box(x=self.x, y=self.y, width=self.width, height=self.height)

    @box.setter
    def box(self, value: Box | None) -> None:
        self.x, self.y, self.width, self.height = (
            (value.x, value.y, value.width, value.height) if value is not None else (None, None, None, None)
        )

    @property
    def reviewed(self) -> bool:
        return self.review != ReviewState.UNREVIEWED


class AssetTag(models.Model):
    """Per asset and label: the strongest confidence and how many objects, kept in step with detections.

    Rejected detections do not count. ``owner`` is copied from the asset so facet counts can be
    scoped without a join.
    """

    # No single-column indexes on the keys: asset_tag_unique_label (asset, label), asset_tag_label_asset
    # (label, asset) and asset_tag_owner_label_cover (owner, label, ...; migration 0002) start with them.
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="tags", db_index=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="asset_tags", db_index=False)
    confidence = models.FloatField()
    count = models.PositiveIntegerField()
    max_area = models.FloatField(default=0.0, help_text="Largest box as a share of the image area (0-1).")
    has_manual = models.BooleanField(default=False)

    class Meta:
        ordering = ["-confidence"]
        constraints = [models.UniqueConstraint(fields=["asset", "label"], name="asset_tag_unique_label")]
        indexes = [
            models.Index(fields=["label", "asset"], name="asset_tag_label_asset"),
        ]

    def __str__(self) -> str:
        return f"{self.label.name}×{self.count}"


class BulkRequest(models.Model):
    """An asset waiting in the bulk lane (re-tags): its owner's turn comes round-robin with other users'.

    No message is sent per asset: a few ``BulkToken`` messages pick the next asset when they run, so
    a re-tag of 100,000 assets is 100,000 rows here and only ``TAGGING_BULK_IN_FLIGHT`` messages.
    The row goes when the asset's tagging ends (``detections_replace``, ``tagging_fail``) or when a
    fresh request moves the asset to the fresh lane.
    """

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="bulk_request")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["owner", "requested_at"], name="bulk_owner_requested")]

    def __str__(self) -> str:
        return f"bulk {self.asset_id} for {self.owner_id}"


class BulkTurn(models.Model):
    """A user who asked for bulk work, and when it was last served: the user served longest ago goes
    next (never served first, then the earliest to ask). One row per user, so picking whose turn it
    is costs a look at each user, not at each waiting asset."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    served_at = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField()


class BulkToken(models.Model):
    """One message on the bulk queue; it tags the next asset due when a worker runs it."""

    id = models.UUIDField(primary_key=True)
    sent_at = models.DateTimeField()

class LabelCount(models.Model):
    """How many of an owner's assets outside the trash carry a label: the sum of ``assets`` over the rows.

    Rows are deltas appended by PostgreSQL triggers on ``tagging_assettag`` and ``media_asset`` (see
    migration 0005), in the transaction that changes the tags or the trash, so every write path is
    covered and writers never wait on each other for a shared counter row. ``label_counts_compact``
    folds the deltas into one row per label. No foreign-key constraints: the triggers add rows while
    Django deletes a user, in whatever order it deletes the user's rows.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    label = models.ForeignKey(Label, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    assets = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "label"], name="label_count_owner_label")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.label_id}: {self.assets:+d}"


class LabelPairCount(models.Model):
    """How many of an owner's assets outside the trash carry both ``label`` and ``other`` (two different
    labels; each pair is stored both ways round): the sum of ``assets`` over the rows.

    Delta rows from the same PostgreSQL triggers as ``LabelCount`` (migration 0009); they give the
    facets of a one-label search ("dog": which other labels its pictures carry) without counting tags.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    label = models.ForeignKey(Label, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    other = models.ForeignKey(Label, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    assets = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "label"], name="label_pair_owner_label")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.label_id}+{self.other_id}: {self.assets:+d}"


class MonthCount(models.Model):
    """How many of an owner's assets outside the trash fall in a timeline month (date taken, else the
    upload time, in ``TIME_ZONE``): all of them (``label`` NULL) or those carrying ``label``. The sum of
    ``assets`` over the rows.

    Delta rows from PostgreSQL triggers on ``media_asset`` and ``tagging_assettag`` (migration 0011),
    like ``LabelCount``; they give the timeline's *Jump to* months without grouping every match
    (``tagging/month_counts.py``).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    label = models.ForeignKey(
        Label, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", null=True, blank=True
    )
    month = models.DateField(help_text="The month's first day.")
    assets = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "label", "month"], name="month_count_owner_label")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.label_id or '*'}/{self.month:%Y-%m}: {self.assets:+d}"


class Track(models.Model):
    """One object followed through a video: what, from when to when, how sure, and where at each sample.

    The boxes are one JSON list per track (``[[t, x, y, width, height, confidence], …]``), not a child
    table: they are always read and replaced together with their track and never searched one by one,
    and a half-hour video at 2 samples a second would otherwise write thousands of rows per object
    inside the replace transaction. Search uses the per-label summary (``AssetTag``) and the track's
    start/end columns.
    """

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="tracks")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="tracks")
    start = models.FloatField(help_text="Seconds from the start of the video: the first sample it was seen in.")
    end = models.FloatField(help_text="The last sample it was seen in.")
    confidence = models.FloatField(help_text="The highest confidence over its samples.")
    mean_confidence = models.FloatField()
    boxes = models.JSONField(default=list)
    source = models.CharField(max_length=8, choices=DetectionSource.choices, default=DetectionSource.AUTO)
    review = models.CharField(max_length=10, choices=ReviewState.choices, default=ReviewState.UNREVIEWED)
    run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="tracks")
    # What the tracker first called it, kept when a person relabels the track (as for detections).
    suggested_label = models.ForeignKey(Label, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="track_end_after_start"),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0.0, confidence__lte=1.0), name="track_confidence_0_1"
            ),
        ]
        indexes = [
            models.Index(fields=["asset", "start", "id"], name="track_asset_start"),
            models.Index(fields=["asset", "label"], name="track_asset_label"),
        ]

    def __str__(self) -> str:
        return f"{self.label.name} {self.start:.1f}-{self.end:.1f}s"

    @property
    def reviewed(self) -> bool:
        return self.review != ReviewState.UNREVIEWED

    def box_at(self, t: float) -> Box | None:
        """The box at the sample nearest ``t`` (None without boxes)."""
        if not self.boxes:
            return None
        point = min(self.boxes, key=lambda row: abs(row[0] - t))
        return Box(x=int(point[1]), y=int(point[2]), width=int(point[3]), height=int(point[4]))


class VideoProgress(models.Model):
    """Where tagging a video got to: ``tagging.video.detect_video``'s last checkpoint (JSON).

    Kept per asset, not per task, so whichever worker picks the video up next (the same message
    delivered again, or the sweeper's new one) resumes from it. Deleted when the tracks are stored.
    """

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, primary_key=True, related_name="video_progress")
    checkpoint = models.JSONField()
    samples = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.asset_id} at {self.samples} samples"
