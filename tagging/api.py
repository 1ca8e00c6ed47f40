"""``GET /api/status/``: the signed-in user's tagging progress (what waits, what runs, how long)."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assetsite.api import ApiError, ErrorSerializer
from media.selectors import assets_visible_to
from tagging.progress import MAX_POSITIONS, tagging_progress


class QueuePlaceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField(help_text="1: next to be tagged; counts every user's fresh uploads.")


class TaggingStatusSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Your assets waiting to be tagged (fresh + bulk).")
    waiting_fresh = serializers.IntegerField(help_text="...of them new uploads (tagged first).")
    waiting_bulk = serializers.IntegerField(help_text="...of them re-tags (after uploads, users taking turns).")
    tagging = serializers.IntegerField(help_text="Your assets being tagged right now.")
    estimate_seconds = serializers.IntegerField(
        allow_null=True, help_text="About how long until your last waiting asset is tagged; null: no runs yet."
    )
    seconds_per_image = serializers.FloatField(
        allow_null=True, help_text="Median detection time per image over the last 50 runs (all users)."
    )
    workers = serializers.IntegerField(help_text="Workers busy in the last 10 minutes (at least 1).")
    summary = serializers.CharField(help_text='For people: "12 waiting · about 40 s"; empty when done.')
    positions = QueuePlaceSerializer(
        many=True,
        help_text=f"Your waiting uploads' places in the line (the first {MAX_POSITIONS}, or those asked for).",
    )


class TaggingStatusView(APIView):
    """How far tagging of your assets has got. Only your own assets are counted."""

    @extend_schema(
        operation_id="tagging_status",
        parameters=[
            OpenApiParameter(
                "asset", OpenApiTypes.UUID, many=True,
                description=f"Only these assets' places (repeat it; up to {MAX_POSITIONS}). Another user's is 404.",
            )
        ],
        responses={200: TaggingStatusSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        asked = request.query_params.getlist("asset")
        asset_ids: list[uuid.UUID] | None = None
        if asked:
            if len(asked) > MAX_POSITIONS:
                raise ApiError(f"Ask for at most {MAX_POSITIONS} assets at once.", code="invalid")
            try:
                asset_ids = list({uuid.UUID(value) for value in asked})
            except ValueError:
                raise NotFound("No such asset.") from None
            if assets_visible_to(request.user).filter(pk__in=asset_ids).count() != len(asset_ids):
                raise NotFound("No such asset.")
        progress = tagging_progress(user=request.user, asset_ids=asset_ids)
        return Response(
            {
                "waiting": progress.waiting,
                "waiting_fresh": progress.fresh,
                "waiting_bulk": progress.bulk,
                "tagging": progress.tagging,
                "estimate_seconds": progress.estimate_seconds,
                "seconds_per_image": progress.seconds_per_image,
                "workers": progress.workers,
                "summary": progress.summary,
                "positions": [{"id": pk, "position": place} for pk, place in progress.positions],
            }
        )
