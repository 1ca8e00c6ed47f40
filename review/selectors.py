"""Reads for reviewing: one detection of a user's asset, the review queue, box crops, and the assets a
bulk action picks (by ids or by a search), for the pages and the API alike.

Every lookup starts from ``assets_visible_to``: another user's asset or detection is None here and
a 404 in the views.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.storage import default_storage
from django.db.models import Case, F, FloatField, QuerySet, Value, When
from django.db.models.functions import Abs
from django.http import QueryDict

from media.decoding import DecodeBusy
from media.imaging import open_upright_rgb
from media.limits import decode_limits
from media.models import Asset
from media.selectors import assets_visible_to
from search.filters import AssetFilter
from tagging.models import Detection, DetectionSource, ReviewState, Track

# Formats whose crops are saved as JPEG (photographs); everything else keeps its pixels as PNG.
_PHOTO_FORMATS = {"JPEG", "HEIF"}


def detection_get(
    *, user: AbstractBaseUser | AnonymousUser, detection_id: int | str, asset_id: uuid.UUID | str | None = None
) -> Detection | None:
    """One detection of one of the user's assets, or None (also when it belongs to another user, or to
    another asset than ``asset_id`` when that is given)."""
    try:
        key = int(str(detection_id))
    except ValueError:
        return None
    if not 0 < key < 2**63:
        return None
    detections = Detection.objects.filter(asset__in=assets_visible_to(user), pk=key)
    if asset_id is not None:
        detections = detections.filter(asset_id=asset_id)
    return detections.select_related("label", "run", "asset", "suggested_label").first()


# --- review queue ---------------------------------------------------------------------------------


def review_threshold() -> Value | Case:
    """The confidence a detection had to reach to be kept: the label's own threshold, else the global one."""
    default = Value(settings.TAGGING_SCORE_THRESHOLD, output_field=FloatField())
    per_label = settings.TAGGING_LABEL_THRESHOLDS
    if not per_label:
        return default
    return Case(
        *[When(label__name=name, then=Value(value)) for name, value in sorted(per_label.items())],
        default=default,
        output_field=FloatField(),
    )


def review_queue(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Detection]:
    """The user's automatic detections nobody has reviewed, least certain first.

    Uncertainty is how close the confidence is to the threshold it had to pass: a 0.52 against 0.5
    is nearly a coin toss, a 0.99 is not worth a person's time first.
    """
    return (
        Detection.objects.filter(
            asset__in=assets_visible_to(user), source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED
        )
        .annotate(threshold=review_threshold())
        .annotate(uncertainty=Abs(F("confidence") - F("threshold")))
        .select_related("label", "asset", "run")
        .order_by("uncertainty", "-asset__created_at", "id")
    )


# --- crops ----------------------------------------------------------------------------------------


class CropUnavailable(Exception):
    """The detection has no box, or the original cannot be read. The message is for people."""


@dataclass(frozen=True)
class Crop:
    content: bytes
    content_type: str
    filename: str
    width: int
    height: int


def _safe_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return stem[:60] or "image"


def detection_crop(*, detection: Detection) -> Crop:
    """The box's region of the upright original (EXIF orientation applied), at full resolution.

    Raises media.decoding.DecodeBusy when the machine is decoding too much to start now.
    """
    box = detection.box
    if box is None:
        raise CropUnavailable("This tag has no box, so there is nothing to crop.")
    asset = detection.asset
    try:
        with default_storage.open(asset.file.name, "rb") as handle:
            upright = open_upright_rgb(handle, limits=decode_limits())
    except DecodeBusy:
        raise  # not the file's fault: the caller answers "try again"
    except FileNotFoundError:
        raise CropUnavailable("The original file is missing from storage.") from None
    except (OSError, ValueError, SyntaxError) as error:  # what Pillow raises on a damaged file
        raise CropUnavailable(f"The original could not be read: {error}") from None
    # Boxes are clamped to the asset's size when stored; clamp again in case the file disagrees.
    box = box.clamped(upright.width, upright.height)
    region = upright.crop((box.x, box.y, box.x + box.width, box.y + box.height))
    buffer = io.BytesIO()
    if asset.format in _PHOTO_FORMATS:
        region.save(buffer, "JPEG", quality=92)
        content_type, extension = "image/jpeg", "jpg"
    else:
        region.save(buffer, "PNG")
        content_type, extension = "image/png", "png"
    stem = _safe_stem(asset.original_filename.rsplit(".", 1)[0])
    label = _safe_stem(detection.label.name)
    return Crop(
        content=buffer.getvalue(),
        content_type=content_type,
        filename=f"{stem}-{label}-{detection.pk}.{extension}",
        width=region.width,
        height=region.height,
    )


# --- bulk selection -------------------------------------------------------------------------------


class TooManyAssets(ValueError):
    """A search picked more assets than one bulk action may change; the message says what to do."""


@dataclass(frozen=True)
class BulkSelection:
    """The user's assets a bulk action will change, and what was asked for but is not theirs (or gone)."""

    assets: QuerySet[Asset]
    matched: int
    not_found: list[uuid.UUID]


def bulk_selection(
    *,
    user: AbstractBaseUser | AnonymousUser,
    ids: Sequence[uuid.UUID] | None = None,
    matching: QuerySet[Asset] | None = None,
    limit: int | None = None,
) -> BulkSelection:
    """Pick assets by ``ids`` or as every asset ``matching`` a search (already scoped to ``user``).

    A search that picks more than ``limit`` (BULK_MAX_ASSETS) raises TooManyAssets: a bulk action
    never changes part of what a person saw.
    """
    visible = assets_visible_to(user)
    not_found: list[uuid.UUID] = []
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        found = set(visible.filter(pk__in=wanted).values_list("pk", flat=True))
        not_found = [key for key in wanted if key not in found]
        picked = [key for key in wanted if key in found]
    else:
        assert matching is not None, "give ids or matching"
        limit = limit or settings.BULK_MAX_ASSETS
        picked = list(matching.values_list("pk", flat=True)[: limit + 1])
        if len(picked) > limit:
            raise TooManyAssets(
                f"The search matches more than {limit} images; narrow it down "
                f"(this takes at most {limit} at a time)."
            )
    return BulkSelection(assets=visible.filter(pk__in=picked), matched=len(picked), not_found=not_found)


class SearchInvalid(ValueError):
    """The search a "select all matching" form carried cannot be run; the message is for people."""


def search_matching(*, user: AbstractBaseUser | AnonymousUser, search: str) -> QuerySet[Asset]:
    """The user's assets matching a library query string (``q=dog&sort=oldest``), in its order."""
    filterset = AssetFilter(data=QueryDict(search), queryset=assets_visible_to(user))
    if not filterset.is_valid():
        error = filterset.query_error
        if error is not None:
            raise SearchInvalid(f"The search could not be run: {error.message}")
        problems = [f"{field}: {message}" for field, messages in filterset.errors.items() for message in messages]
        raise SearchInvalid("The search could not be run: " + "; ".join(problems))
    return filterset.qs


def form_selection(
    *, user: AbstractBaseUser | AnonymousUser, data: dict, limit: int | None = None
) -> BulkSelection:
    """What a SelectionForm picked: its ids, or everything matching its search (TooManyAssets, SearchInvalid)."""
    if data.get("matching"):
        return bulk_selection(user=user, matching=search_matching(user=user, search=data.get("search") or ""),
                              limit=limit)
    return bulk_selection(user=user, ids=data.get("ids") or [])


def track_get(*, user: AbstractBaseUser | AnonymousUser, track_id: int | str) -> Track | None:
    """One track of one of the user's videos, or None (also when it is another user's)."""
    try:
        key = int(str(track_id))
    except ValueError:
        return None
    if not 0 < key < 2**63:
        return None
    return (
        Track.objects.filter(asset__in=assets_visible_to(user), pk=key)
        .select_related("label", "suggested_label", "asset")
        .first()
    )
