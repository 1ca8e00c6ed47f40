"""Stop oversized uploads while they stream in, before they fill the disk."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitedUploadHandler(FileUploadHandler):
    """Skips any file over ASSET_MAX_BYTES and records its name on ``request.oversize_uploads``.

    It runs before Django's memory and temporary-file handlers, so a skipped file's partial
    temporary file is closed and deleted by Django.
    """

    def __init__(self, request=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(request)
        self.received = 0
        if request is not None and not hasattr(request, "oversize_uploads"):
            request.oversize_uploads = []

    def new_file(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.ASSET_MAX_BYTES:
            if self.request is not None:
                self.request.oversize_uploads.append(self.file_name or "")
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
