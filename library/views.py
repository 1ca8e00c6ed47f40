"""The pages people live in: the library (search, facets, bulk selection), the asset page (boxes,
metadata, provenance, review forms, manual tags, re-tag) and the upload page.

Pages post plain forms to these views (they work without JavaScript); the scripts in static/js do
the same through the API and refresh the page in place. Review actions on single detections and the
review queue are ``review.views``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from assetsite.page_throttle import page_throttled
from assetsite.pagination import InvalidCursor, keyset_page
from library.timeline import timeline_context, timeline_jump
from media.models import Asset, TaggingStatus
from media.selectors import assets_visible_to
from media.services import AssetRejected, asset_create
from media.uploads import oversize_message
from media.views import owned_asset_or_404
from review.forms import ManualTagForm
from review.services import assets_retag, detection_add_manual
from search import selectors as search_selectors
from search.filters import AssetFilter
from search.nodes import InCollection, positive_labels, selected_labels, walk
from search.query import toggle_label
from search.selectors import SORTS, first_moments, label_facets, results_count
from search.suggestions import unknown_labels
from search.timeline import InvalidMonth
from tagging.models import AssetTag, Detection, ReviewState
from tagging.progress import tagging_progress
from tagging.selectors import asset_detections, asset_tags, asset_tracks, label_names_of
from tagging.templatetags.tagging_ui import label_colors

SORT_NEEDS_LABEL = "Sorting by confidence needs a label in the search (like circle): showing the newest first."


class LibraryView(LoginRequiredMixin, View):
    """The library: the user's assets with the search box, label facets and keyset "newer / older" links.

    Uses the same AssetFilter as the API; a query that does not parse gets the page back with
    status 400 and the bad token marked.
    """

    template_name = "library/library.html"
    page_size = 48
    facet_limit = 30

    def get_queryset(self) -> QuerySet[Asset]:
        return assets_visible_to(self.request.user).prefetch_related(
            Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        viewing, params = viewer_opened(request)  # the rest of the query string is the search
        filterset = AssetFilter(data=params, queryset=self.get_queryset(), request=request)
        sort_notice = ""
        if not filterset.is_valid() and set(filterset.errors) == {"sort"} and params.get("sort") == "confidence":
            # A bookmark or an edited search left no label to sort by: show the results, not an error.
            params = params.copy()
            params.pop("sort")
            filterset = AssetFilter(data=params, queryset=self.get_queryset(), request=request)
            sort_notice = SORT_NEEDS_LABEL
        q = params.get("q", "")
        context: dict[str, Any] = {
            "q": q,
            "sort": params.get("sort", ""),
            "sort_notice": sort_notice,
            "sorts": list(SORTS.items()),
            "assets": [],
            "facets": [],
            "filter_errors": [],
            # For the bulk toolbar: where to come back to after an action.
            "here": request.path + (f"?{params.urlencode()}" if params else ""),
            "trash_days": settings.TRASH_DAYS,
            "viewing": viewing,
            # "12 waiting · about 40 s" while the user's tagging is not done; static/js/library.js updates it.
            "tagging_summary": tagging_progress(user=request.user, with_positions=False).summary,
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
            cursor = timeline_jump(params, queryset=filterset.qs, sort=filterset.sort_order)
            page = keyset_page(queryset=filterset.qs, cursor=cursor, size=self.page_size)
        except (InvalidCursor, InvalidMonth) as invalid:
            context["filter_errors"] = [str(invalid)]
            return render(request, self.template_name, context, status=400)
        query = filterset.search_query
        # A video hit opens at the first moment the searched labels are on screen.
        starts = first_moments(assets=page.items, query=query)
        for asset in page.items:
            asset.first_moment = starts.get(asset.pk)
        facets = self._facets(request, params, filterset)
        if filterset.sort_order == "taken":
            context.update(timeline_context(params, user=request.user, query=query))
        count = results_count(user=request.user, query=query)
        context.update(
            assets=page.items,
            total=count.value,
            total_exact=count.exact,
            next_url=_with(params, cursor=page.next_cursor, month=None) if page.next_cursor else None,
            previous_url=_with(params, cursor=page.previous_cursor, month=None) if page.previous_cursor else None,
            sort_label=(positive_labels(query) or [None])[0],
            facets=facets,
            facets_sampled=not all(facet["exact"] for facet in facets),
            facet_sample=search_selectors.FACET_SAMPLE,
            # Tag suggestions for the bulk toolbar: the labels in these results (no extra query).
            label_names=[facet["label"] for facet in facets],
            searching=query is not None,
            unknown_labels=[
                {
                    **vars(item),
                    "url": _with(params, q=item.corrected, cursor=None, month=None) if item.corrected else "",
                }
                for item in unknown_labels(user=request.user, query=query, text=q)
            ],
            unknown_collections=[
                item.name for item, _ in walk(query) if isinstance(item, InCollection) and item.collection_id is None
            ],
        )
        return render(request, self.template_name, context)

    def _facets(self, request: HttpRequest, params: QueryDict, filterset: AssetFilter) -> list[dict[str, Any]]:
        form = filterset.form
        q = form.cleaned_data.get("q", "")
        param_labels: list[str] = form.cleaned_data.get("label") or []
        ticked = selected_labels(form.q_query) | set(param_labels)
        asked = positive_labels(filterset.search_query)
        facets = []
        for facet in label_facets(user=request.user, query=filterset.search_query, limit=self.facet_limit):
            changes: dict[str, str | None] = {"cursor": None, "month": None}
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
                    "exact": facet.exact,
                    "selected": facet.label in ticked,
                    "url": _with(params, **changes),
                }
            )
        return facets


def viewer_opened(request: HttpRequest) -> tuple[Asset | None, QueryDict]:
    """The picture ``?view=<id>`` opens the viewer on (static/js/viewer.js): the signed-in user's, else
    a 404 (a malformed id too); and the query string without it."""
    params = request.GET.copy()
    viewing = owned_asset_or_404(request, params.pop("view")[-1]) if "view" in params else None
    return viewing, params


def _with(params: QueryDict, **changes: str | None) -> str:
    """The query string with some parameters replaced (None removes one)."""
    updated = params.copy()
    for key, value in changes.items():
        if value is None:
            updated.pop(key, None)
        else:
            updated[key] = value
    return "?" + updated.urlencode() if updated else "?"


# --- the asset page -------------------------------------------------------------------------------


def _box_style(detection: Detection, width: int, height: int) -> str:
    box = detection.box
    assert box is not None
    return (
        f"left:{100 * box.x / width:.3f}%;top:{100 * box.y / height:.3f}%;"
        f"width:{100 * box.width / width:.3f}%;height:{100 * box.height / height:.3f}%;"
        + label_colors(detection.label.name).style
    )


def video_context(asset: Asset, *, start_at: str | None = None) -> dict[str, Any]:
    """A video's tracks for the player (boxes as JSON for video.js) and the per-label timeline rows."""
    if not asset.is_video:
        return {}
    tracks = asset_tracks(asset=asset)
    visible = [track for track in tracks if track.review != ReviewState.REJECTED]
    duration = max(asset.duration or 0.0, max((t.end for t in visible), default=0.0), 0.001)
    step = 1 / settings.VIDEO_SAMPLE_FPS
    rows: dict[str, list[dict[str, Any]]] = {}
    for track in visible:
        # A track covers its samples: half a step either side, so a one-sample track still shows.
        left = max(track.start - step / 2, 0.0) / duration * 100
        right = min(track.end + step / 2, duration) / duration * 100
        rows.setdefault(track.label.name, []).append(
            {"track": track, "start": track.start, "end": track.end,
             "left": f"{left:.3f}", "width": f"{max(right - left, 0.5):.3f}"}
        )
    try:
        seek = min(max(float(start_at or ""), 0.0), duration)
    except ValueError:
        seek = None
    return {
        "tracks": tracks,
        "timeline": sorted(rows.items()),
        "tracks_data": {
            "step": step,
            "tracks": [
                {"id": t.pk, "label": t.label.name, "start": t.start, "end": t.end, "confidence": t.confidence,
                 "boxes": t.boxes}
                for t in visible
            ],
        },
        "start_at": seek,
    }


def asset_page_context(
    asset: Asset, *, user: Any, add_form: ManualTagForm | None = None, start_at: str | None = None
) -> dict[str, Any]:
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
        "trash_days": settings.TRASH_DAYS,
        "threshold": settings.TAGGING_SCORE_THRESHOLD,
        # "Download as…": a web-sized copy unless the picture is smaller.
        "rendition_max_side": settings.RENDITION_MAX_SIDE,
        "rendition_width": min(asset.width, 1600),
        "rendition_height": "",
        **video_context(asset, start_at=start_at),
    }


class AssetDetailView(LoginRequiredMixin, View):
    """The image with its boxes, metadata, provenance, and everything to review its tags."""

    template_name = "library/asset_detail.html"

    def get(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        context = asset_page_context(asset, user=request.user, start_at=request.GET.get("t"))
        return render(request, self.template_name, context)


class DetectionAddView(LoginRequiredMixin, View):
    """Add a manual tag, with a box (pixels of the upright image) or without one."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        form = ManualTagForm(request.POST, asset=asset)
        if not form.is_valid():
            context = asset_page_context(asset, user=request.user, add_form=form)
            return render(request, AssetDetailView.template_name, context, status=400)
        detection = detection_add_manual(asset=asset, label=form.cleaned_data["label"], box=form.cleaned_data["box"])
        where = "with a box" if detection.box is not None else "without a box"
        messages.success(request, f"Added the tag “{detection.label.name}” {where}.")
        return redirect(reverse("asset-detail", args=[asset.pk]) + "#detections")


class AssetRetagPageView(LoginRequiredMixin, View):
    """Run the detector again on one asset; manual and reviewed tags are kept."""

    def post(self, request: HttpRequest, asset_id: Any) -> HttpResponse:
        asset = owned_asset_or_404(request, asset_id)
        back = reverse("asset-detail", args=[asset.pk])
        # The API's POST /api/assets/{id}/retag/ has the same limits and counts the same requests.
        refused = page_throttled(request, scopes=("user", "retag"), action="re-tag images", back=back)
        if refused is not None:
            return refused
        assets_retag(assets=Asset.objects.filter(pk=asset.pk))
        messages.success(request, "Re-tagging queued. Your accepted, relabelled and manual tags are kept.")
        return redirect("asset-detail", asset_id=asset.pk)


# --- upload ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadOutcome:
    filename: str
    asset: Asset | None
    created: bool
    error: str = ""
    status: int = 200
    retry_after: int | None = None
    restored: bool = False  # the same content was in the trash: back in the library


class UploadView(LoginRequiredMixin, View):
    template_name = "library/upload.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, self._limits())

    def post(self, request: HttpRequest) -> HttpResponse:
        uploads = request.FILES.getlist("files")  # parses the body, which fills oversize_uploads
        outcomes: list[UploadOutcome] = [
            UploadOutcome(
                filename=name,
                asset=None,
                created=False,
                error=oversize_message(request, name),
                status=413,
            )
            for name in getattr(request, "oversize_uploads", [])
        ]
        for upload in uploads:
            try:
                result = asset_create(owner=request.user, file=upload, filename=upload.name)
            except AssetRejected as rejection:
                outcomes.append(UploadOutcome(rejection.filename, None, False, rejection.message, rejection.status,
                                              rejection.retry_after))
            else:
                outcomes.append(UploadOutcome(result.asset.original_filename, result.asset, result.created,
                                              restored=result.restored))
        if not outcomes:
            outcomes.append(UploadOutcome("", None, False, "Choose one or more image or video files to upload.", 400))
        accepted = [outcome for outcome in outcomes if outcome.asset is not None]
        statuses = {outcome.status for outcome in outcomes}
        status = 200 if accepted else (statuses.pop() if len(statuses) == 1 else 400)
        context = {"outcomes": outcomes, "accepted": accepted, **self._limits()}
        response = render(request, self.template_name, context, status=status)
        waits = [outcome.retry_after for outcome in outcomes if outcome.retry_after]
        if status == 503 and waits:
            response["Retry-After"] = str(max(waits))  # the page's script waits this long and sends again
        return response

    @staticmethod
    def _limits() -> dict[str, float | int]:
        # The page's script refuses oversize files before sending them, with the server's own limit.
        return {"max_mb": settings.ASSET_MAX_BYTES / 1e6, "max_bytes": settings.ASSET_MAX_BYTES}
