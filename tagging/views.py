"""Library and asset pages with what tagging adds: search, facets, tag chips, boxes, status and
provenance; reviewing detections, manual tags, crops, re-tagging, bulk actions and the review queue.

Pages post plain forms to these views (they work without JavaScript); the scripts in static/js do
the same through the API and refresh the page in place.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views import View

from media.models import Asset, TaggingStatus
from media.selectors import assets_visible_to
from media.views import AssetDetailView, LibraryView, owned_asset_or_404
from tagging.filters import AssetFilter
from tagging.forms import BulkActionForm, DetectionReviewForm, ManualTagForm
from tagging.models import AssetTag, Detection, ReviewState
from tagging.query import LabelTerm, positive_labels, selected_labels, toggle_label, walk
from tagging.review_services import assets_bulk_action, assets_retag, detection_delete
from tagging.search import SORTS, InvalidCursor, keyset_page, label_facets
from tagging.selectors import (
    CropUnavailable,
    asset_detections,
    asset_tags,
    detection_crop,
    detection_get,
    label_names_of,
    review_queue,
)
from tagging.services import detection_add_manual, detection_review
from tagging.templatetags.tagging_ui import label_colors


class TaggedLibraryView(LibraryView):
    """The library with the search box, label facets and keyset "newer / older" links.

    Uses the same AssetFilter as the API; a query that does not parse gets the page back with
    status 400 and the bad token marked.
    """

    template_name = "tagging/library.html"
    paginate_by = None
    page_size = 48
    facet_limit = 30

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            super()
            .get_queryset()
            .prefetch_related(
                Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
            )
        )

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        filterset = AssetFilter(data=request.GET, queryset=self.get_queryset(), request=request)
        q = request.GET.get("q", "")
        context: dict[str, Any] = {
            "q": q,
            "sort": request.GET.get("sort", ""),
            "sorts": list(SORTS.items()),
            "assets": [],
            "facets": [],
            "filter_errors": [],
            # For the bulk toolbar: where to come back to after an action.
            "here": request.get_full_path(),
        }
        if not filterset.is_valid():
            error = filterset.query_error
            if error is not None:
                end = error.position + len(error.token)
                context["query_error"] = {
                    "message": error.message,
                    "before": q[: error.position],
                    "token": q[error.position : end],
                    "after": q[end:],
                }
            context["filter_errors"] = [
                f"{field}: {message}"
                for field, messages in filterset.errors.items()
                if field != "q"
                for message in messages
            ]
            return render(request, self.template_name, context, status=400)
        try:
            page = keyset_page(queryset=filterset.qs, cursor=request.GET.get("cursor"), size=self.page_size)
        except InvalidCursor as invalid:
            context["filter_errors"] = [str(invalid)]
            return render(request, self.template_name, context, status=400)
        query = filterset.search_query
        facets = self._facets(request, filterset)
        context.update(
            assets=page.items,
            total=filterset.qs.count(),
            next_url=_with(request.GET, cursor=page.next_cursor) if page.next_cursor else None,
            previous_url=_with(request.GET, cursor=page.previous_cursor) if page.previous_cursor else None,
            sort_label=(positive_labels(query) or [None])[0],
            facets=facets,
            # Tag suggestions for the bulk toolbar: the labels in these results (no extra query).
            label_names=[facet["label"] for facet in facets],
            searching=query is not None,
            unknown_labels=[item.label for item, _ in walk(query) if isinstance(item, LabelTerm) and not item.known],
        )
        return render(request, self.template_name, context)

    def _facets(self, request: HttpRequest, filterset: AssetFilter) -> list[dict[str, Any]]:
        form = filterset.form
        q = form.cleaned_data.get("q", "")
        param_labels: list[str] = form.cleaned_data.get("label") or []
        ticked = selected_labels(form.q_query) | set(param_labels)
        asked = positive_labels(filterset.search_query)
        facets = []
        for facet in label_facets(user=request.user, query=filterset.search_query, limit=self.facet_limit):
            changes: dict[str, str | None] = {"cursor": None}
            if facet.label in param_labels:
                changes["label"] = ",".join(name for name in param_labels if name != facet.label) or None
            else:
                changes["q"] = toggle_label(q, form.q_query, facet.label) or None
            if facet.label in ticked and asked == [facet.label] and filterset.sort_order == "confidence":
                changes["sort"] = None  # no label left to sort by
            facets.append(
                {
                    "label": facet.label,
                    "count": facet.count,
                    "selected": facet.label in ticked,
                    "url": _with(request.GET, **changes),
                }
            )
        return facets


def _with(params: QueryDict, **changes: str | None) -> str:
    """The query string with some parameters replaced (None removes one)."""
    updated = params.copy()
    for key, value in changes.items():
        if value is None:
            updated.pop(key, None)
        else:
            updated[key] = value
    return "?" + updated.urlencode() if updated else "?"


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return "Something in the form was not right."


def _next_url(request: HttpRequest, default: str) -> str:
    """Where to go after a form: the ``next`` it carries when that is on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _detection_or_404(request: HttpRequest, asset_id: Any, detection_id: int) -> Detection:
    detection = detection_get(user=request.user, asset_id=asset_id, detection_id=detection_id)
    if detection is None:
        raise Http404("No such detection.")
    return detection


# --- the asset page -------------------------------------------------------------------------------


def _box_style(detection: Detection, width: int, height: int) -> str:
    box = detection.box
    assert box is not None
    return (
        f"left:{100 * box.x / width:.3f}%;top:{100 * box.y / height:.3f}%;"
        f"width:{100 * box.width / width:.3f}%;height:{100 * box.height / height:.3f}%;"
        + label_colors(detection.label.name).style
    )


def asset_page_context(asset: Asset, *, user: Any, add_form: ManualTagForm | None = None) -> dict[str, Any]:
    detections = asset_detections(asset=asset)
    visible = [d for d in detections if d.review != ReviewState.REJECTED]
    legend: dict[str, int] = {}
    for detection in visible:
        legend[detection.label.name] = legend.get(detection.label.name, 0) + 1
    return {
        "asset": asset,
        "detections": visible,
        "rejected": [d for d in detections if d.review == ReviewState.REJECTED],
        "boxes": [
            {"detection": d, "box": d.box, "style": _box_style(d, asset.width, asset.height)}
            for d in visible
            if d.box is not None
        ],
        "legend": sorted(legend.items()),
        "tags": asset_tags(asset=asset),
        "runs": asset.detection_runs.all()[:5],
        "add_form": add_form or ManualTagForm(asset=asset),
        "box_fields": [
            ("x", "x (left)", 0, max(asset.width - 1, 0)),
            ("y", "y (top)", 0, max(asset.height - 1, 0)),
            ("width", "Width", 1, asset.width),
            ("height", "Height", 1, asset.height),
        ],
        "label_names": label_names_of(user=user),
        "aspect": asset.width / asset.height if asset.height else 1.0,
        "in_progress": asset.tagging_status in {TaggingStatus.PENDING, TaggingStatus.PROCESSING},
        "threshold": settings.TAGGING_SCORE_THRESHOLD,
    }


class TaggedAssetDetailView(AssetDetailView):
    """The image with its boxes, metadata, provenance, and everything to review its tags."""

    template_name = "tagging/asset_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(asset_page_context(self.object, user=self.request.user))
        return context


class DetectionAddView(LoginRequiredMixin, View):
    """Add a manual tag, with a box (pixels of the upright image) or without one."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        form = ManualTagForm(request.POST, asset=asset)
        if not form.is_valid():
            context = asset_page_context(asset, user=request.user, add_form=form)
            return render(request, "tagging/asset_detail.html", context, status=400)
        detection = detection_add_manual(asset=asset, label=form.cleaned_data["label"], box=form.cleaned_data["box"])
        where = "with a box" if detection.box is not None else "without a box"
        messages.success(request, f"Added the tag “{detection.label.name}” {where}.")
        return redirect(reverse("asset-detail", args=[asset.pk]) + "#detections")


class DetectionReviewView(LoginRequiredMixin, View):
    """Accept, reject, relabel or remove one detection; back to the page the form was on."""

    def post(self, request: HttpRequest, asset_id: Any, detection_id: int) -> HttpResponse:
        detection = _detection_or_404(request, asset_id, detection_id)
        back = _next_url(request, reverse("asset-detail", args=[detection.asset_id]) + "#detections")
        form = DetectionReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return HttpResponseRedirect(back)
        action = form.cleaned_data["action"]
        name = detection.label.name
        if action == "remove":
            detection_delete(detection=detection)
            messages.success(request, f"Removed “{name}”.")
        elif action == "relabel":
            detection = detection_review(detection=detection, accept=True, label=form.cleaned_data["label"])
            messages.success(request, f"“{name}” is now “{detection.label.name}” (accepted).")
        else:
            detection_review(detection=detection, accept=action == "accept")
            messages.success(request, f"{'Accepted' if action == 'accept' else 'Rejected'} “{name}”.")
        return HttpResponseRedirect(back)


@login_required
def detection_crop_view(request: HttpRequest, asset_id: Any, detection_id: int) -> HttpResponse:
    """The box's region of the original at full resolution, as a download."""
    detection = _detection_or_404(request, asset_id, detection_id)
    try:
        crop = detection_crop(detection=detection)
    except CropUnavailable as problem:
        return HttpResponse(str(problem), status=404 if detection.box is None else 422, content_type="text/plain")
    response = HttpResponse(crop.content, content_type=crop.content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=crop.filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response


class AssetRetagPageView(LoginRequiredMixin, View):
    """Run the detector again on one asset; manual and reviewed tags are kept."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        assets_retag(assets=Asset.objects.filter(pk=asset.pk))
        messages.success(request, "Re-tagging queued. Your accepted, relabelled and manual tags are kept.")
        return redirect("asset-detail", asset_id=asset.pk)


# --- bulk actions from the library ----------------------------------------------------------------


class BulkActionView(LoginRequiredMixin, View):
    """One action on the images selected in the library: add or remove a tag, re-tag, delete.

    Deleting asks for confirmation on a page of its own unless the form says it was confirmed.
    """

    def post(self, request: HttpRequest) -> HttpResponse:
        back = _next_url(request, reverse("library"))
        form = BulkActionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        ids = data["ids"]
        assets = assets_visible_to(request.user).filter(pk__in=ids)
        found = assets.count()
        if found == 0:
            messages.error(request, "None of the selected images are in your library (deleted meanwhile?).")
            return HttpResponseRedirect(back)
        action = data["action"]
        if action == "delete" and not data["confirm"]:
            context = {"assets": assets.order_by("-created_at")[:60], "count": found, "ids": ids, "next": back}
            return render(request, "tagging/bulk_confirm.html", context)
        changed = assets_bulk_action(assets=assets, action=action, label=data.get("label") or "")
        images = f"{found} image{'s' if found != 1 else ''}"
        label = data.get("label")
        text = {
            "add_tag": f"Added “{label}” to {changed} of {images}.",
            "remove_tag": f"Removed “{label}” from {changed} of {images}.",
            "retag": f"Re-tagging {changed} image{'s' if changed != 1 else ''}; manual and reviewed tags are kept.",
            "delete": f"Deleted {changed} image{'s' if changed != 1 else ''}.",
        }[action]
        if len(ids) > found:
            text += f" {len(ids) - found} selected image{'s were' if len(ids) - found != 1 else ' was'} not found."
        messages.success(request, text)
        return HttpResponseRedirect(back)


# --- review queue ---------------------------------------------------------------------------------


class ReviewQueueView(LoginRequiredMixin, View):
    """Automatic detections nobody has reviewed yet, least certain first."""

    template_name = "tagging/review.html"
    page_size = 40

    def get(self, request: HttpRequest) -> HttpResponse:
        queue = review_queue(user=request.user)
        items = list(queue[: self.page_size])
        context = {
            "items": [{"detection": d, "preview": _preview_style(d)} for d in items],
            "total": queue.count() if len(items) == self.page_size else len(items),
            "threshold": settings.TAGGING_SCORE_THRESHOLD,
            "label_thresholds": sorted(settings.TAGGING_LABEL_THRESHOLDS.items()),
            "label_names": label_names_of(user=request.user),
            "here": request.get_full_path(),
        }
        return render(request, self.template_name, context)


def _preview_style(detection: Detection) -> dict[str, str] | None:
    """CSS that shows only the box's part of the large thumbnail (no decoding of the original)."""
    box, asset = detection.box, detection.asset
    if box is None or not asset.width or not asset.height:
        return None
    share_x, share_y = box.width / asset.width, box.height / asset.height
    return {
        "frame": f"--ratio:{box.width / box.height:.4f}",
        "image": (
            f"width:{100 / share_x:.3f}%;height:{100 / share_y:.3f}%;"
            f"left:{-100 * box.x / box.width:.3f}%;top:{-100 * box.y / box.height:.3f}%"
        ),
    }
