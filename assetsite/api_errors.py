"""The API's error shape also for what never reaches a DRF view: unknown /api/ URLs and crashes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}; see /api/docs/ for the list.", "code": "not_found"},
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """JSON for API clients, the site's page for everyone else (Django's handler500)."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Something went wrong on the server. It was logged; try again later.", "code": "server_error"},
            status=500,
        )
    return defaults.server_error(request)
