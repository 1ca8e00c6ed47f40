"""Reads of what was found on an asset: its detections, its tag summary, the labels a user has."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet

from media.models import Asset
from tagging.models import AssetTag, Detection


def asset_detections(*, asset: Asset) -> list[Detection]:
    """All of the asset's detections, rejected ones included, strongest first."""
    return list(Detection.objects.filter(asset=asset).select_related("label", "run"))


def asset_tags(*, asset: Asset) -> QuerySet[AssetTag]:
    return AssetTag.objects.filter(asset=asset).select_related("label").order_by("-confidence", "label__name")


def label_names_of(*, user: AbstractBaseUser | AnonymousUser, limit: int = 500) -> list[str]:
    """The labels on the user's assets, most used first: suggestions for tag inputs."""
    if not user.is_authenticated:
        return []
    return list(
        AssetTag.objects.filter(owner=user)
        .values("label__name")
        .annotate(uses=Count("id"))
        .order_by("-uses", "label__name")
        .values_list("label__name", flat=True)[:limit]
    )
