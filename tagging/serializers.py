"""How detections, tag summaries and runs look in the API (read-only), for every app that shows them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tagging.models import AssetTag, Detection, DetectionRun


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
    model = serializers.CharField(source="run.model_name", default=None, read_only=True, allow_null=True)
    detected_at = serializers.DateTimeField(source="run.started_at", default=None, read_only=True, allow_null=True)
    suggested_label = serializers.CharField(
        source="suggested_label.name", default=None, read_only=True, allow_null=True,
        help_text="What the detector called this box before a person relabelled it.",
    )

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
            "suggested_label",
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
        normalized = box.normalized(detection.asset.width, detection.asset.height)
        return {key: round(value, 6) for key, value in normalized.items()}


class TagSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="label.name")

    class Meta:
        model = AssetTag
        fields = ["label", "confidence", "count", "max_area", "has_manual"]
