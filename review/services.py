"""Every human write to detections: accept, reject, relabel, manual tags and boxes, removing, bulk
actions over many assets, and annotations imported from other tools. The pipeline's writes (what the
detector found) are in ``tagging.services``; both keep the tag summary current with ``tags_rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from media.models import Asset
from media.services import assets_trash
from review.validation import LABEL_ACTIONS
from tagging.box_index import NearBoxIndex
from tagging.boxes import Box
from tagging.labels import normalize_label
from tagging.models import Detection, DetectionSource, Label, ReviewState, Track
from tagging.services import label_get_or_create, labels_for, tags_rebuild
from tagging.tasks import bulk_retag

# An imported box this close to an existing one of the same label is the same object.
IMPORT_DUPLICATE_IOU = 0.9


def manual_detection_build(
    *, asset: Asset, label: str | Label, box: Box | None, reviewed_at: datetime | None = None
) -> Detection:
    """An unsaved manual detection: accepted, confidence 1, its box clamped to the picture."""
    detection = Detection(
        asset=asset,
        label=label if isinstance(label, Label) else label_get_or_create(name=label),
        confidence=1.0,
        source=DetectionSource.MANUAL,
        review=ReviewState.ACCEPTED,
        reviewed_at=reviewed_at or timezone.now(),
    )
    detection.box = box.clamped(asset.width, asset.height) if box is not None else None
    return detection


def detection_add_manual(*, asset: Asset, label: str, box: Box | None = None) -> Detection:
    """A tag a person added, with or without a box. It survives re-tagging."""
    with transaction.atomic():
        detection = manual_detection_build(asset=asset, label=label, box=box)
        detection.save()
        tags_rebuild(asset=asset)
    return detection


def detection_review(*, detection: Detection, accept: bool, label: str | None = None) -> Detection:
    """Accept or reject a detection, optionally changing its label. Reviewed detections survive re-tagging."""
    return _review(detection, accept=accept, label=label)


def track_review(*, track: Track, accept: bool, label: str | None = None) -> Track:
    """Accept or reject a whole video track, optionally relabelling it; it survives re-tagging as reviewed.

    The summary (AssetTag) follows: a rejected track no longer counts, a relabelled one counts under
    its new label. The tracker's own label is kept as ``suggested_label``.
    """
    return _review(track, accept=accept, label=label)


Reviewed = TypeVar("Reviewed", Detection, Track)


def _review(item: Reviewed, *, accept: bool, label: str | None) -> Reviewed:
    """A person's verdict on a detection or a whole track: the same fields, the same rules (an automatic
    item's first label is kept as ``suggested_label``), then the asset's summary follows."""
    with transaction.atomic():
        item.review = ReviewState.ACCEPTED if accept else ReviewState.REJECTED
        item.reviewed_at = timezone.now()
        if label is not None:
            new_label = label_get_or_create(name=label)
            if new_label.pk != item.label_id and item.source == DetectionSource.AUTO:
                item.suggested_label_id = item.suggested_label_id or item.label_id
            item.label = new_label
        item.save(update_fields=["review", "reviewed_at", "label", "suggested_label"])
        tags_rebuild(asset=item.asset)
    return item


def detection_delete(*, detection: Detection) -> bool:
    """Take a detection off its asset. True if the row was deleted.

    A manual one is deleted. An automatic one is rejected instead: kept, hidden, and so not found
    again by the next re-tagging.
    """
    asset = detection.asset
    with transaction.atomic():
        if detection.source == DetectionSource.MANUAL:
            detection.delete()
            tags_rebuild(asset=asset)
            return True
        detection.review = ReviewState.REJECTED
        detection.reviewed_at = timezone.now()
        detection.save(update_fields=["review", "reviewed_at"])
        tags_rebuild(asset=asset)
    return False


def _label_remove(asset: Asset, name: str) -> bool:
    """Manual detections of ``name`` deleted, automatic ones rejected; no tags_rebuild."""
    changed = False
    for detection in asset.detections.filter(label__name=name).exclude(review=ReviewState.REJECTED):
        if detection.source == DetectionSource.MANUAL:
            detection.delete()
        else:
            detection.review = ReviewState.REJECTED
            detection.reviewed_at = timezone.now()
            detection.save(update_fields=["review", "reviewed_at"])
        changed = True
    return changed


def manual_labels(asset: Asset) -> set[str]:
    return set(
        asset.detections.filter(source=DetectionSource.MANUAL)
        .exclude(review=ReviewState.REJECTED)
        .values_list("label__name", flat=True)
    )


def asset_manual_tags_set(*, asset: Asset, labels: Iterable[str]) -> Asset:
    """Make the asset's manual labels exactly ``labels``.

    A new label becomes a manual tag without a box; a label left out loses its manual detections,
    boxed ones included. Automatic detections are not touched.
    """
    wanted = {normalize_label(name) for name in labels} - {""}
    with transaction.atomic():
        current = manual_labels(asset)
        for name in sorted(current - wanted):
            asset.detections.filter(label__name=name, source=DetectionSource.MANUAL).delete()
        for name in sorted(wanted - current):
            detection_add_manual(asset=asset, label=name)  # rebuilds the summary
        tags_rebuild(asset=asset)
    return asset


# --- bulk -----------------------------------------------------------------------------------------


def assets_retag(*, assets: QuerySet[Asset]) -> int:
    """Re-tag the assets in the bulk lane (after fresh uploads, users taking turns); detections stay
    until replaced. How many wait for it (an asset still waiting for its first tagging stays in the fresh lane)."""
    return bulk_retag(asset_ids=list(assets.values_list("pk", flat=True)))


def assets_delete(*, assets: QuerySet[Asset]) -> int:
    """Move the assets to the trash (restorable for TRASH_DAYS, then purged); how many moved."""
    return assets_trash(assets=assets)


def assets_tag_add(*, assets: QuerySet[Asset], label: str) -> int:
    """A manual tag (no box) on every asset that does not have one for ``label``; how many got one."""
    name = normalize_label(label)
    count = 0
    with transaction.atomic():
        for asset in assets:
            if name not in manual_labels(asset):
                detection_add_manual(asset=asset, label=name)
                count += 1
    return count


def assets_tag_remove(*, assets: QuerySet[Asset], label: str) -> int:
    """``label`` off every asset (manual detections deleted, automatic ones rejected); how many changed."""
    name = normalize_label(label)
    count = 0
    with transaction.atomic():
        for asset in assets:
            if _label_remove(asset, name):
                tags_rebuild(asset=asset)
                count += 1
    return count


# --- imported annotations -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportCount:
    created: int
    duplicates: int


class TooManyDetections(ValueError):
    """An import would leave an asset with more visible detections than allowed; nothing was written."""

    def __init__(self, *, existing: int, new: int, limit: int) -> None:
        super().__init__(f"{existing} + {new} detections, at most {limit}")
        self.existing, self.new, self.limit = existing, new, limit


def detections_import(
    *, asset: Asset, items: Sequence[tuple[str, Box | None]], max_total: int | None = None
) -> ImportCount:
    """Add annotations from another tool as manual detections, skipping ones the asset already has.

    A box is a duplicate of a visible detection with the same label and IoU >= 0.9; a label without
    a box is a duplicate of a visible boxless detection with that label. More than ``max_total``
    visible detections afterwards: TooManyDetections, nothing written. Each box is compared only
    with the few boxes near it (tagging.box_index), so the work grows with the number of boxes, not
    with its square.
    """
    with transaction.atomic():
        seen = NearBoxIndex(min_iou=IMPORT_DUPLICATE_IOU)
        existing = 0
        for detection in asset.detections.select_related("label").exclude(review=ReviewState.REJECTED):
            seen.add(detection.label.name, detection.box)
            existing += 1
        rows: list[Detection] = []
        duplicates = 0
        now = timezone.now()
        labels = labels_for(raw_label for raw_label, _ in items)  # one query, not one per box
        for raw_label, raw_box in items:
            name = normalize_label(raw_label)
            box = raw_box.clamped(asset.width, asset.height) if raw_box is not None else None
            if seen.has_near(name, box):
                duplicates += 1
                continue
            seen.add(name, box)
            rows.append(manual_detection_build(asset=asset, label=labels[name], box=box, reviewed_at=now))
        if max_total is not None and existing + len(rows) > max_total:
            raise TooManyDetections(existing=existing, new=len(rows), limit=max_total)
        Detection.objects.bulk_create(rows, batch_size=1000)
        if rows:
            tags_rebuild(asset=asset)
    return ImportCount(created=len(rows), duplicates=duplicates)


# --- one entry point for the bulk actions (the library page's toolbar) ------------------------------


def assets_bulk_action(*, assets: QuerySet[Asset], action: str, label: str = "") -> int:
    """Run one bulk action ("retag", "delete", "add_tag", "remove_tag"); how many assets it changed."""
    if action == "retag":
        return assets_retag(assets=assets)
    if action == "delete":
        return assets_delete(assets=assets)
    if action in LABEL_ACTIONS:
        if not normalize_label(label):
            raise ValueError(f"{action} needs a label.")
        apply = assets_tag_add if action == "add_tag" else assets_tag_remove
        return apply(assets=assets, label=label)
    raise ValueError(f"Unknown bulk action {action!r}.")
