"""The camera's offset from UTC (EXIF OffsetTimeOriginal) is kept beside the taken time, so pages can
show the camera's local time; without one the time is read as UTC and the page says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from media.imaging import _parse_exif_time
from media.services import asset_create
from media.video import _taken_offset
from tests.images import exif_block, image_bytes, upload


@pytest.mark.parametrize(
    "offset, minutes, utc",
    [
        ("+02:00", 120, "2024-05-01T08:11:12+00:00"),
        ("-04:30", -270, "2024-05-01T14:41:12+00:00"),
        ("+00:00", 0, "2024-05-01T10:11:12+00:00"),
        ("+05:45\x00", 345, "2024-05-01T04:26:12+00:00"),
        (None, None, "2024-05-01T10:11:12+00:00"),
        ("", None, "2024-05-01T10:11:12+00:00"),
        ("+99:00", None, "2024-05-01T10:11:12+00:00"),  # no such zone: not believed
        ("02:00", None, "2024-05-01T10:11:12+00:00"),
    ],
)
def test_exif_offsets(offset, minutes, utc):
    taken, found = _parse_exif_time("2024:05:01 10:11:12", offset)
    assert found == minutes and taken.astimezone(UTC).isoformat() == utc


def test_an_upload_keeps_the_offset_and_shows_local_time(user):
    data = image_bytes("JPEG", exif=exif_block(taken="2024:05:01 23:30:00", taken_offset="+02:00"))
    asset = asset_create(owner=user, file=upload(data, "late.jpg")).asset
    asset.refresh_from_db()
    assert asset.taken_offset == 120 and asset.taken_zone == "+02:00"
    assert asset.taken_at == datetime(2024, 5, 1, 21, 30, tzinfo=UTC)
    assert asset.taken_local == datetime(2024, 5, 1, 23, 30)


def test_no_offset_is_none_and_reads_as_utc(user):
    data = image_bytes("JPEG", exif=exif_block(taken="2024:05:01 10:11:12"))
    asset = asset_create(owner=user, file=upload(data, "old.jpg")).asset
    assert asset.taken_offset is None and asset.taken_zone == "UTC"
    assert asset.taken_local == datetime(2024, 5, 1, 10, 11, 12)
    plain = asset_create(owner=user, file=upload(image_bytes("PNG"), "plain.png", "image/png")).asset
    assert plain.taken_at is None and plain.taken_offset is None and plain.taken_local is None


def test_a_phone_videos_creation_date_gives_the_offset():
    assert _taken_offset({"com.apple.quicktime.creationdate": "2024-05-01T10:11:12+0200"}) == 120
    assert _taken_offset({"com.apple.quicktime.creationdate": "2024-05-01T10:11:12-0700"}) == -420
    # creation_time is UTC by definition: it says nothing about the camera's zone.
    assert _taken_offset({"creation_time": "2024-05-01T08:11:12.000000Z"}) is None
    assert _taken_offset({"com.apple.quicktime.creationdate": "garbage"}) is None
