"""Refuse oversized API request bodies before reading them.

DRF's parsers read ``request.stream`` themselves, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies
to a JSON (or form-encoded) API body: a 30 MB PATCH used to be read whole and then answered 400. Here,
before any view runs:

- a body whose ``Content-Length`` is over the route's limit is answered 413 at once, unread (the
  connection is closed rather than drained);
- a chunked body (no ``Content-Length``) is read up to the limit and no further: over it, 413; within
  it, the view sees it as an ordinary body of that length (Django would otherwise read it as empty);
- a body within the route's limit but over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's limit for forms,
  which DRF also applies to JSON, with an HTML 400) is read here, so a COCO import can use its own limit;
- multipart bodies are left to the upload handlers, which stream files to disk with their own limits
  (ASSET_MAX_BYTES per file, DATA_UPLOAD_MAX_NUMBER_FILES, DATA_UPLOAD_MAX_MEMORY_SIZE for fields); a
  chunked multipart body gets 411 (send Content-Length).

Limits: API_MAX_BODY_BYTES for every API route, COCO_IMPORT_MAX_BYTES for the COCO import.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
COCO_IMPORT_PATH = "/api/import/coco/"


def body_limit(path: str) -> tuple[int, str]:
    """The largest body the route accepts, and the setting that says so."""
    if path == COCO_IMPORT_PATH:
        return settings.COCO_IMPORT_MAX_BYTES, "COCO_IMPORT_MAX_BYTES"
    return settings.API_MAX_BODY_BYTES, "API_MAX_BODY_BYTES"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _refusal(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    # The body was not read: closing the connection spares the server from draining it. (Answered before
    # CommonMiddleware, so the length is set here.)
    response["Connection"] = "close"
    response["Content-Length"] = str(len(response.content))
    return response


def _too_large(size: int | None, limit: int, setting: str, path: str) -> JsonResponse:
    coco = path == COCO_IMPORT_PATH
    what = "a COCO import" if coco else "an API request body"
    start = f"The request body is {_megabytes(size)}; " if size is not None else "The request body is over the limit: "
    advice = "Split the document into smaller imports." if coco else "Send less in one request."
    return _refusal(413, "too_large", f"{start}{what} may be at most {_megabytes(limit)} ({setting}). {advice}")


def _is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


class RequestBodyLimitMiddleware:
    """See the module docstring. First in MIDDLEWARE, so nothing has touched the body yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            refusal = self._check(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        multipart = request.content_type == "multipart/form-data"
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        limit, setting = body_limit(request.path_info)
        if raw_length.strip():
            if multipart:
                return None
            try:
                length = int(raw_length)
            except ValueError:
                return _refusal(400, "bad_request", "The Content-Length header is not a number.")
            if length > limit:
                return _too_large(length, limit, setting, request.path_info)
            if length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or length):
                # Within this route's limit but over Django's form limit, which DRF applies to every JSON
                # body (a 3 MB COCO import used to be an HTML 400): read it here, bounded by the route's.
                _adopt(request, request.read(length))
            return None
        if not _is_chunked(request):
            return None
        if multipart:
            return _refusal(
                411, "length_required",
                "Uploads need a Content-Length header; send the file without chunked transfer encoding.",
            )
        body = _read_at_most(request.META["wsgi.input"], limit + 1)
        if len(body) > limit:
            return _too_large(None, limit, setting, request.path_info)
        _adopt(request, body)
        return None


def _adopt(request: HttpRequest, body: bytes) -> None:
    """From here on the body is an ordinary one of known length, already read."""
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._body = body  # type: ignore[attr-defined]
    request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[attr-defined]
    request._read_started = False  # type: ignore[attr-defined]


def _read_at_most(source: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    received = 0
    while received < size:
        chunk = source.read(min(64 * 1024, size - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)
