"""Reads of what was found on an asset: its detections, its tag summary, the labels a user has, and
the box a crop should centre on."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet

from media.models import Asset
from media.renditions import FocusBox
from tagging.models import AssetTag, Detection, DetectionSource, ReviewState, Track


def asset_detections(*, asset: Asset) -> list[Detection]:
    """All of the asset's detections, rejected ones included, strongest first."""
    return list(Detection.objects.filter(asset=asset).select_related("label", "run"))


def asset_tags(*, asset: Asset) -> QuerySet[AssetTag]:
    return AssetTag.objects.filter(asset=asset).select_related("label").order_by("-confidence", "label__name")


def label_names_of(*, user: AbstractBaseUser | AnonymousUser, limit: int = 500) -> list[str]:
    """The labels on the user's assets (not those only in the trash), most used first: suggestions for tag inputs."""
    if not user.is_authenticated:
        return []
    return list(
        AssetTag.objects.filter(owner=user, asset__trashed_at__isnull=True)
        .values("label__name")
        .annotate(uses=Count("id"))
        .order_by("-uses", "label__name")
        .values_list("label__name", flat=True)[:limit]
    )


def focus_box(*, asset: Asset, labels: Sequence[str] | None) -> FocusBox | None:
    """Where a crop of ``asset`` should centre: the seed's localization, one object and where it is.

    With ``labels`` (names the caller would accept, best first): that label's best box, a person's
    (accepted or manual) before the detector's unreviewed ones, then by confidence. Without: the
    largest confident object. None when there is no such box (crop around the centre).
    """
    boxed = (
        Detection.objects.filter(asset=asset, x__isnull=False)
        .exclude(review=ReviewState.REJECTED)
        .select_related("label")
    )
    if labels is not None:
        for name in labels:
            candidates = [d for d in boxed if d.label.name == name]
            if candidates:
                return _focus(max(candidates, key=lambda d: (_by_a_person(d), d.confidence, -d.pk)))
        return None
    confident = [
        d for d in boxed if d.confidence >= settings.TAGGING_SCORE_THRESHOLD or d.review == ReviewState.ACCEPTED
    ]
    if not confident:
        return None
    return _focus(max(confident, key=lambda d: (d.width * d.height, d.confidence, -d.pk)))


def _by_a_person(detection: Detection) -> bool:
    return detection.review == ReviewState.ACCEPTED or detection.source == DetectionSource.MANUAL


def _focus(detection: Detection) -> FocusBox:
    box = detection.box
    assert box is not None
    return FocusBox(
        x=box.x, y=box.y, width=box.width, height=box.height,
        description=f"{detection.label.name} {detection.confidence:.2f} (detection {detection.pk})",
    )


def asset_tracks(*, asset: Asset) -> list[Track]:
    """A video's tracks by start time, rejected ones included (with their review state)."""
    return list(Track.objects.filter(asset=asset).select_related("label", "suggested_label").order_by("start", "id"))
