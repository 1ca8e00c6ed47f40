"""A stored original as a seekable local file, for readers (PyAV) that seek all over it.

Storage may be anything Django's storage API reaches (local disk, S3-compatible); nothing here asks
it for a path. When the storage's file object is an OS-level file (local disk) it is used as it is:
PyAV reads it through Python calls, seeking as it likes. Otherwise (a remote object) it is copied in
1 MiB chunks to a temporary file under ``VAR_DIR/tmp`` first, never held whole in memory, and the copy
is deleted when the ``with`` block ends, even on errors.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.storage import Storage, default_storage

CHUNK = 1024 * 1024


def _local_handle(handle: object) -> IO[bytes] | None:
    """The OS file behind a storage file object, when there is one."""
    inner = getattr(handle, "file", handle)
    try:
        inner.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return inner if inner.seekable() else None  # type: ignore[attr-defined,return-value]


@contextmanager
def stored_file_seekable(name: str, *, storage: Storage | None = None) -> Iterator[IO[bytes]]:
    """Open the stored file ``name`` for reading as a seekable binary file (see the module's note).

    Raises FileNotFoundError when storage does not have it.
    """
    storage = storage or default_storage
    with storage.open(name, "rb") as handle:
        local = _local_handle(handle)
        if local is not None:
            local.seek(0)
            yield local
            return
        directory = Path(settings.VAR_DIR) / "tmp"
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix="stored-", suffix=".tmp") as copy:
            while chunk := handle.read(CHUNK):
                copy.write(chunk)
            copy.flush()
            copy.seek(0)
            yield copy
