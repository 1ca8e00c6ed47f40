"""Review pages: accept, reject, relabel or remove a detection, download a box's crop, bulk actions on
the library's selection, and the review queue.

They post plain forms (they work without JavaScript); static/js does the same through the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache

from assetsite.page_throttle import page_throttled
from media.decoding import DecodeBusy
from review.forms import BulkActionForm, DetectionReviewForm
from review.selectors import (
    CropUnavailable,
    SearchInvalid,
    TooManyAssets,
    detection_crop,
    detection_get,
    form_selection,
    review_queue,
)
from review.services import assets_bulk_action, detection_delete, detection_review
from tagging.models import Detection
from tagging.selectors import label_names_of


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
    except DecodeBusy as busy:
        return HttpResponse(f"{busy} Try again in a few seconds.", status=503, content_type="text/plain",
                            headers={"Retry-After": str(busy.retry_after)})
    response = HttpResponse(crop.content, content_type=crop.content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=crop.filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- bulk actions from the library ----------------------------------------------------------------


class BulkActionView(LoginRequiredMixin, View):
    """One action on the images selected in the library: add or remove a tag, re-tag, delete (to the trash).

    Deleting asks for confirmation on a page of its own unless the form says it was confirmed.
    """

    def post(self, request: HttpRequest) -> HttpResponse:
        back = _next_url(request, reverse("library"))
        form = BulkActionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _first_error(form))
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        try:
            selection = form_selection(user=request.user, data=data)
        except (TooManyAssets, SearchInvalid) as problem:
            messages.error(request, str(problem))
            return HttpResponseRedirect(back)
        assets, found = selection.assets, selection.matched
        if found == 0:
            messages.error(request, "None of the selected images are in your library (deleted meanwhile?).")
            return HttpResponseRedirect(back)
        action = data["action"]
        if action == "delete" and not data["confirm"]:
            context = {
                "assets": assets.order_by("-created_at")[:60],
                "count": found,
                "ids": data["ids"],
                "matching": data["matching"],
                "search": data["search"],
                "next": back,
                "trash_days": settings.TRASH_DAYS,
            }
            return render(request, "review/bulk_confirm.html", context)
        # As POST /api/assets/bulk/: the same limits, counting the same requests.
        refused = page_throttled(request, scopes=("user", "bulk"), action="change many images at once", back=back)
        if refused is not None:
            return refused
        changed = assets_bulk_action(assets=assets, action=action, label=data.get("label") or "")
        images = f"{found} image{'s' if found != 1 else ''}"
        label = data.get("label")
        text = {
            "add_tag": f"Added “{label}” to {changed} of {images}.",
            "remove_tag": f"Removed “{label}” from {changed} of {images}.",
            "retag": f"Re-tagging {changed} image{'s' if changed != 1 else ''}; manual and reviewed tags are kept.",
            "delete": f"Moved {changed} image{'s' if changed != 1 else ''} to the trash.",
        }[action]
        missing = len(selection.not_found)
        if missing:
            text += f" {missing} selected image{'s were' if missing != 1 else ' was'} not found."
        messages.success(request, text)
        return HttpResponseRedirect(back)


# --- review queue ---------------------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class ReviewQueueView(LoginRequiredMixin, View):
    """Automatic detections nobody has reviewed yet, least certain first.

    Never cached: Back from an image (o) must show the queue as it is now, not as it was loaded.
    """

    template_name = "review/review.html"
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
