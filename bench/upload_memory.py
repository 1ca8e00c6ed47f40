"""Peak memory of one upload (asset_create) and of the worker's decode, for the worst legal images.

    .venv/bin/python bench/upload_memory.py                       # this checkout
    .venv/bin/python bench/upload_memory.py --code /path/to/old   # another checkout, for before/after
    .venv/bin/python bench/upload_memory.py --images png-rgb,jpeg --markdown

The worst legal image is as many pixels as ASSET_MAX_PIXELS allows (100 MP: 10000×10000) in each
format; a flat picture compresses to a few hundred KB, far under ASSET_MAX_BYTES, yet decodes to up to
400 MB. Each measurement runs in a fresh interpreter (SQLite and storage in a temporary VAR_DIR, the
code under test on PYTHONPATH): the figure is the process's peak RSS (VmHWM) after the call minus its
RSS just before it, i.e. what the upload itself added, and the wall time of the call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIDE = 10_000  # 100 MP, the default ASSET_MAX_PIXELS

IMAGES = {
    # name: (Pillow mode, format, save options, what it is)
    "png-rgb": ("RGB", "PNG", {"compress_level": 9}, "RGB PNG (the issue's 405 KB file)"),
    "png-rgba": ("RGBA", "PNG", {"compress_level": 9}, "RGBA PNG"),
    "png-grey16": ("I;16", "PNG", {"compress_level": 9}, "16-bit greyscale PNG"),
    "png-palette": ("P", "PNG", {"compress_level": 9}, "palette PNG"),
    "gif": ("P", "GIF", {}, "GIF"),
    "tiff": ("RGB", "TIFF", {"compression": "tiff_adobe_deflate"}, "deflate TIFF"),
    "webp": ("RGB", "WEBP", {"lossless": True, "quality": 0, "method": 0}, "lossless WebP"),
    "jpeg": ("RGB", "JPEG", {"quality": 85}, "JPEG"),
    "heic": ("RGB", "HEIF", {"quality": 50}, "HEIC (encoding it the first time takes about a minute)"),
}

CHILD = r"""
import io, json, sys, time
from pathlib import Path

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)

import django
django.setup()
from django.core.files import File
from django.contrib.auth import get_user_model
from media.services import asset_create
from media.imaging import open_upright_rgb
import media.models, PIL.Image  # noqa: imported before the baseline
mode, path = sys.argv[1], sys.argv[2]
user, _ = get_user_model().objects.get_or_create(username="bench")
data = Path(path).read_bytes()
media.models.Asset.objects.filter(owner=user).delete()
before = status("VmRSS")
started = time.perf_counter()
if mode == "upload":
    result = asset_create(owner=user, file=File(io.BytesIO(data), name=Path(path).name))
    outcome = f"{result.asset.width}x{result.asset.height}"
else:  # what the worker decodes for the default CPU model (at least 800 px on the short side)
    image = open_upright_rgb(io.BytesIO(data), target_size=(800, 800))
    outcome = f"{image.width}x{image.height}"
seconds = time.perf_counter() - started
print(json.dumps({"added": status("VmHWM") - before, "baseline": before, "seconds": seconds, "outcome": outcome}))
"""


def make_image(name: str, directory: Path) -> Path:
    from PIL import Image, ImageDraw
    from pillow_heif import register_heif_opener

    register_heif_opener()

    mode, fmt, options, _ = IMAGES[name]
    path = directory / f"{name}.{fmt.lower()}"
    if path.exists():
        return path
    base = Image.new("RGB", (SIDE, SIDE), (40, 120, 200))
    draw = ImageDraw.Draw(base)
    draw.rectangle((1000, 1000, 4000, 4000), fill=(230, 200, 30))
    draw.ellipse((5000, 5000, 9000, 9000), fill=(200, 30, 60))
    if mode == "RGBA":
        image = base.convert("RGBA")
    elif mode == "I;16":
        image = base.convert("L").convert("I").point(lambda value: value * 256).convert("I;16")
    elif mode == "P":
        image = base.quantize(8)
    else:
        image = base
    partial = path.with_suffix(".partial")
    image.save(partial, fmt, **options)
    partial.rename(path)
    return path


def measure(code: Path, var_dir: Path, mode: str, path: Path) -> dict[str, float]:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ASSET_"))},
        "PYTHONPATH": str(code),
        "DJANGO_SETTINGS_MODULE": "assetsite.settings",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "REDIS_URL": "",
        "DEBUG": "1",
    }
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], cwd=code, env=env, capture_output=True,
                            text=True, timeout=900)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose code is measured (default: this one)")
    parser.add_argument("--images", default=",".join(IMAGES), help=f"comma-separated, from {', '.join(IMAGES)}")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "assetsite-upload-memory",
                        help="where the generated images are kept between runs")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.images.split(",") if name.strip()]
    unknown = [name for name in names if name not in IMAGES]
    if unknown:
        parser.error(f"unknown image(s): {', '.join(unknown)}")
    args.cache.mkdir(parents=True, exist_ok=True)
    code = args.code.resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="assetsite-upload-memory-") as tmp:
        var_dir = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(code), "VAR_DIR": str(var_dir), "REDIS_URL": "",
               "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}", "CELERY_BROKER_URL": "filesystem://"}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=code, env=env, check=True,
                       capture_output=True, timeout=600)
        for name in names:
            path = make_image(name, args.cache)
            upload = measure(code, var_dir, "upload", path)
            worker = measure(code, var_dir, "worker", path)
            rows.append((name, IMAGES[name][3], path.stat().st_size, upload, worker))

    def cell(result: dict[str, float]) -> list[str]:
        if "error" in result:
            return [f"error: {result['error'][:60]}", ""]
        return [f"{result['added'] / 2**20:,.0f} MB", f"{result['seconds']:.2f} s"]

    header = ["image (10000×10000)", "file", "upload: peak RSS added", "upload: time", "worker decode: peak added",
              "worker decode: time"]
    table = [[f"{name}: {label}", f"{size / 1024:,.0f} KB", *cell(upload), *cell(worker)]
             for name, label, size, upload, worker in rows]
    print(f"code: {code}")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
        for row in [header, *table]:
            print("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
