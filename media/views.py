"""Pages for the asset library: upload, grid, detail, and owner-checked file downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View
from django.views.generic import DetailView, ListView

from media.models import Asset
from media.selectors import asset_get, assets_visible_to
from media.services import AssetRejected, asset_create
from media.uploads import oversize_message

THUMBNAIL_FIELDS = {"small": "thumbnail_small", "large": "thumbnail_large"}


class LibraryView(LoginRequiredMixin, ListView):
    template_name = "media/library.html"
    context_object_name = "assets"
    paginate_by = 48

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return assets_visible_to(self.request.user)


class AssetDetailView(LoginRequiredMixin, DetailView):
    template_name = "media/asset_detail.html"
    context_object_name = "asset"

    def get_object(self, queryset: Any = None) -> Asset:
        asset = asset_get(user=self.request.user, asset_id=self.kwargs["asset_id"])
        if asset is None:
            raise Http404("No such asset.")
        return asset


@dataclass(frozen=True)
class UploadOutcome:
    filename: str
    asset: Asset | None
    created: bool
    error: str = ""
    status: int = 200


class UploadView(LoginRequiredMixin, View):
    template_name = "media/upload.html"

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
                outcomes.append(UploadOutcome(rejection.filename, None, False, rejection.message, rejection.status))
            else:
                outcomes.append(UploadOutcome(result.asset.original_filename, result.asset, result.created))
        if not outcomes:
            outcomes.append(UploadOutcome("", None, False, "Choose one or more image or video files to upload.", 400))
        accepted = [outcome for outcome in outcomes if outcome.asset is not None]
        statuses = {outcome.status for outcome in outcomes}
        status = 200 if accepted else (statuses.pop() if len(statuses) == 1 else 400)
        context = {"outcomes": outcomes, "accepted": accepted, **self._limits()}
        return render(request, self.template_name, context, status=status)

    @staticmethod
    def _limits() -> dict[str, float | int]:
        # The page's script refuses oversize files before sending them, with the server's own limit.
        return {"max_mb": settings.ASSET_MAX_BYTES / 1e6, "max_bytes": settings.ASSET_MAX_BYTES}


def owned_asset_or_404(request: HttpRequest, asset_id: Any) -> Asset:
    """The signed-in user's asset; anyone else's is a 404, as if it did not exist."""
    asset = asset_get(user=request.user, asset_id=asset_id)
    if asset is None:
        raise Http404("No such asset.")
    return asset


@login_required
def asset_file(request: HttpRequest, asset_id: str) -> FileResponse:
    """The original file, exactly as uploaded."""
    asset = owned_asset_or_404(request, asset_id)
    response = FileResponse(
        default_storage.open(asset.file.name, "rb"),
        content_type=asset.mime_type,
        as_attachment=request.GET.get("download") == "1",
        filename=asset.original_filename,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def asset_thumbnail(request: HttpRequest, asset_id: str, size: str) -> FileResponse:
    field = THUMBNAIL_FIELDS.get(size)
    if field is None:
        raise Http404("No such thumbnail size.")
    asset = owned_asset_or_404(request, asset_id)
    name = getattr(asset, field).name
    if not name:
        raise Http404("This asset has no thumbnail.")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=86400"
    return response
