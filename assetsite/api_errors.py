"""The API's error shape also for what never reaches a DRF view: unknown /api/ URLs and crashes."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from assetsite.parsers import FILE_NAME_TOO_LONG, is_header_size_error
from assetsite.storage import STORAGE_UNAVAILABLE, is_storage_unavailable

DATABASE_UNAVAILABLE = (
    "The database is not answering right now (it may be restarting). Send the request again in a "
    "moment; an upload sent twice is stored once."
)
RETRY_AFTER_SECONDS = 5


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}; see /api/docs/ for the list.", "code": "not_found"},
        status=404,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler400, with a useful answer for an overlong file name in a form (pages and API)."""
    if exception is not None and is_header_size_error(exception):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": FILE_NAME_TOO_LONG, "code": "file_name_too_long"}, status=400)
        page = render_to_string("400.html", {"message": FILE_NAME_TOO_LONG})
        return HttpResponse(page, status=400)
    return defaults.bad_request(request, exception)


def database_unavailable(request: HttpRequest, *, message: str = DATABASE_UNAVAILABLE,
                         code: str = "database_unavailable") -> HttpResponse:
    """503 with Retry-After: the client did nothing wrong and the same request will work again."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": code}, status=503, headers=headers)
    # A page of its own: the site's base template asks the database who is signed in.
    page = render_to_string("503.html", {"message": message, "retry_after": RETRY_AFTER_SECONDS})
    return HttpResponse(page, status=503, headers=headers)


def server_error(request: HttpRequest) -> HttpResponse:
    """JSON for API clients, the site's page for everyone else (Django's handler500).

    Called while the exception is being handled, so a lost database connection, which is no bug of
    ours or the client's, becomes a 503 instead; so does an unreachable file store.
    """
    error = sys.exc_info()[1]
    if isinstance(error, (OperationalError, InterfaceError)):
        return database_unavailable(request)
    if error is not None and is_storage_unavailable(error):  # the file store, not the database
        return database_unavailable(request, message=STORAGE_UNAVAILABLE, code="storage_unavailable")
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Something went wrong on the server. It was logged; try again later.", "code": "server_error"},
            status=500,
        )
    return defaults.server_error(request)
