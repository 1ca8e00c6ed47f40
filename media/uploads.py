"""Stop oversized uploads while they stream in, before they fill the disk.

Images and videos have different limits (ASSET_MAX_BYTES, VIDEO_MAX_BYTES). The handler cannot wait
for the whole file to know which it is, so it sniffs the first bytes as they arrive: a file that
starts like an MP4/MOV/WebM/MKV container may grow to the video limit, anything else is cut off at
the image limit. A file that only pretends to be a video this way gains nothing: asset_create checks
the limit again with the same sniffing and then fully probes the container, refusing what is not a
readable video.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from media.video import is_video

# Enough leading bytes to tell a video container from anything else (an ftyp box or the EBML magic).
_SNIFF_BYTES = 16


def byte_limit(head: bytes) -> tuple[int, str]:
    """The size limit for a file starting with ``head``, and what it applies to ("videos"/"images")."""
    if is_video(head):
        return settings.VIDEO_MAX_BYTES, "videos"
    return settings.ASSET_MAX_BYTES, "images"


def limit_message(name: str, limit: int, applies_to: str) -> str:
    return f"{name} is larger than the upload limit of {limit / 1e6:,.1f} MB for {applies_to}."


def oversize_message(request: HttpRequest, name: str) -> str:
    """The refusal for a file the handler skipped, naming the limit that applied to it."""
    limit, applies_to = getattr(request, "oversize_limits", {}).get(name, (settings.ASSET_MAX_BYTES, "images"))
    return limit_message(name, limit, applies_to)


class SizeLimitedUploadHandler(FileUploadHandler):
    """Skips any file over its limit and records its name on ``request.oversize_uploads`` (and the
    limit that applied on ``request.oversize_limits``).

    It runs before Django's memory and temporary-file handlers, so a skipped file's partial
    temporary file is closed and deleted by Django.
    """

    def __init__(self, request=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(request)
        self.received = 0
        self.head = b""
        self.limit: tuple[int, str] | None = None
        if request is not None and not hasattr(request, "oversize_uploads"):
            request.oversize_uploads = []
            request.oversize_limits = {}

    def new_file(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().new_file(*args, **kwargs)
        self.received = 0
        self.head = b""
        self.limit = None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if self.limit is None:
            self.head += raw_data[: _SNIFF_BYTES - len(self.head)]
            if len(self.head) >= _SNIFF_BYTES:
                self.limit = byte_limit(self.head)
        self.received += len(raw_data)
        # Until the first bytes are in, only the larger limit can apply (a few bytes cannot exceed it).
        limit, applies_to = self.limit or max(byte_limit(b""), (settings.VIDEO_MAX_BYTES, "videos"))
        if self.received > limit:
            if self.request is not None:
                self.request.oversize_uploads.append(self.file_name or "")
                self.request.oversize_limits[self.file_name or ""] = (limit, applies_to)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
