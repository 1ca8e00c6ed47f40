"""Library and asset pages with what tagging adds: search, facets, tag chips, boxes, status and provenance."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from media.views import AssetDetailView, LibraryView
from tagging.filters import AssetFilter
from tagging.models import AssetTag, Detection, ReviewState
from tagging.query import LabelTerm, positive_labels, selected_labels, toggle_label, walk
from tagging.search import SORTS, InvalidCursor, keyset_page, label_facets


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
        return super().get_queryset().prefetch_related(
            Prefetch("tags", queryset=AssetTag.objects.select_related("label").order_by("-confidence"))
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
        context.update(
            assets=page.items,
            total=filterset.qs.count(),
            next_url=_with(request.GET, cursor=page.next_cursor) if page.next_cursor else None,
            previous_url=_with(request.GET, cursor=page.previous_cursor) if page.previous_cursor else None,
            sort_label=(positive_labels(query) or [None])[0],
            facets=self._facets(request, filterset),
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


class TaggedAssetDetailView(AssetDetailView):
    template_name = "tagging/asset_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asset = self.object
        detections = list(
            Detection.objects.filter(asset=asset).exclude(review=ReviewState.REJECTED).select_related("label", "run")
        )
        context["detections"] = detections
        context["boxes"] = [
            {"detection": d, "box": d.box, "style": _box_style(d, asset.width, asset.height)}
            for d in detections
            if d.box is not None
        ]
        context["tags"] = asset.tags.select_related("label").order_by("-confidence")
        context["runs"] = asset.detection_runs.all()[:5]
        return context


def _box_style(detection: Detection, width: int, height: int) -> str:
    box = detection.box
    assert box is not None
    return (
        f"left:{100 * box.x / width:.3f}%;top:{100 * box.y / height:.3f}%;"
        f"width:{100 * box.width / width:.3f}%;height:{100 * box.height / height:.3f}%"
    )
