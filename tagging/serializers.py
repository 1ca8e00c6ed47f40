"""How detections, tag summaries and runs look in the API (read-only), for every app that shows them."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tagging.models import AssetTag, Detection, DetectionRun, Track


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
            "video",
        ]
        extra_kwargs = {
            "video": {
                "help_text": "Videos: sample_fps, scene_cuts, tracker settings, samples, sampled_until, resumed_from "
                "(the checkpoint's time when this run continued an interrupted one), frames_decoded; {} for images."
            }
        }


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
    crop = serializers.SerializerMethodField(help_text="The box's region of the original (null without a box).")

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
            "crop",
            "created_at",
        ]

    @extend_schema_field(BoxSerializer(allow_null=True))
    def get_box(self, detection: Detection) -> dict[str, int] | None:
        box = detection.box
        return None if box is None else {"x": box.x, "y": box.y, "width": box.width, "height": box.height}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_crop(self, detection: Detection) -> str | None:
        if detection.box is None:
            return None
        path = reverse("api:detection-crop", args=[detection.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

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


class TrackBoxSerializer(serializers.Serializer):
    t = serializers.FloatField(help_text="Seconds from the start of the video (a sampled frame).")
    box = BoxSerializer(help_text="Upright video pixels.")
    confidence = serializers.FloatField()


class TrackSerializer(serializers.ModelSerializer):
    """One object followed through a video; its boxes at the sampled times (interpolate between them)."""

    label = serializers.CharField(source="label.name")
    suggested_label = serializers.CharField(
        source="suggested_label.name", default=None, read_only=True, allow_null=True,
        help_text="What the tracker called it before a person relabelled it.",
    )
    reviewed = serializers.BooleanField(read_only=True)
    boxes = serializers.SerializerMethodField()

    class Meta:
        model = Track
        fields = [
            "id",
            "label",
            "start",
            "end",
            "confidence",
            "mean_confidence",
            "source",
            "review",
            "reviewed",
            "suggested_label",
            "boxes",
        ]
        extra_kwargs = {"confidence": {"help_text": "The highest confidence over its samples."}}

    @extend_schema_field(TrackBoxSerializer(many=True))
    def get_boxes(self, track: Track) -> list[dict]:
        return [
            {"t": t, "box": {"x": x, "y": y, "width": w, "height": h}, "confidence": c}
            for t, x, y, w, h, c in track.boxes
        ]


class MomentSerializer(serializers.Serializer):
    label = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()
