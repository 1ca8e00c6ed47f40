"""bench/storage.py's photos must compress like phone photos, or its storage figures understate everything."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench.storage import natural_photo


def test_natural_photo_is_a_distinct_jpeg_of_the_size_asked() -> None:
    rng = np.random.default_rng(3)
    first, second = natural_photo(rng, 800, 600), natural_photo(rng, 800, 600)
    with Image.open(io.BytesIO(first)) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (800, 600), "RGB")
    assert first != second


def test_natural_photo_compresses_like_a_photo_not_a_flat_scene() -> None:
    # Phone JPEGs: 3-5 MB for 12 MP, i.e. about 2-3.5 bits per pixel. Flat synthetic scenes give ~0.3.
    data = natural_photo(np.random.default_rng(4), 1200, 900)
    bits_per_pixel = len(data) * 8 / (1200 * 900)
    assert 1.5 < bits_per_pixel < 5.0, bits_per_pixel
