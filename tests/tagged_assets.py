"""Building a small tagged library in tests: assets through the real upload service, detections
through the real write service (what a worker would store), no worker needed."""

from __future__ import annotations

from media.models import Asset
from media.services import asset_create
from tagging.boxes import Box, DetectedObject
from tagging.models import Detection, DetectionSource
from tagging.services import RunInfo, detections_replace
from tests.images import image_bytes, upload


def make_asset(owner, color=(10, 20, 30), name="photo.png", size=(200, 100), fmt="PNG", **image_options) -> Asset:
    data = image_bytes(fmt, size=size, color=color, **image_options)
    return asset_create(owner=owner, file=upload(data, name)).asset


def tag(asset: Asset, *objects: tuple[str, float, Box], model_name: str = "test-model") -> list[Detection]:
    """Store ``objects`` as the asset's automatic detections; returns them, most confident first."""
    detections_replace(
        asset_id=asset.pk,
        objects=[DetectedObject(label, confidence, box) for label, confidence, box in objects],
        info=RunInfo(model_name=model_name, score_threshold=0.5),
    )
    return list(Detection.objects.filter(asset=asset, source=DetectionSource.AUTO).order_by("-confidence"))
