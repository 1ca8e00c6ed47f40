"""The pipeline's writes: claim an asset for a worker, store what the detector found with its
provenance, fail, reset for re-tagging, and find what the sweeper must send again.

Enqueueing is in ``tagging.tasks`` beside the task it sends; human writes are in ``review.services``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from media.models import Asset, AssetKind, TaggingStatus
from tagging import rows
from tagging.boxes import Box, DetectedObject
from tagging.labels import normalize_label
from tagging.models import (
    AssetTag,
    BulkRequest,
    Detection,
    DetectionRun,
    DetectionSource,
    Label,
    ReviewState,
    Track,
    VideoProgress,
)
from tagging.signals import asset_tagging_finished
from tagging.tracking import most_at_once_spans

logger = logging.getLogger(__name__)

# A new automatic box this close to a reviewed one of the same label is the same object.
REVIEWED_MATCH_IOU = 0.5


@dataclass(frozen=True)
class RunInfo:
    """How a detection run was made, recorded as its provenance."""

    model_name: str
    weights: str = ""
    device: str = ""
    score_threshold: float | None = None
    label_thresholds: dict[str, float] = field(default_factory=dict)
    max_detections: int | None = None
    min_box_size: int | None = None
    batch_size: int = 1
    started_at: datetime | None = None
    duration_ms: int | None = None
    task_id: str = ""
    worker: str = ""
    video: dict[str, Any] = field(default_factory=dict)  # videos: sampling, tracker settings, resume


def label_get_or_create(*, name: str) -> Label:
    normalized = normalize_label(name)
    if not normalized:
        raise ValueError("A label needs a name.")
    label = Label.objects.filter(name=normalized).first()
    if label is not None:
        return label
    try:
        with transaction.atomic():
            return Label.objects.create(name=normalized)
    except IntegrityError:
        return Label.objects.get(name=normalized)


def labels_for(names: Iterable[str]) -> dict[str, Label]:
    wanted = {normalize_label(name) for name in names}
    found = {label.name: label for label in Label.objects.filter(name__in=wanted)}
    for name in wanted - found.keys():
        found[name] = label_get_or_create(name=name)
    return found


# --- claims ---------------------------------------------------------------------------------------


def tagging_reset(*, assets: QuerySet[Asset]) -> int:
    """Make assets pending again (for re-tagging); detections stay until the new run replaces them.

    A video's saved progress is dropped: re-tagging starts it over (perhaps with another model).
    """
    VideoProgress.objects.filter(asset__in=assets.values("pk")).delete()
    return assets.update(
        tagging_status=TaggingStatus.PENDING,
        tagging_error="",
        tagging_attempts=0,
        tagging_task_id="",
        tagging_enqueued_at=None,
        updated_at=timezone.now(),
    )


def tagging_claim(*, asset_id: uuid.UUID | str, task_id: str) -> Asset | None:
    """Mark a pending asset as processing by this task, counting the attempt.

    The same task id may claim again: that is a message delivered again after its worker died.
    Returns None when the asset is gone, done, or being processed by another task.
    """
    # One statement (UPDATE ... RETURNING): the worker pays for each round trip in detector time.
    return rows.asset_claim(asset_id=asset_id, task_id=task_id, now=timezone.now())


def tagging_claim_batch(*, task_id: str, limit: int, exclude: uuid.UUID) -> list[Asset]:
    """Claim up to ``limit`` more waiting assets for one forward pass.

    Only first attempts are batched: an asset that failed before runs alone, so an image that
    crashes the worker cannot take its neighbours down with it.
    """
    if limit <= 0:
        return []
    # Fresh assets first (no bulk request), then bulk ones; never one waiting for another model.
    candidates = list(
        Asset.objects.filter(tagging_status=TaggingStatus.PENDING, tagging_attempts=0, kind=AssetKind.IMAGE)
        .exclude(pk=exclude)
        .exclude(Exists(BulkRequest.objects.filter(asset_id=OuterRef("pk")).exclude(model="")))
        .annotate(bulk=Exists(BulkRequest.objects.filter(asset_id=OuterRef("pk"))))
        .order_by("bulk", "created_at")
        .values_list("pk", flat=True)[: limit * 2]
    )
    claimed: list[Asset] = []
    for asset_id in candidates:
        asset = tagging_claim(asset_id=asset_id, task_id=task_id)
        if asset is not None and asset.tagging_attempts == 1:
            claimed.append(asset)
        if len(claimed) >= limit:
            break
    return claimed


def tagging_release(*, asset_id: uuid.UUID | str, task_id: str, error: str = "") -> bool:
    """Give a claimed asset back to the queue after a transient error."""
    return bool(
        Asset.objects.filter(pk=asset_id, tagging_status=TaggingStatus.PROCESSING, tagging_task_id=task_id).update(
            tagging_status=TaggingStatus.PENDING, tagging_error=error[:2000], updated_at=timezone.now()
        )
    )


# --- results ------------------------------------------------------------------------------------


def _run_row(*, asset_id: uuid.UUID, info: RunInfo, succeeded: bool, error: str = "", count: int = 0) -> DetectionRun:
    return DetectionRun(
        asset_id=asset_id,
        model_name=info.model_name[:200],
        weights=info.weights[:255],
        device=info.device[:32],
        score_threshold=info.score_threshold,
        label_thresholds=dict(info.label_thresholds),
        max_detections=info.max_detections,
        min_box_size=info.min_box_size,
        batch_size=info.batch_size,
        started_at=info.started_at or timezone.now(),
        duration_ms=info.duration_ms,
        detection_count=count,
        succeeded=succeeded,
        error=error,
        task_id=info.task_id[:64],
        worker=info.worker[:255],
        video=dict(info.video),
    )


def _record_run(*, asset: Asset, info: RunInfo, succeeded: bool, error: str = "", count: int = 0) -> DetectionRun:
    run = _run_row(asset_id=asset.pk, info=info, succeeded=succeeded, error=error, count=count)
    run.save(force_insert=True)
    return run


def _tag_summary(asset: Asset, detections: Iterable[Detection]) -> dict[int, AssetTag]:
    """One unsaved summary row per label of the asset's boxes (rejected ones excluded)."""
    summary: dict[int, AssetTag] = {}
    image_area = max(asset.width * asset.height, 1)
    for detection in detections:
        if detection.review == ReviewState.REJECTED:
            continue
        tag = summary.get(detection.label_id)
        area = (detection.width * detection.height / image_area) if detection.width and detection.height else 0.0
        if tag is None:
            summary[detection.label_id] = AssetTag(
                asset=asset,
                owner_id=asset.owner_id,
                label_id=detection.label_id,
                confidence=detection.confidence,
                count=1,
                max_area=area,
                has_manual=detection.source == DetectionSource.MANUAL,
            )
        else:
            tag.confidence = max(tag.confidence, detection.confidence)
            tag.count += 1
            tag.max_area = max(tag.max_area, area)
            tag.has_manual = tag.has_manual or detection.source == DetectionSource.MANUAL
    return summary


def tags_rebuild(
    *, asset: Asset, detections: Iterable[Detection] | None = None, save_count: bool = True, clear: bool = True
) -> int:
    """Recompute the asset's tag summary from its detections (rejected ones excluded); return its object count.

    ``detections``: all of the asset's detections when the caller has them at hand (saves reading them
    again); ``save_count=False`` leaves writing ``object_count`` to the caller's own update;
    ``clear=False`` when the caller knows the asset has no summary rows yet.
    """
    if detections is None:
        # From the table, not the related manager: an asset may carry prefetched detections.
        detections = Detection.objects.filter(asset=asset).only(
            "label_id", "confidence", "source", "review", "x", "y", "width", "height"
        )
    summary = _tag_summary(asset, detections)
    image_area = max(asset.width * asset.height, 1)
    _add_tracks(asset, summary, image_area)
    if clear:
        AssetTag.objects.filter(asset=asset).delete()
    if summary:
        AssetTag.objects.bulk_create(summary.values())
    asset.object_count = sum(tag.count for tag in summary.values())
    if save_count:
        Asset.objects.filter(pk=asset.pk).update(object_count=asset.object_count)
    return asset.object_count


def _add_tracks(asset: Asset, summary: dict[int, AssetTag], frame_area: int) -> None:
    """A video's tracks in its tag summary: count = the most of that label on screen at once."""
    if asset.kind != AssetKind.VIDEO:
        return
    tracks = list(
        Track.objects.filter(asset=asset).exclude(review=ReviewState.REJECTED).values_list(
            "label_id", "start", "end", "confidence", "boxes", "source"
        )
    )
    counts = most_at_once_spans((str(label_id), start, end) for label_id, start, end, *_ in tracks)
    counted: set[int] = set()
    for label_id, _start, _end, confidence, boxes, source in tracks:
        area = min(max((row[3] * row[4] for row in boxes), default=0) / frame_area, 1.0)
        tag = summary.get(label_id)
        if tag is None:
            tag = summary[label_id] = AssetTag(
                asset=asset, owner_id=asset.owner_id, label_id=label_id, confidence=confidence, count=0,
                max_area=area, has_manual=False,
            )
        if label_id not in counted:
            tag.count += counts[str(label_id)]
            counted.add(label_id)
        tag.confidence = max(tag.confidence, confidence)
        tag.max_area = max(tag.max_area, area)
        tag.has_manual = tag.has_manual or source == DetectionSource.MANUAL


def detections_replace(
    *, asset_id: uuid.UUID | str, objects: Sequence[DetectedObject], info: RunInfo
) -> DetectionRun | None:
    """Replace the asset's automatic detections with ``objects`` in one transaction and mark it tagged.

    Manual detections and reviewed ones stay. A new box that matches a reviewed box of the same
    label is dropped, so a rejected box does not come back and an accepted one is not doubled.
    Running this again for the same asset leaves exactly one set of automatic detections.
    Returns None if the asset was deleted meanwhile.

    The last write wins. But if the asset was reset for re-tagging or claimed by another task
    while this run worked (``info.task_id`` no longer holds the claim), its status is left alone
    so the newer request still runs.
    """
    with transaction.atomic():
        if info.task_id:
            run = _tag_fresh_image(asset_id=asset_id, objects=objects, info=info)
            if run is not None:
                return run
        # Few queries per image: each is a round trip to the database, next to a busy detector.
        asset = (
            Asset.objects.select_for_update(of=("self",))
            .annotate(has_detections=Exists(Detection.objects.filter(asset_id=OuterRef("pk"))))
            .filter(pk=asset_id)
            .first()
        )
        if asset is None:
            return None
        remaining: list[Detection] = []
        if asset.has_detections:  # a fresh upload has none (and so no summary rows): nothing to replace
            asset.detections.filter(source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED).delete()
            # What is left (manual and reviewed detections) is read once: matched against the new boxes
            # and counted in the summary.
            remaining = list(Detection.objects.filter(asset=asset).select_related("label", "suggested_label"))
        reviewed = [
            ({detection.label.name, detection.suggested_label.name if detection.suggested_label else ""}, detection.box)
            for detection in remaining
            if detection.review != ReviewState.UNREVIEWED
        ]
        kept = [
            found
            for found in objects
            if not any(
                normalize_label(found.label) in names and box is not None and box.iou(found.box) >= REVIEWED_MATCH_IOU
                for names, box in reviewed
            )
        ]
        run = _record_run(asset=asset, info=info, succeeded=True, count=len(kept))
        labels = labels_for(found.label for found in kept) if kept else {}
        added = []
        for found in kept:
            box = _box_row(asset, found)
            box.label, box.run = labels[normalize_label(found.label)], run
            added.append(box)
        if added:
            Detection.objects.bulk_create(added)
        count = tags_rebuild(
            asset=asset, detections=[*remaining, *added], save_count=False, clear=asset.has_detections
        )
        if _superseded(asset, info.task_id):
            Asset.objects.filter(pk=asset.pk).update(object_count=count)
        else:
            now = timezone.now()
            Asset.objects.filter(pk=asset.pk).update(
                object_count=count, tagging_status=TaggingStatus.TAGGED, tagging_error="", tagged_at=now, updated_at=now
            )
            BulkRequest.objects.filter(asset_id=asset.pk).delete()  # its bulk request, if any, is served
            _announce(asset, TaggingStatus.TAGGED)
    return run


def _tag_fresh_image(
    *, asset_id: uuid.UUID | str, objects: Sequence[DetectedObject], info: RunInfo
) -> DetectionRun | None:
    """``detections_replace`` for an image with no detections yet (a fresh upload), in few statements.

    Nothing to keep, match or clear, so the result is written as it is (tagging.rows), in six
    statements. Returns None, having written nothing, when the asset is not such an image or this
    task no longer holds its claim: the general path decides then. Call inside the transaction.
    """
    asset = rows.fresh_image_finish(
        asset_id=asset_id, task_id=info.task_id, object_count=len(objects), now=timezone.now()
    )
    if asset is None:
        return None
    names = [normalize_label(found.label) for found in objects]
    run = _run_row(asset_id=asset.pk, info=info, succeeded=True, count=len(objects))
    label_ids = rows.label_ids(names)
    for name in set(names) - label_ids.keys():
        label_ids[name] = label_get_or_create(name=name).pk
    rows.insert_rows([run], returning_pk=True)
    detections = []
    for found, name in zip(objects, names, strict=True):
        box = _box_row(asset, found)
        box.label_id, box.run_id = label_ids[name], run.pk
        detections.append(box)
    rows.insert_rows(detections)
    rows.insert_rows(list(_tag_summary(asset, detections).values()))
    rows.delete_where_asset(BulkRequest, asset.pk)  # its bulk request, if any, is served
    _announce(asset, TaggingStatus.TAGGED)
    return run


def _box_row(asset: Asset, found: DetectedObject) -> Detection:
    """An unsaved automatic detection of ``found`` on ``asset`` (label and run filled in by the caller)."""
    box = found.box.clamped(asset.width, asset.height)
    return Detection(
        asset_id=asset.pk,
        confidence=min(max(float(found.confidence), 0.0), 1.0),
        x=box.x,
        y=box.y,
        width=box.width,
        height=box.height,
        source=DetectionSource.AUTO,
    )


# --- videos ---------------------------------------------------------------------------------------

# A new automatic track is a reviewed one found again when their times overlap this much (IoU of the
# two intervals) and their boxes overlap at the middle of the shared time.
REVIEWED_TRACK_TIME_IOU = 0.5
REVIEWED_TRACK_BOX_IOU = 0.3


def video_checkpoint_get(*, asset_id: uuid.UUID | str) -> dict[str, Any] | None:
    row = VideoProgress.objects.filter(asset_id=asset_id).values_list("checkpoint", flat=True).first()
    return row if isinstance(row, dict) else None


def video_checkpoint_save(*, asset_id: uuid.UUID | str, task_id: str, checkpoint: dict[str, Any]) -> bool:
    """Store how far tagging a video got, while ``task_id`` still holds its claim.

    Progress also resets the attempt count to this one: an attempt that moved forward is not a sign
    of a poison file, so a long video may need more runs (time limits) than TAGGING_MAX_ATTEMPTS.
    One that kills its worker before the first checkpoint still ends failed at the limit.
    """
    with transaction.atomic():
        held = Asset.objects.filter(
            pk=asset_id, tagging_status=TaggingStatus.PROCESSING, tagging_task_id=task_id
        ).update(tagging_attempts=1)
        if held:
            VideoProgress.objects.update_or_create(
                asset_id=asset_id,
                defaults={"checkpoint": checkpoint, "samples": int(checkpoint.get("samples", 0)), "task_id": task_id},
            )
    return bool(held)


def _interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def _same_object(found: TrackData, reviewed: Track) -> bool:
    names = {reviewed.label.name, reviewed.suggested_label.name if reviewed.suggested_label else ""}
    if normalize_label(found.label) not in names:
        return False
    if _interval_iou((found.start, found.end), (reviewed.start, reviewed.end)) < REVIEWED_TRACK_TIME_IOU:
        return False
    middle = (max(found.start, reviewed.start) + min(found.end, reviewed.end)) / 2
    theirs = reviewed.box_at(middle)
    ours = min(found.boxes, key=lambda row: abs(row[0] - middle))
    box = Box(x=int(ours[1]), y=int(ours[2]), width=int(ours[3]), height=int(ours[4]))
    return theirs is not None and box.iou(theirs) >= REVIEWED_TRACK_BOX_IOU


@dataclass(frozen=True)
class TrackData:
    """A track as the tracker found it; ``boxes`` rows are [t, x, y, width, height, confidence]."""

    label: str
    start: float
    end: float
    confidence: float
    mean_confidence: float
    boxes: list[list[float]]


def tracks_replace(*, asset_id: uuid.UUID | str, tracks: Sequence[TrackData], info: RunInfo) -> DetectionRun | None:
    """Replace a video's automatic tracks with ``tracks`` in one transaction and mark it tagged.

    As ``detections_replace`` for images: manual and reviewed tracks stay, a new track that is a
    reviewed one found again is dropped, the tag summary is rebuilt, the checkpoint is deleted, and a
    superseded claim leaves the status alone. Returns None if the asset was deleted meanwhile.
    """
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None:
            return None
        Track.objects.filter(asset=asset, source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED).delete()
        reviewed = list(
            Track.objects.filter(asset=asset).exclude(review=ReviewState.UNREVIEWED).select_related(
                "label", "suggested_label"
            )
        )
        kept = [found for found in tracks if not any(_same_object(found, other) for other in reviewed)]
        run = _record_run(asset=asset, info=info, succeeded=True, count=len(kept))
        labels = labels_for(found.label for found in kept)
        rows = []
        for found in kept:
            boxes = []
            for t, x, y, width, height, confidence in found.boxes:
                box = Box(x=int(x), y=int(y), width=int(width), height=int(height)).clamped(asset.width, asset.height)
                boxes.append([round(float(t), 3), box.x, box.y, box.width, box.height, round(float(confidence), 4)])
            rows.append(
                Track(
                    asset=asset,
                    label=labels[normalize_label(found.label)],
                    start=found.start,
                    end=found.end,
                    confidence=min(max(float(found.confidence), 0.0), 1.0),
                    mean_confidence=min(max(float(found.mean_confidence), 0.0), 1.0),
                    boxes=boxes,
                    source=DetectionSource.AUTO,
                    run=run,
                )
            )
        Track.objects.bulk_create(rows)
        VideoProgress.objects.filter(asset=asset).delete()
        tags_rebuild(asset=asset)
        if not _superseded(asset, info.task_id):
            now = timezone.now()
            Asset.objects.filter(pk=asset.pk).update(
                tagging_status=TaggingStatus.TAGGED, tagging_error="", tagged_at=now, updated_at=now
            )
            _announce(asset, TaggingStatus.TAGGED)
    return run


def _superseded(asset: Asset, task_id: str) -> bool:
    """True when a task's claim on ``asset`` was replaced by a reset or another task's claim."""
    return bool(task_id) and asset.tagging_task_id != task_id


def tagging_fail(
    *, asset_id: uuid.UUID | str, error: str, task_id: str = "", info: RunInfo | None = None
) -> None:
    """Mark the asset failed with a message for people, and record the failed run.

    With ``task_id``, nothing changes if that task's claim was superseded meanwhile.
    """
    with transaction.atomic():
        asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
        if asset is None or _superseded(asset, task_id):
            return
        if info is not None:
            _record_run(asset=asset, info=info, succeeded=False, error=error)
        Asset.objects.filter(pk=asset.pk).update(
            tagging_status=TaggingStatus.FAILED, tagging_error=error[:2000], updated_at=timezone.now()
        )
        BulkRequest.objects.filter(asset_id=asset.pk).delete()
        _announce(asset, TaggingStatus.FAILED)


def _announce(asset: Asset, status: str) -> None:
    """Tell listeners (webhooks) once the status change is committed; their errors never undo it.

    The owner goes with the message, so a listener can tell without a query whether anyone listens.
    """
    asset_id, owner_id = asset.pk, asset.owner_id
    transaction.on_commit(
        lambda: asset_tagging_finished.send_robust(
            sender=Asset, asset_id=asset_id, status=str(status), owner_id=owner_id
        ),
        robust=True,
    )


# --- sweeper ------------------------------------------------------------------------------------


def give_up_message(attempts: int) -> str:
    return (
        f"Gave up after {attempts} attempts: tagging this file never finished (the worker crashed, ran out of "
        "memory or hit the time limit). Check the worker log, then retry with "
        "`python manage.py retag --status failed`."
    )


@dataclass(frozen=True)
class StaleAssets:
    """What a sweep found: assets to send to the queue again, and how many it marked failed."""

    to_send: list[uuid.UUID]
    failed: int


def stale_assets_collect(*, now: datetime | None = None, limit: int = 1000) -> StaleAssets:
    """Assets lost on the way (never queued, queued long ago, or stuck processing), made sendable again.

    Stuck claims are released, or failed at the attempt limit. Sending is ``tagging.tasks.tagging_sweep``'s.
    """
    now = now or timezone.now()
    failed = 0
    to_send: list[uuid.UUID] = []
    stuck = Asset.objects.filter(
        tagging_status=TaggingStatus.PROCESSING,
        tagging_started_at__lt=now - timedelta(seconds=settings.TAGGING_PROCESSING_TIMEOUT),
    ).values_list("pk", "tagging_attempts", "tagging_task_id")[:limit]
    for asset_id, attempts, task_id in stuck:
        if attempts >= settings.TAGGING_MAX_ATTEMPTS:
            tagging_fail(asset_id=asset_id, task_id=task_id, error=give_up_message(attempts))
            failed += 1
        elif tagging_release(asset_id=asset_id, task_id=task_id):
            to_send.append(asset_id)
    # Bulk requests are not sent one message each: tokens serve them (``tagging.lanes``).
    waiting = Asset.objects.filter(tagging_status=TaggingStatus.PENDING).exclude(
        Exists(BulkRequest.objects.filter(asset_id=OuterRef("pk")))
    ).filter(
        Q(tagging_enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=settings.TAGGING_UNQUEUED_GRACE))
        | Q(tagging_enqueued_at__lt=now - timedelta(seconds=settings.TAGGING_REQUEUE_AFTER))
    )
    to_send.extend(waiting.order_by("created_at").values_list("pk", flat=True)[: max(limit - len(to_send), 0)])
    return StaleAssets(to_send=to_send, failed=failed)
