"""API for COCO imports: small documents are written in the request, large ones by a worker (a job to poll).

Another user's job is a 404, like another user's asset.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from assetsite.api import ApiError, ErrorSerializer
from assetsite.parsers import JSONParser
from integrations.coco import CocoInvalid, coco_plan, coco_result_json, coco_write
from integrations.coco_jobs import coco_job_create
from integrations.models import CocoImportJob
from integrations.selectors import coco_job_get
from media.selectors import assets_visible_to


class CocoImportImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField(required=False, help_text="Matched against your uploads' names.")
    width = serializers.IntegerField(required=False, help_text="Boxes are scaled if it differs from the asset.")
    height = serializers.IntegerField(required=False)
    asset_id = serializers.UUIDField(required=False, help_text="Matched first, then sha256, then file_name.")
    sha256 = serializers.CharField(required=False)


class CocoImportAnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    image_id = serializers.IntegerField()
    category_id = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4, required=False,
                                 help_text="[x, y, width, height]; leave out for a tag without a box.")


class CocoImportCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CocoUnmatchedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The image's id in the document.")
    file_name = serializers.CharField(allow_null=True)
    reason = serializers.CharField(help_text="Why no asset of yours was found for it.")


class CocoImportSerializer(serializers.Serializer):
    """A COCO object-detection document from another tool (other keys are allowed and ignored)."""

    images = CocoImportImageSerializer(many=True)
    categories = CocoImportCategorySerializer(many=True)
    annotations = CocoImportAnnotationSerializer(many=True)


class CocoImportResultSerializer(serializers.Serializer):
    images = serializers.IntegerField()
    matched_images = serializers.IntegerField()
    unmatched_images = CocoUnmatchedImageSerializer(many=True)
    annotations = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    unmatched_annotations = serializers.IntegerField()
    assets_changed = serializers.IntegerField()


class CocoImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This job (poll it until state is done or failed).")
    result = CocoImportResultSerializer(allow_null=True, read_only=True,
                                        help_text="What the import did, once state is done.")

    class Meta:
        model = CocoImportJob
        fields = ["id", "url", "state", "annotations", "to_write", "progress", "result", "error", "error_code",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = {
            "state": {"help_text": "queued, running, done or failed."},
            "error": {"help_text": "Why it failed (state failed); nothing was written if the document was refused."},
            "error_code": {"help_text": "invalid_coco, too_many_boxes, not_queued or internal_error."},
        }

    def get_url(self, job: CocoImportJob) -> str:
        return reverse("api:coco-import-job", args=[job.pk])


def _result_or_job(request: Request, document: Any) -> Response:
    try:
        plan = coco_plan(
            assets=assets_visible_to(request.user),
            document=document,
            max_annotations=settings.COCO_IMPORT_MAX_ANNOTATIONS,
            max_boxes_per_asset=settings.COCO_IMPORT_MAX_BOXES_PER_ASSET,
        )
        if plan.annotations <= settings.COCO_IMPORT_BACKGROUND_ANNOTATIONS:
            return Response(coco_result_json(coco_write(plan=plan)))
    except CocoInvalid as error:
        raise ApiError(str(error), code=error.code) from None
    job = coco_job_create(owner=request.user, document=document, plan=plan)
    body = CocoImportJobSerializer(job).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class CocoImportView(APIView):
    """Add a COCO document's annotations to your existing assets as manual detections.

    Documents with up to COCO_IMPORT_BACKGROUND_ANNOTATIONS annotations are written now (200 and the
    result). Larger ones are checked now and written by a worker: 202, with the job to poll in
    ``Location``."""

    parser_classes = [JSONParser]
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "bulk"

    @extend_schema(
        request=CocoImportSerializer,
        responses={
            200: CocoImportResultSerializer,
            202: OpenApiResponse(CocoImportJobSerializer, description="Larger than COCO_IMPORT_BACKGROUND_ANNOTATIONS: "
                                 "checked, queued for a worker; poll Location."),
            400: ErrorSerializer,
            413: OpenApiResponse(ErrorSerializer, description="Larger than COCO_IMPORT_MAX_BYTES."),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.COCO_IMPORT_MAX_BYTES:
            raise ApiError(
                f"The document is {length / 1e6:.1f} MB; imports take at most "
                f"{settings.COCO_IMPORT_MAX_BYTES / 1e6:.1f} MB. Split it.",
                code="too_large",
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        return _result_or_job(request, request.data)


class CocoImportJobView(APIView):
    """A background COCO import: its state, progress, and result or error."""

    @extend_schema(responses={200: CocoImportJobSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: str) -> Response:
        job = coco_job_get(user=request.user, job_id=job_id)
        if job is None:
            raise NotFound("No import job with this id among yours.")
        return Response(CocoImportJobSerializer(job).data)
