"""Storage access beyond open/save/delete: listing with ages, and presigned object-store URLs.

Product code never asks for a local path of a stored file (a FieldFile's path, the storage's path()
do not exist on object storage): files are opened with ``default_storage.open()`` and read as
streams; Pillow and FFmpeg (PyAV) both read Python file objects. tests/media/test_storage_io.py
fails on any ``.path`` of a stored file in the apps.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from assetsite.storage import is_object_storage


@dataclass(frozen=True)
class StoredFile:
    name: str
    modified: datetime | None  # aware; None when the store cannot say


def stored_files(prefix: str) -> Iterator[StoredFile]:
    """Every stored file under ``prefix`` (a folder), with its modification time.

    On object storage one paginated listing (1,000 keys a request, ages included); on a local disk a
    walk of the folders.
    """
    storage = default_storage
    if is_object_storage(storage):
        location = (storage.location or "").strip("/")
        root = f"{location}/" if location else ""
        for item in storage.bucket.objects.filter(Prefix=f"{root}{prefix.strip('/')}/"):
            yield StoredFile(item.key[len(root):], item.last_modified)
        return
    yield from _walk(prefix.strip("/"))


def _walk(folder: str) -> Iterator[StoredFile]:
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        path = f"{folder}/{name}"
        yield StoredFile(path, default_storage.get_modified_time(path))
    for sub in folders:
        yield from _walk(f"{folder}/{sub}")


@functools.lru_cache(maxsize=4)
def _signing_client(endpoint_url: str, access_key: str, secret_key: str, region: str, config: Any) -> Any:
    # Signing only: a presigned URL is computed locally, this client never connects.
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None, region_name=region or None, config=config,
    )


def presigned_url(name: str, *, content_type: str, filename: str = "", as_attachment: bool = False) -> str | None:
    """A presigned GET URL of the stored file ``name``, valid FILE_REDIRECT_LIFETIME seconds; None when
    the store is no object store (a local disk cannot hand out URLs of its own).

    The URL makes the store answer with ``content_type`` and the Content-Disposition the site would
    have sent. Whoever calls this must have checked access first: the URL opens the file for anyone.
    """
    from django.utils.http import content_disposition_header
    from storages.utils import clean_name

    storage = default_storage
    if not is_object_storage(storage):
        return None
    params: dict[str, str] = {
        "Bucket": storage.bucket_name,
        "Key": storage._normalize_name(clean_name(name)),
        "ResponseContentType": content_type,
    }
    if filename or as_attachment:
        params["ResponseContentDisposition"] = content_disposition_header(as_attachment, filename) or "inline"
    if settings.FILE_REDIRECT_ENDPOINT_URL:
        client = _signing_client(
            settings.FILE_REDIRECT_ENDPOINT_URL, storage.access_key or "", storage.secret_key or "",
            storage.region_name or "", storage.client_config,
        )
    else:
        client = storage.bucket.meta.client
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=settings.FILE_REDIRECT_LIFETIME)
