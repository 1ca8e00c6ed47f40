"""Serving stored files: conditional requests (ETag / If-None-Match) and byte ranges (Range / If-Range).

Files are streamed from the storage API in chunks (never read whole), so the same code serves local
disks and object stores. One range per request: a multi-range request gets the whole file, as RFC
9110 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from media.models import Asset
from media.storage_io import presigned_url

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        left = length
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        handle.close()


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison, as If-None-Match asks: W/"x" and "x" are the same representation.
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return "*" in candidates or etag in candidates


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The (start, end inclusive) a Range header asks for; None to send the whole file (absent,
    malformed or several ranges), False when it cannot be satisfied."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def file_response(
    request: HttpRequest,
    *,
    name: str,
    content_type: str,
    etag: str,
    filename: str = "",
    as_attachment: bool = False,
    cache_control: str = "private, max-age=3600",
) -> HttpResponse:
    """The stored file ``name``, answering conditional and range requests.

    ``etag`` must change whenever the bytes do (a content hash, say); it is quoted here. With
    FILE_REDIRECT_TO_STORAGE on object storage the answer is a 302 to a presigned URL of the bucket.
    """
    quoted = f'"{etag}"'
    headers = {"ETag": quoted, "Cache-Control": cache_control, "Accept-Ranges": "bytes"}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and _etag_matches(if_none_match, quoted):
        return HttpResponse(status=304, headers=headers)
    if settings.FILE_REDIRECT_TO_STORAGE:
        # The caller checked access; the object store serves the bytes (Range and ETag included).
        url = presigned_url(name, content_type=content_type, filename=filename, as_attachment=as_attachment)
        if url is not None:
            return HttpResponse(status=302, headers={"Location": url, "Cache-Control": "private, no-store"})
    size = default_storage.size(name)
    wanted: tuple[int, int] | None | bool = None
    range_header = request.headers.get("Range")
    if range_header and request.method in ("GET", "HEAD"):
        if_range = request.headers.get("If-Range")
        if not if_range or if_range.strip() == quoted:
            wanted = byte_range(range_header, size)
    if wanted is False:
        return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(end - start + 1, 0)
    handle = default_storage.open(name, "rb")
    if request.method == "HEAD":
        handle.close()
        response: HttpResponse | StreamingHttpResponse = HttpResponse(status=206 if wanted else 200)
    else:
        response = StreamingHttpResponse(_chunks(handle, start, length), status=206 if wanted else 200)
    for key, value in headers.items():
        response[key] = value
    response["Content-Type"] = content_type
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if filename or as_attachment:
        response["Content-Disposition"] = content_disposition_header(as_attachment, filename) or "inline"
    return response


THUMBNAIL_FIELDS = {"small": "thumbnail_small", "large": "thumbnail_large"}


def original_response(request: HttpRequest, asset: Asset, *, download: bool) -> HttpResponse:
    """The original, byte for byte; its ETag is its SHA-256."""
    return file_response(
        request,
        name=asset.file.name,
        content_type=asset.mime_type,
        etag=asset.sha256,
        filename=asset.original_filename,
        as_attachment=download,
    )


def thumbnail_response(request: HttpRequest, asset: Asset, size: str) -> HttpResponse:
    """A WebP thumbnail; Http404 for an unknown size or an asset without one."""
    field = THUMBNAIL_FIELDS.get(size)
    if field is None:
        raise Http404("No such thumbnail size: use small or large.")
    name = getattr(asset, field).name
    if not name:
        raise Http404("This asset has no thumbnail.")
    return file_response(
        request, name=name, content_type="image/webp", etag=f"{asset.sha256}-{size}",
        cache_control="private, max-age=86400",
    )


PROXY_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}


def proxy_response(request: HttpRequest, asset: Asset) -> HttpResponse:
    """The web-playable proxy of a video (media/video_proxy.py); Http404 when it has none."""
    name = asset.video_proxy.name
    if not name:
        raise Http404("This asset has no web-playable proxy: its original plays in browsers, or it is not made yet.")
    return file_response(
        request, name=name, content_type=PROXY_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream"),
        etag=f"{asset.sha256}-proxy", cache_control="private, max-age=86400",
    )
