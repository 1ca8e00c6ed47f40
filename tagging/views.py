"""Library and asset pages with what tagging adds: tag chips, boxes, status and provenance."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from media.views import AssetDetailView, LibraryView
from tagging.models import AssetTag, Detection, ReviewState


class TaggedLibraryView(LibraryView):
    template_name = "tagging/library.html"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return super().get_queryset().prefetch_related(
            Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
        )


class TaggedAssetDetailView(AssetDetailView):
    template_name = "tagging/asset_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asset = self.object
        detections = list(
            Detection.objects.filter(asset=asset).exclude(review=ReviewState.REJECTED).select_related("label", "run")
        )
        context["detections"] = detections
        context["boxes"] = [
            {"detection": d, "box": d.box, "style": _box_style(d, asset.width, asset.height)}
            for d in detections
            if d.box is not None
        ]
        context["tags"] = asset.tags.select_related("label").order_by("-confidence")
        context["runs"] = asset.detection_runs.all()[:5]
        return context


def _box_style(detection: Detection, width: int, height: int) -> str:
    box = detection.box
    assert box is not None
    return (
        f"left:{100 * box.x / width:.3f}%;top:{100 * box.y / height:.3f}%;"
        f"width:{100 * box.width / width:.3f}%;height:{100 * box.height / height:.3f}%"
    )
