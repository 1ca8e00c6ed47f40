"""Format names: a multi-picture JPEG (MPO) is a JPEG; no name Pillow reports can reach an unhandled lookup."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from media import imaging
from media.imaging import ACCEPTED_FORMATS, ImageRejected, accepted_format, open_and_verify, open_upright_rgb
from media.models import Asset
from tests.conftest import stored_files
from tests.images import exif_block, image_bytes, upload

ASSETS_URL = "/api/assets/"


def mpo_bytes(size: tuple[int, int] = (320, 240), *, exif: Image.Exif | None = None) -> bytes:
    """Two pictures, as a stereo camera writes them: red first, blue second."""
    first, second = Image.new("RGB", size, (220, 20, 20)), Image.new("RGB", size, (20, 20, 220))
    buffer = io.BytesIO()
    options = {"exif": exif.tobytes()} if exif is not None else {}
    first.save(buffer, "MPO", save_all=True, append_images=[second], **options)
    return buffer.getvalue()


def test_pillow_reads_the_sample_as_mpo():
    with Image.open(io.BytesIO(mpo_bytes())) as image:
        assert image.format == "MPO" and image.n_frames == 2


@pytest.mark.django_db
def test_an_mpo_upload_is_a_jpeg_kept_byte_for_byte(api_client, web_client, settings):
    data = mpo_bytes(exif=exif_block(orientation=6, make="FUJIFILM", model="FinePix REAL 3D W3"))
    response = api_client.post(ASSETS_URL, {"file": upload(data, "DSCF0001.MPO")}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["format"], body["mime_type"]) == ("JPEG", "image/jpeg")
    assert (body["width"], body["height"]) == (240, 320)  # upright: orientation 6
    assert body["camera"] == "FUJIFILM FinePix REAL 3D W3"
    asset = Asset.objects.get(pk=body["id"])
    assert asset.file.name.endswith(".jpg")
    assert (Path(settings.MEDIA_ROOT) / asset.file.name).read_bytes() == data
    assert b"".join(web_client.get(f"/assets/{asset.pk}/original/").streaming_content) == data
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_large.name) as thumb:
        red, _, blue = thumb.convert("RGB").getpixel((thumb.width // 2, thumb.height // 2))
    assert thumb.size == (240, 320) and red > 180 and blue < 60  # the first picture, upright
    assert len(stored_files(settings.MEDIA_ROOT)) == 3


def test_the_worker_decodes_the_first_picture_of_an_mpo_at_reduced_scale():
    image = open_upright_rgb(io.BytesIO(mpo_bytes((1600, 1200))), target_size=(400, 300))
    assert image.size == (400, 300)  # JPEG's 1/4 scale, as for any JPEG
    red, _, blue = image.getpixel((200, 150))
    assert red > 180 and blue < 60


@pytest.mark.parametrize("name", sorted(ACCEPTED_FORMATS))
def test_every_accepted_format_names_itself(name):
    assert accepted_format(name) == name


def test_every_other_name_pillow_knows_is_a_clear_refusal():
    Image.init()
    others = sorted({*Image.OPEN, *Image.SAVE, "", "MPO", "XYZ"} - set(ACCEPTED_FORMATS) - {"MPO"})
    assert len(others) > 20  # the whole plugin registry, not a hand-picked few
    for name in others:
        with pytest.raises(ImageRejected) as refused:
            accepted_format(name)
        assert refused.value.code == "unsupported_format" and "Upload a JPEG" in refused.value.message
    assert accepted_format("MPO") == "JPEG"


@pytest.mark.django_db
def test_a_format_name_the_site_does_not_know_is_a_415_not_a_500(api_client, monkeypatch):
    """Whatever a plugin (or a future Pillow) calls a file, the lookup is inside the error handling."""
    real_open = imaging.Image.open

    def renaming_open(*args, **kwargs):
        image = real_open(*args, **kwargs)
        image.format = "FANCYJPEG"
        return image

    monkeypatch.setattr(imaging.Image, "open", renaming_open)
    response = api_client.post(ASSETS_URL, {"file": upload(image_bytes("JPEG"), "a.jpg")}, format="multipart")
    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_format" and "FANCYJPEG" in response.json()["detail"]
    assert Asset.objects.count() == 0


def test_the_opener_list_holds_only_accepted_plugins():
    assert set(imaging._OPENERS) == set(ACCEPTED_FORMATS)
    with pytest.raises(ImageRejected) as refused:  # PPM: a format Pillow reads, not one of ours
        open_and_verify(io.BytesIO(b"P6\n4 4\n255\n" + b"\x80" * 48), max_pixels=10**6)
    assert refused.value.code == "unsupported_format"
