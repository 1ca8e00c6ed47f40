"""Storage per image: the original against what the site derives from it (thumbnails, renditions).

    .venv/bin/python bench/storage.py --images 20 --size 4000x3000

Makes N distinct photo-like 12 MP JPEGs, uploads each through the real ``media.services.asset_create`` (which stores the
original and writes the small and large WebP thumbnails, ASSET_THUMBNAIL_SIZES), then makes typical
renditions through the real ``media.renditions.rendition_make`` and prints the stored bytes of each
kind, per image. Runs against a throw-away SQLite database and media folder in a temporary VAR_DIR.

The photos have the statistics of natural images rather than their content: a 1/f^1.1 amplitude
spectrum (natural photos fall off about as 1/f, which is why they compress as they do and look
equally detailed at every scale), colour channels mostly correlated, generated at half size and
scaled up as a phone's processing smooths, plus mild sensor noise; JPEG quality 90. A 12 MP one is
about 3.8 MB, as a phone's JPEG is (3-5 MB). Flat synthetic scenes compress to a tenth of that, with
thumbnails of a few KB, so they would understate everything.

Renditions are made only on request and cached (at most RENDITION_CACHE_PER_ASSET per asset), so
their share depends on use; the ones measured are a "download as" 1920-wide JPEG, a 1080×1080
cover crop, and the full-size WebP (4096 on the long side at most) the viewer asks for when the
browser cannot show the original (HEIC, TIFF).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RENDITIONS = {
    "1920 wide JPEG": {"width": "1920"},
    "1080x1080 cover JPEG": {"width": "1080", "height": "1080", "fit": "cover"},
    "full-size WebP (viewer, HEIC)": {"width": "4096", "format": "webp"},
}


def natural_photo(rng, width: int, height: int, *, slope: float = 2.2, noise: float = 1.5) -> bytes:  # type: ignore[no-untyped-def]
    """A JPEG with a natural image's power spectrum (1/f^slope), made at half size and scaled up."""
    import io

    import numpy as np
    from PIL import Image

    small_w, small_h = max(width // 2, 8), max(height // 2, 8)
    frequency = np.hypot(np.fft.rfftfreq(small_w)[None, :], np.fft.fftfreq(small_h)[:, None])
    frequency[0, 0] = 1.0
    amplitude = (1.0 / frequency ** (slope / 2)).astype(np.float32)

    def field():  # type: ignore[no-untyped-def]
        phase = np.exp(2j * np.pi * rng.random(amplitude.shape, dtype=np.float32))
        return np.fft.irfft2(amplitude * phase, s=(small_h, small_w)).astype(np.float32)

    shared = field()
    pixels = np.stack([0.8 * shared + 0.2 * field() for _ in range(3)], axis=-1)
    pixels = (pixels - pixels.mean()) / pixels.std() * 50 + 118
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (height, width, 3)).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size", default="4000x3000", help="photo size WxH (default 12 MP)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    width, height = (int(part) for part in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        os.environ["VAR_DIR"] = tmp
        os.environ["MEDIA_ROOT"] = str(Path(tmp) / "media")
        os.environ.pop("DATABASE_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.files.storage import default_storage
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.core.management import call_command

        from media.renditions import rendition_make, rendition_spec_parse
        from media.services import asset_create

        call_command("migrate", verbosity=0)
        owner = get_user_model().objects.create_user(username="bench-storage", password=None)
        sizes: dict[str, list[int]] = {"original": [], "thumbnail small": [], "thumbnail large": []}
        sizes.update({name: [] for name in RENDITIONS})
        rng = np.random.default_rng(12)
        for index in range(args.images):
            data = natural_photo(rng, width, height)
            asset = asset_create(owner=owner, file=SimpleUploadedFile(f"IMG_{index:04d}.jpg", data)).asset
            sizes["original"].append(default_storage.size(asset.file.name))
            sizes["thumbnail small"].append(default_storage.size(asset.thumbnail_small.name))
            sizes["thumbnail large"].append(default_storage.size(asset.thumbnail_large.name))
            for name, params in RENDITIONS.items():
                rendition = rendition_make(asset=asset, spec=rendition_spec_parse(params), focus=None)
                sizes[name].append(default_storage.size(rendition.name))
    original = statistics.mean(sizes["original"])
    print(f"{args.images} natural-statistics {width}x{height} JPEGs (quality 90), stored bytes per image:")
    print(f"{'':<32} {'mean KB':>9} {'min KB':>8} {'max KB':>8} {'of original':>12}")
    for name, values in sizes.items():
        mean = statistics.mean(values)
        print(f"{name:<32} {mean / 1024:>9,.0f} {min(values) / 1024:>8,.0f} {max(values) / 1024:>8,.0f}"
              f" {mean / original:>11.1%}")  # fmt: skip
    thumbnails = statistics.mean(sizes["thumbnail small"]) + statistics.mean(sizes["thumbnail large"])
    print(f"always stored (original + both thumbnails): {(original + thumbnails) / 1024:,.0f} KB per image,"
          f" thumbnails {thumbnails / original:.1%} of the original")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
