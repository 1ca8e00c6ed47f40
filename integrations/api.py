"""API for integrations: webhooks with their delivery log, COCO export and import.

Another user's webhook is a 404, like another user's asset.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

from assetsite.api import ApiError, ErrorSerializer
from integrations.coco import coco_export
from integrations.models import ApiToken, Webhook, WebhookDelivery, WebhookEvent
from integrations.selectors import deliveries_of, token_get, tokens_of, webhook_get, webhooks_of
from integrations.services import (
    TokenInvalid,
    WebhookInvalid,
    token_create,
    token_revoke,
    webhook_create,
    webhook_delete,
    webhook_ping,
    webhook_secret_rotate,
    webhook_update,
)
from media.models import Asset
from media.selectors import assets_visible_to
from search.api import InvalidQuerySerializer, QueryErrorPositionMixin, filterset_or_400
from search.filters import AssetFilter
from tagging.models import DetectionSource, ReviewState


class WebhookSerializer(serializers.ModelSerializer):
    url = serializers.URLField(max_length=2000, help_text="http:// or https:// URL that receives POSTs.")
    events = serializers.MultipleChoiceField(
        choices=WebhookEvent.choices, allow_empty=False, required=False, help_text="Default: every event."
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    class Meta:
        model = Webhook
        fields = ["id", "url", "description", "events", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance: Webhook) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["events"] = sorted(instance.events)
        return data


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Signs every delivery. Shown here once; see /secret/.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()


class DeliverySerializer(serializers.ModelSerializer):
    state = serializers.CharField(help_text="pending, succeeded, retrying or failed.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "attempt",
            "state",
            "status_code",
            "response_excerpt",
            "error",
            "duration_ms",
            "created_at",
            "delivered_at",
            "next_retry",
            "payload",
        ]
        read_only_fields = fields


# Never cached: creating a hook and its /secret/ answer with the signing secret.
@method_decorator(never_cache, name="dispatch")
class WebhookViewSet(viewsets.ModelViewSet):  # PATCH, not PUT: see http_method_names
    """Your webhooks. Deliveries of asset.tagged and asset.failed are signed with the hook's secret."""

    serializer_class = WebhookSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = Webhook.objects.none()  # for the schema; get_queryset scopes to the user
    throttle_scope: str | None = None  # "pings" on ping (ScopedRateThrottle ignores None)

    def get_queryset(self) -> QuerySet[Webhook]:
        return webhooks_of(self.request.user)

    def get_object(self) -> Webhook:
        webhook = webhook_get(user=self.request.user, webhook_id=self.kwargs["pk"])
        if webhook is None:
            raise NotFound("No such webhook.")
        return webhook

    @extend_schema(responses={201: WebhookCreatedSerializer, 400: ErrorSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            webhook = webhook_create(
                owner=request.user,
                url=data["url"],
                events=data.get("events") or WebhookEvent.values,
                description=data.get("description", ""),
                active=data.get("active", True),
            )
        except WebhookInvalid as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: WebhookSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhook = self.get_object()
        serializer = self.get_serializer(webhook, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            webhook = webhook_update(
                webhook=webhook,
                url=data.get("url"),
                events=data.get("events"),
                description=data.get("description"),
                active=data.get("active"),
            )
        except WebhookInvalid as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None
        return Response(WebhookSerializer(webhook).data)

    def perform_destroy(self, instance: Webhook) -> None:
        webhook_delete(webhook=instance)

    @extend_schema(
        methods=["GET"], request=None, responses={200: SecretSerializer, 404: ErrorSerializer},
        description="The hook's signing secret.",
    )
    @extend_schema(
        methods=["POST"], request=None, responses={200: SecretSerializer, 404: ErrorSerializer},
        description="Replace the signing secret; deliveries from now on use the new one.",
    )
    @action(detail=True, methods=["get", "post"])
    def secret(self, request: Request, pk: str, format: str | None = None) -> Response:
        webhook = self.get_object()
        if request.method == "POST":
            webhook = webhook_secret_rotate(webhook=webhook)
        return Response({"secret": webhook.secret})

    @extend_schema(request=None, responses={202: DeliverySerializer, 404: ErrorSerializer})
    @action(detail=True, methods=["post"], throttle_classes=[UserRateThrottle, ScopedRateThrottle],
            throttle_scope="pings")
    def ping(self, request: Request, pk: str, format: str | None = None) -> Response:
        """Send a signed test delivery (event webhook.ping) now."""
        delivery = webhook_ping(webhook=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: DeliverySerializer(many=True), 404: ErrorSerializer})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str, format: str | None = None) -> Response:
        """The delivery log, newest attempt first: one entry per attempt."""
        page = self.paginate_queryset(deliveries_of(webhook=self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


# --- API tokens -------------------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                 help_text="What the token is for. Default: “API token”.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="When it stops working; null or absent: never.")
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=36_500, write_only=True,
                                               help_text="Instead of expires_at: this many days from now.")
    prefix = serializers.CharField(read_only=True, help_text="The key's first characters, to recognise it.")
    expired = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "expires_in_days", "last_used_at", "expired"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "expired"]

    def get_expired(self, token: ApiToken) -> bool:
        return token.expired()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("expires_at") is not None and attrs.get("expires_in_days") is not None:
            raise serializers.ValidationError({"expires_in_days": ["Give expires_at or expires_in_days, not both."]})
        return attrs


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The token. Shown in this answer only: store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


@method_decorator(never_cache, name="dispatch")
class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Your API tokens. Only a fingerprint of each key is stored: the key is in the creation answer only."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; get_queryset scopes to the user

    def get_queryset(self) -> QuerySet[ApiToken]:
        return tokens_of(self.request.user)

    def get_object(self) -> ApiToken:
        token = token_get(user=self.request.user, token_id=self.kwargs["pk"])
        if token is None:
            raise NotFound("No such token.")
        return token

    @extend_schema(responses={201: ApiTokenCreatedSerializer, 400: ErrorSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        expires_at = data.get("expires_at")
        if data.get("expires_in_days") is not None:
            expires_at = timezone.now() + timedelta(days=data["expires_in_days"])
        try:
            token, key = token_create(user=request.user, name=data.get("name", ""), expires_at=expires_at)
        except TokenInvalid as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None
        body = ApiTokenCreatedSerializer(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 404: ErrorSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Revoke the token: requests with it are refused from now on (also this one's, if it is the same)."""
        token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- COCO -------------------------------------------------------------------------------------------


class CocoInfoSerializer(serializers.Serializer):
    description = serializers.CharField()
    version = serializers.CharField()
    date_created = serializers.DateTimeField()
    videos_left_out = serializers.IntegerField(
        help_text="Selected assets that are videos: COCO describes still images, so they are not in the export "
        "(their objects are tracks: GET /api/assets/{id}/tracks/)."
    )


class CocoImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    file_name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    date_captured = serializers.DateTimeField(allow_null=True, help_text="EXIF taken-at time, if known.")
    asset_id = serializers.UUIDField()
    sha256 = serializers.CharField()
    title = serializers.CharField(allow_blank=True)


class CocoCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    supercategory = serializers.CharField(allow_blank=True)


class CocoAnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    image_id = serializers.IntegerField()
    category_id = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4,
                                 help_text="[x, y, width, height] in pixels of the upright image.")
    area = serializers.IntegerField()
    iscrowd = serializers.IntegerField()
    score = serializers.FloatField()
    source = serializers.ChoiceField(choices=DetectionSource.choices)
    review = serializers.ChoiceField(choices=ReviewState.choices)
    detection_id = serializers.IntegerField()


class CocoLicenseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class CocoExportSerializer(serializers.Serializer):
    """What GET /api/export/coco/ answers: standard COCO plus asset_id, sha256, source, review."""

    info = CocoInfoSerializer()
    licenses = CocoLicenseSerializer(many=True)
    images = CocoImageSerializer(many=True)
    categories = CocoCategorySerializer(many=True)
    annotations = CocoAnnotationSerializer(many=True)


class CocoExportView(QueryErrorPositionMixin, generics.GenericAPIView):
    """Your assets matching the query (the same parameters as GET /api/assets/) as COCO JSON."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "bulk"
    filter_backends = [DjangoFilterBackend]  # for the schema's parameters; filtering is done in get()
    filterset_class = AssetFilter
    pagination_class = None

    def get_queryset(self) -> QuerySet[Asset]:
        return assets_visible_to(self.request.user)

    @extend_schema(
        filters=True,
        responses={200: CocoExportSerializer, 400: InvalidQuerySerializer},
    )
    def get(self, request: Request) -> Response:
        filterset = filterset_or_400(
            AssetFilter(data=request.query_params, queryset=self.get_queryset(), request=request)
        )
        assets = filterset.qs
        limit = settings.COCO_EXPORT_MAX_ASSETS
        if assets[limit : limit + 1].exists():
            raise ApiError(
                f"The query matches more than {limit} assets; narrow it down to export it.",
                code="too_many_assets",
            )
        query = request.query_params.get("q", "")
        return Response(coco_export(assets=assets, description=f"assetsite export: {query}" if query else ""))
