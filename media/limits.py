"""How much decoding a process may do at once, from the settings (README: ASSET_DECODE_*).

Every decode of an upload goes through these limits: the upload itself, renditions and crops.
"""

from __future__ import annotations

from django.conf import settings

from media.decoding import DecodeLimits


def decode_limits() -> DecodeLimits:
    """The decode budget and machine-wide slots from the settings."""
    return DecodeLimits(
        pixel_budget=settings.ASSET_DECODE_PIXEL_BUDGET,
        heavy_pixels=settings.ASSET_HEAVY_DECODE_PIXELS,
        heavy_slots=settings.ASSET_HEAVY_DECODE_SLOTS,
        lock_dir=settings.ASSET_DECODE_LOCK_DIR,
        wait_seconds=settings.ASSET_DECODE_WAIT,
    )
