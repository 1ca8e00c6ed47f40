from django.contrib import admin

from tagging.models import AssetTag, Detection, DetectionRun, Label


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Detection)
class DetectionAdmin(admin.ModelAdmin):
    list_display = ["asset", "label", "confidence", "source", "review", "created_at"]
    list_filter = ["source", "review", "label"]
    raw_id_fields = ["asset", "run"]


@admin.register(DetectionRun)
class DetectionRunAdmin(admin.ModelAdmin):
    list_display = ["asset", "model_name", "device", "succeeded", "detection_count", "duration_ms", "started_at"]
    list_filter = ["succeeded", "model_name", "device"]
    raw_id_fields = ["asset"]


@admin.register(AssetTag)
class AssetTagAdmin(admin.ModelAdmin):
    list_display = ["asset", "label", "confidence", "count"]
    raw_id_fields = ["asset"]
