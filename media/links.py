"""The URLs an asset's files are fetched from, as the API and webhooks hand them out.

Every URL answers an API token or the browser session of the owner; the signed variants answer
anyone holding them until they expire (see media.signing).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse

from media import signing
from media.models import Asset

FILES = ("original", "thumbnail_small", "thumbnail_large")


def asset_file_paths(asset: Asset) -> dict[str, str]:
    """Paths (no host) of the asset's files in the API."""
    return {
        "original": reverse("api:asset-original", args=[asset.pk]),
        "thumbnail_small": reverse("api:asset-thumbnail", args=[asset.pk, "small"]),
        "thumbnail_large": reverse("api:asset-thumbnail", args=[asset.pk, "large"]),
    }


def signed_file_paths(asset: Asset, *, lifetime: int | None = None) -> dict[str, str]:
    """The same paths, signed, with ``expires_at`` (ISO 8601) when they stop working."""
    signed: dict[str, str] = {}
    expires = 0
    for name, path in asset_file_paths(asset).items():
        signed[name], expires = signing.sign(path, lifetime=lifetime)
    signed["expires_at"] = datetime.fromtimestamp(expires, UTC).isoformat()
    return signed


def site_url(path: str) -> str:
    """``path`` on the site's public address (SITE_URL), for messages sent without a request (webhooks)."""
    return settings.SITE_URL.rstrip("/") + path if settings.SITE_URL else path
