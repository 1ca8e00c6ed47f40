"""Zip downloads of originals: a selection, a search or a collection, from the API or the library's
selection bar (a plain form post: it works without JavaScript). The archive is streamed (media.zips);
ZIP_MAX_ASSETS and ZIP_MAX_BYTES cap one download, with a 400 that says so before anything is sent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views import View
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from albums.selectors import collection_get
from assetsite.api import ApiError, ErrorSerializer
from library.collection_ops import collection_members
from media.models import Asset
from media.selectors import assets_visible_to
from media.zips import ZipRefused, zip_check, zip_filename, zip_stream
from review.forms import SelectionForm
from review.selectors import SearchInvalid, TooManyAssets, bulk_selection, form_selection
from search.api import InvalidQuerySerializer, QueryErrorPositionMixin, filterset_or_400
from search.filters import AssetFilter

# What the stream reads of each asset (the rows are loaded before the first byte is sent).
_ZIP_FIELDS = ("id", "file", "original_filename", "byte_size", "taken_at", "created_at")


def zip_response(assets: QuerySet[Asset], *, title: str) -> StreamingHttpResponse:
    """The zip of ``assets``' originals as an attachment; raises ZipRefused (caps, or nothing to send)."""
    plan = zip_check(assets)
    rows = list(assets.only(*_ZIP_FIELDS))
    response = StreamingHttpResponse(zip_stream(rows), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=zip_filename(title))
    response["Cache-Control"] = "private, no-store"
    response["X-Zip-Count"] = str(plan.count)
    response["X-Zip-Bytes"] = str(plan.bytes)  # the originals' bytes; the archive adds a little
    return response


class DownloadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100_000,
                                help_text="These images of yours.")
    q = serializers.CharField(required=False, max_length=2000, help_text="Every image this search finds.")
    collection = serializers.UUIDField(required=False, help_text="Every image in this collection of yours.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if sum(key in attrs for key in ("ids", "q", "collection")) != 1:
            raise serializers.ValidationError("Give exactly one of ids, q or collection.", code="one_of")
        return attrs


class AssetDownloadView(QueryErrorPositionMixin, APIView):
    """A zip of the originals, byte for byte, streamed: a selection (ids), a search (q) or a collection.

    At most ZIP_MAX_ASSETS images and ZIP_MAX_BYTES of originals (400 ``zip_too_large`` beyond).
    """

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "bulk"

    @extend_schema(
        request=DownloadSerializer,
        responses={
            # The real Content-Type is application/zip; one binary type suits generated clients (as for files).
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The zip, streamed."),
            400: InvalidQuerySerializer,
            404: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        serializer = DownloadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "collection" in data:
            collection = collection_get(user=request.user, collection_id=data["collection"])
            if collection is None:
                raise NotFound("No such collection.")
            assets, title = collection_members(collection), collection.name
        elif "q" in data:
            visible = assets_visible_to(request.user)
            filterset = filterset_or_400(AssetFilter(data={"q": data["q"]}, queryset=visible, request=request))
            assets, title = filterset.qs, data["q"]
        else:
            assets, title = bulk_selection(user=request.user, ids=data["ids"]).assets.order_by("-created_at", "-id"), ""
        try:
            return zip_response(assets, title=title or "images")
        except ZipRefused as error:
            raise ApiError(str(error), code="zip_refused") from None


class DownloadPageView(LoginRequiredMixin, View):
    """The library's "Download zip" (ticked images, or all matching the search) and a collection's page."""

    def post(self, request: HttpRequest) -> HttpResponse:
        back = request.POST.get("next") or ""
        if not back.startswith("/") or back.startswith("//"):
            back = reverse("library")
        collection_id = request.POST.get("collection")
        try:
            if collection_id:
                collection = collection_get(user=request.user, collection_id=collection_id)
                if collection is None:
                    messages.error(request, "No such collection.")
                    return HttpResponseRedirect(back)
                return zip_response(collection_members(collection), title=collection.name)
            form = SelectionForm(request.POST)
            if not form.is_valid():
                messages.error(request, next(str(errors[0]) for errors in form.errors.values()))
                return HttpResponseRedirect(back)
            selection = form_selection(user=request.user, data=form.cleaned_data, limit=settings.ZIP_MAX_ASSETS)
            return zip_response(selection.assets.order_by("-created_at", "-id"), title="images")
        except (ZipRefused, TooManyAssets, SearchInvalid) as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(back)
