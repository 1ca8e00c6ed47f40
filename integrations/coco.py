"""COCO object-detection JSON to and from the library, for training tools.

Export: the boxes of a set of assets (manual and automatic, rejected ones left out), with the
detector's confidence as ``score`` and extras (``asset_id``, ``sha256``, ``source``) that let an
import find the same images again.

Videos are left out both ways: COCO describes still images, and a video's objects are tracks over
time (``GET /api/assets/{id}/tracks/``). The export's ``info.videos_left_out`` says how many of the
selected assets were videos; an import never matches a video.

Import: annotations become manual detections on the user's existing assets. Images are matched by
``asset_id``, else ``sha256``, else ``file_name`` (the uploaded file name; it must be unique among
the user's assets). The whole file is checked before anything is written, and written in one
transaction.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from media.models import Asset, AssetKind
from review.services import TooManyDetections, detections_import
from tagging.boxes import Box
from tagging.labels import normalize_label
from tagging.models import Detection, ReviewState

MAX_UNMATCHED_LISTED = 100
_CHUNK = 1000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CocoInvalid(ValueError):
    """A COCO document that cannot be imported; the message says where and why."""

    code = "invalid_coco"


class CocoTooManyBoxes(CocoInvalid):
    """An asset would have more detections than COCO_IMPORT_MAX_BOXES_PER_ASSET."""

    code = "too_many_boxes"


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- export -----------------------------------------------------------------------------------------


def coco_export(*, assets: QuerySet[Asset], description: str = "") -> dict[str, Any]:
    """COCO JSON for ``assets`` (already scoped to one user and filtered), in their order."""
    selected = list(assets)
    asset_list = [asset for asset in selected if asset.kind == AssetKind.IMAGE]
    image_ids = {asset.pk: index for index, asset in enumerate(asset_list, start=1)}
    detections: list[Detection] = []
    for chunk in _chunks(list(image_ids)):
        detections += (
            Detection.objects.filter(asset_id__in=chunk, x__isnull=False)
            .exclude(review=ReviewState.REJECTED)
            .select_related("label")
            .order_by("id")
        )
    detections.sort(key=lambda detection: (image_ids[detection.asset_id], detection.pk))
    names = sorted({detection.label.name for detection in detections})
    category_ids = {name: index for index, name in enumerate(names, start=1)}
    return {
        "info": {
            "description": description or "assetsite export",
            "version": "1",
            "date_created": timezone.now().isoformat(),
            "videos_left_out": len(selected) - len(asset_list),
        },
        "licenses": [],
        "images": [
            {
                "id": image_ids[asset.pk],
                "file_name": asset.original_filename,
                "width": asset.width,
                "height": asset.height,
                "date_captured": asset.taken_at.isoformat() if asset.taken_at else None,
                "asset_id": str(asset.pk),
                "sha256": asset.sha256,
                "title": asset.title,
            }
            for asset in asset_list
        ],
        "categories": [{"id": category_ids[name], "name": name, "supercategory": ""} for name in names],
        "annotations": [
            {
                "id": index,
                "image_id": image_ids[detection.asset_id],
                "category_id": category_ids[detection.label.name],
                "bbox": [detection.x, detection.y, detection.width, detection.height],
                "area": detection.width * detection.height,  # type: ignore[operator]
                "iscrowd": 0,
                "score": round(detection.confidence, 6),
                "source": detection.source,
                "review": detection.review,
                "detection_id": detection.pk,
            }
            for index, detection in enumerate(detections, start=1)
        ],
    }


# --- import: reading the document -------------------------------------------------------------------


@dataclass
class CocoImage:
    key: int | str
    file_name: str
    width: int | None
    height: int | None
    asset_id: uuid.UUID | None
    sha256: str
    annotations: list[tuple[str, tuple[float, float, float, float] | None]] = field(default_factory=list)


def _key(value: Any, where: str) -> int | str:
    # bool is an int in Python; an id of true is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise CocoInvalid(f"{where} must be an integer or a non-empty string.")
    return value


def _list(document: dict[str, Any], name: str, *, required: bool = True) -> list[Any]:
    value = document.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise CocoInvalid(f'"{name}" must be a list.')
    return value


def _positive_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
        raise CocoInvalid(f"{where} must be a positive number.")
    return round(value)


def _bbox(value: Any, where: str) -> tuple[float, float, float, float] | None:
    if value is None or value == []:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or any(isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) for n in value)
    ):
        raise CocoInvalid(f"{where} must be [x, y, width, height] with four finite numbers.")
    x, y, width, height = (float(n) for n in value)
    if width <= 0 or height <= 0:
        raise CocoInvalid(f"{where} has a width or height that is not positive.")
    return x, y, width, height


def coco_read(document: Any, *, max_annotations: int) -> list[CocoImage]:
    """Check a COCO document's structure; images with their annotations as (label, bbox)."""
    if not isinstance(document, dict):
        raise CocoInvalid("The body must be a COCO JSON object with images, categories and annotations.")
    images_in = _list(document, "images")
    categories_in = _list(document, "categories")
    annotations_in = _list(document, "annotations")
    if len(annotations_in) > max_annotations or len(images_in) > max_annotations:
        raise CocoInvalid(f"At most {max_annotations} images and {max_annotations} annotations per import.")

    categories: dict[int | str, str] = {}
    for index, category in enumerate(categories_in):
        where = f"categories[{index}]"
        if not isinstance(category, dict):
            raise CocoInvalid(f"{where} must be an object.")
        key = _key(category.get("id"), f"{where}.id")
        name = category.get("name")
        if not isinstance(name, str) or not normalize_label(name):
            raise CocoInvalid(f"{where}.name must be a non-empty string.")
        if len(name) > 100:
            raise CocoInvalid(f"{where}.name is longer than 100 characters.")
        if key in categories:
            raise CocoInvalid(f"{where}.id {key!r} is used by another category.")
        categories[key] = normalize_label(name)

    images: dict[int | str, CocoImage] = {}
    for index, image in enumerate(images_in):
        where = f"images[{index}]"
        if not isinstance(image, dict):
            raise CocoInvalid(f"{where} must be an object.")
        key = _key(image.get("id"), f"{where}.id")
        if key in images:
            raise CocoInvalid(f"{where}.id {key!r} is used by another image.")
        file_name = image.get("file_name", "")
        if not isinstance(file_name, str):
            raise CocoInvalid(f"{where}.file_name must be a string.")
        raw_asset_id = image.get("asset_id")
        asset_id = None
        if raw_asset_id is not None:
            try:
                asset_id = uuid.UUID(str(raw_asset_id))
            except ValueError:
                raise CocoInvalid(f"{where}.asset_id is not a UUID.") from None
        sha256 = image.get("sha256") or ""
        if not isinstance(sha256, str) or (sha256 and not _SHA256.match(sha256.lower())):
            raise CocoInvalid(f"{where}.sha256 must be 64 hexadecimal digits.")
        images[key] = CocoImage(
            key=key,
            file_name=file_name.replace("\\", "/").rsplit("/", 1)[-1],
            width=_positive_int(image.get("width"), f"{where}.width"),
            height=_positive_int(image.get("height"), f"{where}.height"),
            asset_id=asset_id,
            sha256=sha256.lower(),
        )

    for index, annotation in enumerate(annotations_in):
        where = f"annotations[{index}]"
        if not isinstance(annotation, dict):
            raise CocoInvalid(f"{where} must be an object.")
        image_key = _key(annotation.get("image_id"), f"{where}.image_id")
        category_key = _key(annotation.get("category_id"), f"{where}.category_id")
        if image_key not in images:
            raise CocoInvalid(f"{where}.image_id {image_key!r} is not among the images.")
        if category_key not in categories:
            raise CocoInvalid(f"{where}.category_id {category_key!r} is not among the categories.")
        images[image_key].annotations.append((categories[category_key], _bbox(annotation.get("bbox"), f"{where}.bbox")))
    return list(images.values())


# --- import: matching and writing -------------------------------------------------------------------


@dataclass(frozen=True)
class CocoImportResult:
    images: int
    matched: int
    annotations: int
    created: int
    duplicates: int
    unmatched_annotations: int
    unmatched: list[dict[str, Any]]
    assets_changed: int


def _match(images: list[CocoImage], assets: QuerySet[Asset]) -> dict[int | str, Asset | str]:
    """Each image key to its asset, or to why none was found."""
    by_id: dict[uuid.UUID, Asset] = {}
    by_sha: dict[str, Asset] = {}
    by_name: dict[str, list[Asset]] = {}
    wanted_ids = [image.asset_id for image in images if image.asset_id is not None]
    wanted_shas = [image.sha256 for image in images if image.sha256]
    wanted_names = [image.file_name for image in images if image.file_name]
    for chunk in _chunks(wanted_ids):
        by_id.update({asset.pk: asset for asset in assets.filter(pk__in=chunk)})
    for chunk in _chunks(wanted_shas):
        by_sha.update({asset.sha256: asset for asset in assets.filter(sha256__in=chunk)})
    for chunk in _chunks(sorted(set(wanted_names))):
        for asset in assets.filter(original_filename__in=chunk).order_by("created_at"):
            by_name.setdefault(asset.original_filename, []).append(asset)
    matches: dict[int | str, Asset | str] = {}
    for image in images:
        if image.asset_id in by_id:
            matches[image.key] = by_id[image.asset_id]  # type: ignore[index]
        elif image.sha256 in by_sha:
            matches[image.key] = by_sha[image.sha256]
        elif len(by_name.get(image.file_name, [])) == 1:
            matches[image.key] = by_name[image.file_name][0]
        elif len(by_name.get(image.file_name, [])) > 1:
            matches[image.key] = f"{len(by_name[image.file_name])} of your assets are named {image.file_name}"
        else:
            matches[image.key] = "none of your assets has this asset_id, sha256 or file_name"
    return matches


def _scaled(image: CocoImage, asset: Asset, bbox: tuple[float, float, float, float] | None) -> Box | None:
    """The box in the asset's pixels: scaled if the document's image size differs (a resized copy)."""
    if bbox is None:
        return None
    x, y, width, height = bbox
    sx = asset.width / image.width if image.width else 1.0
    sy = asset.height / image.height if image.height else 1.0
    return Box.from_corners(x * sx, y * sy, (x + width) * sx, (y + height) * sy)


def _too_many(asset: Asset, total: int, limit: int) -> str:
    return (
        f"Asset {asset.original_filename!r} ({asset.pk}) would have {total} detections with this import; at most "
        f"{limit} per asset (COCO_IMPORT_MAX_BOXES_PER_ASSET). Split its annotations or raise the setting."
    )


@dataclass(frozen=True)
class CocoPlan:
    """A checked document: what goes on which asset, and what found no asset."""

    images: int
    matched: int
    annotations: int
    max_boxes_per_asset: int
    planned: list[tuple[Asset, list[tuple[str, Box | None]]]]
    unmatched: list[dict[str, Any]]
    unmatched_annotations: int


def coco_plan(*, assets: QuerySet[Asset], document: Any, max_annotations: int, max_boxes_per_asset: int) -> CocoPlan:
    """Check a COCO document against ``assets`` (scoped to one user) without writing anything."""
    images = coco_read(document, max_annotations=max_annotations)
    matches = _match(images, assets.filter(kind=AssetKind.IMAGE))
    planned: dict[Any, tuple[Asset, list[tuple[str, Box | None]]]] = {}
    unmatched: list[dict[str, Any]] = []
    unmatched_annotations = 0
    for image in images:
        match = matches[image.key]
        if isinstance(match, str):
            unmatched_annotations += len(image.annotations)
            if len(unmatched) < MAX_UNMATCHED_LISTED:
                unmatched.append({"id": image.key, "file_name": image.file_name, "reason": match})
            continue
        # Two images of the document may be the same asset (by name and by sha256): one list for it.
        items = planned.setdefault(match.pk, (match, []))[1]
        for label, bbox in image.annotations:
            box = _scaled(image, match, bbox)
            if box is not None and (box.x >= match.width or box.y >= match.height or box.x + box.width <= 0
                                    or box.y + box.height <= 0):
                raise CocoInvalid(
                    f"A {label} box of image {image.key!r} lies outside its asset ({match.width}×{match.height})."
                )
            items.append((label, box))
    for asset, items in planned.values():
        if len(items) > max_boxes_per_asset:
            raise CocoTooManyBoxes(_too_many(asset, len(items), max_boxes_per_asset))
    return CocoPlan(
        images=len(images),
        matched=len(images) - sum(isinstance(match, str) for match in matches.values()),
        annotations=sum(len(image.annotations) for image in images),
        max_boxes_per_asset=max_boxes_per_asset,
        planned=list(planned.values()),
        unmatched=unmatched,
        unmatched_annotations=unmatched_annotations,
    )


def coco_write(*, plan: CocoPlan, progress: Callable[[int], None] | None = None) -> CocoImportResult:
    """Write a plan's detections. Without ``progress``: in one transaction. With it (background
    imports): asset by asset, each in its own transaction, calling ``progress(annotations written so
    far)`` after each, so a poller sees it move; sending the same document again after a failure
    adds only what is missing (duplicates are skipped)."""
    created = duplicates = changed = done = 0
    with transaction.atomic() if progress is None else nullcontext():
        for asset, items in plan.planned:
            try:
                count = detections_import(asset=asset, items=items, max_total=plan.max_boxes_per_asset)
            except TooManyDetections as error:
                raise CocoTooManyBoxes(_too_many(asset, error.existing + error.new, error.limit)) from None
            created += count.created
            duplicates += count.duplicates
            changed += bool(count.created)
            done += len(items)
            if progress is not None:
                progress(done)
    return CocoImportResult(
        images=plan.images,
        matched=plan.matched,
        annotations=plan.annotations,
        created=created,
        duplicates=duplicates,
        unmatched_annotations=plan.unmatched_annotations,
        unmatched=plan.unmatched,
        assets_changed=changed,
    )


def coco_import(
    *, assets: QuerySet[Asset], document: Any, max_annotations: int, max_boxes_per_asset: int
) -> CocoImportResult:
    """Add a COCO document's annotations to the matching ``assets`` (scoped to one user) as manual detections."""
    plan = coco_plan(assets=assets, document=document, max_annotations=max_annotations,
                     max_boxes_per_asset=max_boxes_per_asset)
    return coco_write(plan=plan)


def coco_result_json(result: CocoImportResult) -> dict[str, Any]:
    """The API's (and a job's) account of an import."""
    return {
        "images": result.images,
        "matched_images": result.matched,
        "unmatched_images": result.unmatched,
        "annotations": result.annotations,
        "created": result.created,
        "duplicates": result.duplicates,
        "unmatched_annotations": result.unmatched_annotations,
        "assets_changed": result.assets_changed,
    }
