"""The asset API with what tagging knows about each asset: detections, tag summary, provenance."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from media.api import AssetSerializer, AssetViewSet
from media.models import Asset
from tagging.models import AssetTag, Detection, DetectionRun, ReviewState


class BoxSerializer(serializers.Serializer):
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class NormalizedBoxSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRun
        fields = [
            "id",
            "model_name",
            "weights",
            "device",
            "score_threshold",
            "label_thresholds",
            "max_detections",
            "min_box_size",
            "batch_size",
            "started_at",
            "duration_ms",
            "detection_count",
            "succeeded",
            "error",
        ]


class DetectionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")
    box = serializers.SerializerMethodField()
    box_normalized = serializers.SerializerMethodField()
    reviewed = serializers.BooleanField(read_only=True)
    model = serializers.CharField(source="run.model_name", default=None, read_only=True)
    detected_at = serializers.DateTimeField(source="run.started_at", default=None, read_only=True)

    class Meta:
        model = Detection
        fields = [
            "id",
            "label",
            "confidence",
            "box",
            "box_normalized",
            "source",
            "review",
            "reviewed",
            "model",
            "detected_at",
            "created_at",
        ]

    @extend_schema_field(BoxSerializer(allow_null=True))
    def get_box(self, detection: Detection) -> dict[str, int] | None:
        box = detection.box
        return None if box is None else {"x": box.x, "y": box.y, "width": box.width, "height": box.height}

    @extend_schema_field(NormalizedBoxSerializer(allow_null=True))
    def get_box_normalized(self, detection: Detection) -> dict[str, float] | None:
        box = detection.box
        if box is None:
            return None
        return {key: round(value, 6) for key, value in box.normalized(detection.asset.width, detection.asset.height).items()}


class TagSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")

    class Meta:
        model = AssetTag
        fields = ["label", "confidence", "count", "max_area", "has_manual"]


class TaggedAssetSerializer(AssetSerializer):
    detections = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    last_run = serializers.SerializerMethodField()

    class Meta(AssetSerializer.Meta):
        fields = [*AssetSerializer.Meta.fields, "detections", "tags", "last_run"]
        read_only_fields = [*AssetSerializer.Meta.read_only_fields, "detections", "tags", "last_run"]

    @extend_schema_field(DetectionSerializer(many=True))
    def get_detections(self, asset: Asset) -> list[dict]:
        # Rejected detections are kept (so re-tagging does not resurrect them) but not shown as tags.
        visible = [d for d in asset.detections.all() if d.review != ReviewState.REJECTED]
        return DetectionSerializer(visible, many=True, context=self.context).data

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_last_run(self, asset: Asset) -> dict | None:
        runs = list(asset.detection_runs.all()[:1])
        return RunSerializer(runs[0]).data if runs else None


class TaggedAssetViewSet(AssetViewSet):
    serializer_class = TaggedAssetSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            super()
            .get_queryset()
            .prefetch_related(
                Prefetch("detections", queryset=Detection.objects.select_related("label", "run", "asset")),
                Prefetch("tags", queryset=AssetTag.objects.select_related("label")),
                Prefetch("detection_runs", queryset=DetectionRun.objects.order_by("-started_at", "-id")),
            )
        )
