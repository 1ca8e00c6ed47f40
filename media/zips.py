"""Zip archives of originals, streamed: the response starts at once and memory stays at one chunk.

Python's zipfile writes to any object with ``write``; given one that cannot seek, it puts each entry's
sizes and CRC in a data descriptor after the data, so nothing has to be known (or held) in advance.
Entries are stored, not compressed: pictures and videos are compressed already, and the bytes in the
archive are the originals' bytes. Archives past 4 GB or 65,535 entries use ZIP64.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet, Sum
from django.utils import timezone

from media.models import Asset

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
_EARLIEST = (1980, 1, 1, 0, 0, 0)  # the zip format's first representable time


class ZipRefused(ValueError):
    """A zip that will not be made (too many originals or bytes, or none); the message says what to do."""


@dataclass(frozen=True)
class ZipPlan:
    count: int
    bytes: int


def zip_check(assets: QuerySet[Asset]) -> ZipPlan:
    """How many originals and bytes ``assets`` would put in a zip; ZipRefused past ZIP_MAX_ASSETS/_BYTES."""
    limit = settings.ZIP_MAX_ASSETS
    count = assets.order_by()[: limit + 1].count()
    if count > limit:
        raise ZipRefused(
            f"That is more than {limit:,} images; a zip download holds at most {limit:,}. Narrow the search "
            "or the selection, or download it in parts."
        )
    total = assets.order_by().aggregate(total=Sum("byte_size"))["total"] or 0
    if total > settings.ZIP_MAX_BYTES:
        raise ZipRefused(
            f"Those {count:,} originals are {total / 1e9:,.2f} GB; a zip download holds at most "
            f"{settings.ZIP_MAX_BYTES / 1e9:,.2f} GB. Narrow the search or the selection, or download it in parts."
        )
    if count == 0:
        raise ZipRefused("There is nothing to download: no images are selected or match.")
    return ZipPlan(count=count, bytes=total)


def entry_names(assets: Iterable[Asset]) -> Iterator[tuple[Asset, str]]:
    """Each asset with a unique name in the archive: its uploaded name, " (2)" and so on for repeats."""
    used: set[str] = set()
    for asset in assets:
        name = asset.original_filename.replace("/", "_").replace("\\", "_") or f"{asset.pk}"
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        candidate, number = name, 1
        while candidate.lower() in used:
            number += 1
            candidate = f"{stem} ({number}){dot}{extension}"
        used.add(candidate.lower())
        yield asset, candidate


class _Pipe:
    """A write-only file that hands what was written to the generator (zipfile cannot seek it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _date_time(moment: datetime | None) -> tuple[int, int, int, int, int, int]:
    if moment is None:
        return _EARLIEST
    local = timezone.localtime(moment)
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    return max(stamp, _EARLIEST)


def zip_stream(assets: Iterable[Asset]) -> Iterator[bytes]:
    """The zip of the assets' originals, chunk by chunk. A file gone from storage becomes a short note
    (``<name>.missing.txt``) rather than a broken archive: the response has already started."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for asset, name in entry_names(assets):
            try:
                source = default_storage.open(asset.file.name, "rb")
            except (FileNotFoundError, OSError) as error:
                logger.warning("zip: the original of %s is missing (%s)", asset.pk, error)
                archive.writestr(f"{name}.missing.txt", "This image's original file is missing from storage.\n")
                yield pipe.take()
                continue
            info = zipfile.ZipInfo(name, date_time=_date_time(asset.taken_at or asset.created_at))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = asset.byte_size  # decides ZIP64 for entries past 4 GB before any byte is written
            with source, archive.open(info, "w", force_zip64=asset.byte_size >= zipfile.ZIP64_LIMIT) as entry:
                while chunk := source.read(CHUNK):
                    entry.write(chunk)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()


def zip_filename(title: str) -> str:
    """A download name from a collection's name or a search: letters, digits, dashes; .zip."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title.strip())
    cleaned = "-".join(part for part in cleaned.split("-") if part)[:60]
    return f"{cleaned or 'images'}.zip"
