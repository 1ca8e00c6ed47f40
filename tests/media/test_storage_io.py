"""Product code never needs a local path of a stored file: object storage has none (media/storage_io.py)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APPS = ("assetsite", "media", "albums", "tagging", "search", "review", "library", "integrations")
# storage.path(name), FieldFile.path (asset.file.path, asset.thumbnail_small.path, ...), .temporary_file_path()
# of a stored file: all need a local disk.
LOCAL_PATH = re.compile(
    r"\b(?:default_storage|storage|storages\[[^\]]+\])\.path\(|"
    r"\.(?:file|thumbnail_small|thumbnail_large|poster|original)\.path\b"
)


def test_the_pattern_catches_local_paths() -> None:
    for line in ("default_storage.path(name)", "open(asset.file.path)", "x = asset.thumbnail_small.path",
                 "storages['default'].path(n)"):
        assert LOCAL_PATH.search(line), line
    for line in ("request.path", "os.path.join(a)", "urlparse(url).path", "Path(x)"):
        assert not LOCAL_PATH.search(line), line


def test_no_app_asks_for_a_local_path_of_a_stored_file() -> None:
    offenders = []
    for app in APPS:
        for module in sorted((REPO / app).rglob("*.py")):
            for number, line in enumerate(module.read_text().splitlines(), start=1):
                if LOCAL_PATH.search(line):
                    offenders.append(f"{module.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "stream with default_storage.open() instead:\n" + "\n".join(offenders)
