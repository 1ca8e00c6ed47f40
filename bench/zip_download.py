"""Memory and speed of a zip download: POST /api/assets/download/ through the real view, streamed.

    .venv/bin/python bench/zip_download.py                 # 20 originals of 20 MB (a 400 MB archive)
    .venv/bin/python bench/zip_download.py --count 50 --mb 8

Runs in a fresh temporary VAR_DIR (SQLite, local storage). The originals are real uploads whose stored
files are then replaced with incompressible bytes of the asked size (the zip copies whatever the file
holds). Prints the archive's size, the time to read the whole response, and what the download added to
the process's peak memory (VmHWM after minus VmRSS before): it should stay near one chunk, however
large the archive.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--mb", type=int, default=20)
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="bench-zip-")
    try:
        run(args, var_dir)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)  # the originals are hundreds of MB


def run(args: argparse.Namespace, var_dir: str) -> None:
    os.environ.update({"VAR_DIR": var_dir, "DATABASE_URL": f"sqlite:///{var_dir}/db.sqlite3", "DEBUG": "1",
                       "CELERY_BROKER_URL": "memory://", "ZIP_MAX_BYTES": str(10**12), "ALLOWED_HOSTS": "testserver"})
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import io

    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image
    from rest_framework.test import APIClient

    from media.models import Asset
    from media.services import asset_create

    user = get_user_model().objects.create_user("bench", password="x")
    size = args.mb * 1024 * 1024
    ids = []
    for n in range(args.count):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (n % 256, 40, 90)).save(buffer, "PNG")
        asset = asset_create(owner=user, file=SimpleUploadedFile(f"{n}.png", buffer.getvalue())).asset
        with open(asset.file.path, "wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1024 * 1024))
        Asset.objects.filter(pk=asset.pk).update(byte_size=size)
        ids.append(str(asset.pk))
    client = APIClient()
    client.force_authenticate(user)

    before = status("VmRSS")
    started = time.perf_counter()
    response = client.post("/api/assets/download/", {"ids": ids}, format="json")
    assert response.status_code == 200, response.status_code
    total = sum(len(piece) for piece in response.streaming_content)
    seconds = time.perf_counter() - started
    added = status("VmHWM") - before
    originals = args.count * size
    print(f"archive: {args.count} originals × {args.mb} MB = {originals / 1e6:,.0f} MB of originals, "
          f"{total / 1e6:,.1f} MB of zip ({total - originals:,} bytes of zip structure)")
    print(f"time: {seconds:.2f} s ({total / 1e6 / seconds:,.0f} MB/s, read from local disk into the void)")
    print(f"memory the download added to the process's peak: {added / 1e6:.1f} MB "
          f"({added / total:.2%} of the archive)")


if __name__ == "__main__":
    main()
