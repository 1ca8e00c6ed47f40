"""The file store as a dependency: which errors mean "the store is not answering", and its health check.

With object storage (django-storages' S3 backend) an unreachable endpoint, a wrong bucket or refused
credentials surface as botocore errors; with a local disk as OSError (full, read-only, unmounted).
Either way the request was fine and will work once the store is back: uploads answer 503 with
Retry-After (media.services.asset_create), and so does anything else that hits an unreachable object
store (assetsite.api_errors.server_error).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.files.storage import default_storage


def _botocore_errors() -> tuple[type[BaseException], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # the s3 extra is not installed: only local storage is possible
        return ()
    return (BotoCoreError, ClientError)


OBJECT_STORE_ERRORS = _botocore_errors()
# What a write to the store can raise when the store, not the file, is the problem.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, *OBJECT_STORE_ERRORS)

STORAGE_UNAVAILABLE = (
    "The file store is not answering right now (it may be restarting or misconfigured). Nothing was "
    "stored; send the request again in a moment."
)


def is_storage_unavailable(error: BaseException) -> bool:
    """True for an error of the object store itself; False for a key that is simply not there.

    Local OSErrors are left out: too many of them (Pillow's, say) are no outage."""
    if not OBJECT_STORE_ERRORS or not isinstance(error, OBJECT_STORE_ERRORS):
        return False
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore ClientError: a missing key is not an outage
        code = str(response.get("Error", {}).get("Code", ""))
        return code not in ("404", "NoSuchKey")
    return True


def is_object_storage(storage: Any = None) -> bool:
    storage = storage if storage is not None else default_storage
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def storage_check() -> dict[str, Any]:
    """One round trip to the store (HeadBucket, or a look at the media folder); raises when it fails."""
    storage = default_storage
    backend = f"{type(storage._wrapped if hasattr(storage, '_wrapped') else storage).__module__}"
    if is_object_storage(storage):
        client = _health_client(storage)
        client.head_bucket(Bucket=storage.bucket_name)
        return {"backend": "s3", "bucket": storage.bucket_name, "endpoint": client.meta.endpoint_url}
    location = getattr(storage, "location", None)
    if location is not None:
        os.makedirs(location, exist_ok=True)  # as the first save would; fails where it cannot be made
        if not os.access(location, os.W_OK):
            raise PermissionError(f"the media folder {location} is not writable")
        return {"backend": "filesystem", "location": str(location)}
    return {"backend": backend}


def _health_client(storage: Any) -> Any:
    """The storage's own client settings, but one attempt with short timeouts: /health/ must answer fast
    even when the endpoint swallows packets (uploads get the configured retries)."""
    from botocore.config import Config

    quick = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 1, "mode": "standard"})
    config = storage.client_config.merge(quick) if storage.client_config is not None else quick
    return storage._create_session().client(
        "s3", region_name=storage.region_name, use_ssl=storage.use_ssl, endpoint_url=storage.endpoint_url,
        config=config, verify=storage.verify,
    )
