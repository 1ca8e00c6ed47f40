"""Signed file URLs: short-lived links for places that cannot send a token (an <img> on another site,
an email, a webhook receiver).

A signature is an HMAC of the URL's path, every other query parameter and the expiry time, keyed by
SECRET_KEY: it opens exactly one file (or one rendition) of one asset until it expires. Changing any
part of the URL breaks it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlencode

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "assetsite.media.signing"
PARAMS = ("expires", "signature")


class SignatureInvalid(Exception):
    """The link was changed, cut short or has expired; the message says which and what to do."""


def _canonical(path: str, params: Mapping[str, str], expires: int) -> str:
    others = sorted((key, value) for key, value in params.items() if key not in PARAMS)
    return f"{path}\n{urlencode(others)}\n{expires}"


def _signature(path: str, params: Mapping[str, str], expires: int) -> str:
    return salted_hmac(SALT, _canonical(path, params, expires), algorithm="sha256").hexdigest()


def sign(path: str, params: Mapping[str, str] | None = None, *, lifetime: int | None = None,
         now: float | None = None) -> tuple[str, int]:
    """``path`` with ``params`` and a signature valid for ``lifetime`` seconds; and the expiry (Unix time)."""
    params = dict(params or {})
    expires = int(now if now is not None else time.time()) + (lifetime or settings.FILE_URL_LIFETIME)
    query = {**params, "expires": str(expires), "signature": _signature(path, params, expires)}
    return f"{path}?{urlencode(query)}", expires


def is_signed(params: Mapping[str, str]) -> bool:
    return "signature" in params or "expires" in params


def verify(path: str, params: Mapping[str, str], *, now: float | None = None) -> None:
    """Raise SignatureInvalid unless ``params`` carry a valid, unexpired signature for ``path``."""
    signature = params.get("signature", "")
    raw_expires = params.get("expires", "")
    if not signature or not raw_expires.isdigit():
        raise SignatureInvalid(
            "This link is incomplete: it needs both expires and signature. Ask the API for a new signed URL."
        )
    expires = int(raw_expires)
    if not constant_time_compare(signature, _signature(path, params, expires)):
        raise SignatureInvalid(
            "This link's signature does not match: the URL was changed or cut short. Use the URL exactly as "
            "the API gave it, or ask for a new one."
        )
    if expires < (now if now is not None else time.time()):
        raise SignatureInvalid("This link has expired. Ask the API for a new signed URL (GET ...?signed=1).")
