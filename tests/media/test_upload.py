"""Uploads through the API and the web form: accepted formats, refusals, dedupe, EXIF handling."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from media.models import Asset
from tests.conftest import stored_files
from tests.images import (
    EXTENSIONS,
    animated_gif,
    exif_block,
    image_bytes,
    png_bomb,
    two_colour_image,
    upload,
)

pytestmark = pytest.mark.django_db

ASSETS_URL = "/api/assets/"


def post_file(client, data: bytes, name: str, content_type: str = "application/octet-stream"):
    return client.post(ASSETS_URL, {"file": upload(data, name, content_type)}, format="multipart")


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("TIFF", "image/tiff"),
        ("HEIF", "image/heif"),
    ],
)
def test_each_accepted_format_is_stored_with_metadata(api_client, user, settings, fmt, mime):
    data = image_bytes(fmt, size=(80, 50))
    # A misleading name and Content-Type: the content decides.
    response = post_file(api_client, data, "picture.txt", "text/plain")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert (body["format"], body["mime_type"], body["width"], body["height"]) == (fmt, mime, 80, 50)
    asset = Asset.objects.get(pk=body["id"])
    assert asset.owner == user
    assert asset.byte_size == len(data)
    assert asset.file.name.endswith("." + EXTENSIONS[fmt])
    assert "picture" not in asset.file.name
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_small.name) as thumb:
        assert thumb.format == "WEBP"
    assert len(stored_files(settings.MEDIA_ROOT)) == 3  # original + two thumbnails


def test_gif_first_frame_is_the_one_analysed(api_client, settings):
    response = post_file(api_client, animated_gif([(0, 200, 0), (200, 0, 0)]), "anim.gif")
    assert response.status_code == 201
    asset = Asset.objects.get(pk=response.json()["id"])
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_small.name) as thumb:
        red, green, blue = thumb.convert("RGB").getpixel((16, 16))
    assert green > 150 and red < 60


def _zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


REFUSALS = [
    ("svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     415, "SVG"),
    ("html", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", 415, "HTML"),
    ("pdf", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", 415, "PDF"),
    ("bmp", image_bytes("BMP"), 415, "BMP"),
    ("zip", _zip_bytes(), 415, "ZIP"),
    ("elf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, 415, "executable"),
    ("exe", b"MZ\x90\x00" + b"\x00" * 200, 415, "executable"),
    ("text", b"just some words, not a picture at all", 415, "not a JPEG, PNG"),
    ("truncated_jpeg", image_bytes("JPEG", size=(200, 200), color="white")[:300], 400, "corrupt or truncated"),
    ("truncated_png", image_bytes("PNG", size=(200, 200), mode="RGB", color=(1, 2, 3))[:120], 400, "corrupt"),
    ("garbage_after_magic", b"\x89PNG\r\n\x1a\n" + b"\x13" * 500, 400, "corrupt"),
    ("empty", b"", 400, "empty"),
    ("png_bomb", png_bomb(), 413, "pixels"),
]


@pytest.mark.parametrize(("kind", "data", "status", "phrase"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_clear_and_leave_nothing(api_client, settings, kind, data, status, phrase):
    response = post_file(api_client, data, f"upload.{kind}.jpg", "image/jpeg")

    assert response.status_code == status, response.content
    body = response.json()
    assert phrase.lower() in body["detail"].lower()
    assert body["code"]
    assert Asset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_png_bomb_is_tiny_but_refused_before_decoding():
    assert len(png_bomb()) < 2000


def test_pixel_limit_is_configurable(api_client, settings):
    settings.ASSET_MAX_PIXELS = 1000
    response = post_file(api_client, image_bytes("PNG", size=(40, 40)), "big.png")
    assert response.status_code == 413
    assert "megapixels" in response.json()["detail"]
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_oversize_file_is_stopped_while_streaming(api_client, settings):
    settings.ASSET_MAX_BYTES = 2000
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    data = image_bytes("PNG", image=noisy)
    assert len(data) > 2000
    response = post_file(api_client, data, "huge.png")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert response.json()["code"] == "file_too_large"
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize("name", ["../../../../etc/passwd.jpg", "..\\..\\windows\\evil.jpg", "/abs/path/x.jpg",
                                  "a\x00b\x1f.jpg", "ü" * 300 + ".jpg"])
def test_filenames_never_become_paths(api_client, settings, tmp_path, name):
    response = post_file(api_client, image_bytes("JPEG"), name)
    assert response.status_code == 201
    asset = Asset.objects.get(pk=response.json()["id"])
    assert "/" not in asset.original_filename and "\\" not in asset.original_filename
    assert "\x00" not in asset.original_filename and len(asset.original_filename) <= 200
    media_root = Path(settings.MEDIA_ROOT).resolve()
    for stored in stored_files(tmp_path):
        assert stored.resolve().is_relative_to(media_root)
    assert asset.file.name.startswith("originals/")


def test_same_content_twice_returns_the_existing_asset(api_client, other_api_client, settings):
    data = image_bytes("PNG", color=(9, 99, 199))
    first = post_file(api_client, data, "one.png")
    second = post_file(api_client, data, "two.png")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Asset.objects.count() == 1
    assert len(stored_files(settings.MEDIA_ROOT)) == 3
    # Another user uploading the same bytes gets an asset of their own.
    third = post_file(other_api_client, data, "three.png")
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]


def test_exif_orientation_gives_upright_size_and_thumbnail(api_client, settings):
    # Stored landscape 60x40, left red / right blue; orientation 6 means "rotate 90° clockwise".
    data = image_bytes("JPEG", image=two_colour_image((60, 40)), exif=exif_block(orientation=6))
    response = post_file(api_client, data, "rotated.jpg")
    assert response.status_code == 201
    body = response.json()
    assert (body["width"], body["height"]) == (40, 60)
    asset = Asset.objects.get(pk=body["id"])
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_large.name) as thumb:
        rgb = thumb.convert("RGB")
        assert rgb.size == (40, 60)
        top, bottom = rgb.getpixel((20, 5)), rgb.getpixel((20, 55))
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60  # blue below


def test_exif_metadata_is_read(api_client):
    exif = exif_block(taken="2024:05:06 07:08:09", make="Canon", model="Canon EOS 80D")
    response = post_file(api_client, image_bytes("JPEG", exif=exif), "camera.jpg")
    body = response.json()
    assert body["taken_at"].startswith("2024-05-06T07:08:09")
    assert body["camera"] == "Canon EOS 80D"


@pytest.mark.parametrize(("strip", "expect_gps"), [(True, False), (False, True)])
def test_gps_in_derived_images_follows_the_setting(api_client, settings, strip, expect_gps):
    settings.ASSET_STRIP_GPS = strip
    data = image_bytes("JPEG", exif=exif_block(gps=True, make="Phone"))
    response = post_file(api_client, data, "gps.jpg")
    asset = Asset.objects.get(pk=response.json()["id"])
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_small.name) as thumb:
        has_gps = bool(thumb.getexif().get_ifd(0x8825))
    assert has_gps is expect_gps
    # The original is kept byte for byte.
    assert (Path(settings.MEDIA_ROOT) / asset.file.name).read_bytes() == data


def test_upload_form_takes_many_files_and_reports_each(web_client, settings):
    files = [
        upload(image_bytes("PNG", color=(1, 2, 3)), "a.png"),
        upload(image_bytes("JPEG", color=(200, 2, 3)), "b.jpg"),
        upload(b"%PDF-1.4 nope", "c.pdf", "application/pdf"),
    ]
    response = web_client.post(reverse("upload"), {"files": files})
    assert response.status_code == 200
    text = response.content.decode()
    assert "a.png" in text and "b.jpg" in text
    assert "c.pdf" in text and "PDF document" in text
    assert Asset.objects.count() == 2


def test_upload_form_with_only_refusals_is_a_4xx(web_client, settings):
    response = web_client.post(reverse("upload"), {"files": [upload(b"<svg></svg>", "x.svg")]})
    assert response.status_code == 415
    assert "SVG" in response.content.decode()
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_upload_api_without_file_explains(api_client):
    response = api_client.post(ASSETS_URL, {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["detail"]


def test_a_failed_database_write_leaves_no_files(api_client, settings, monkeypatch):
    from media import services

    def explode(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.Asset, "save", explode)
    with pytest.raises(RuntimeError):
        post_file(api_client, image_bytes("PNG"), "x.png")
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize(
    ("mode", "fmt", "color"),
    [("CMYK", "JPEG", (0, 200, 200, 0)), ("I;16", "PNG", 40000), ("LA", "PNG", (120, 200)),
     ("P", "PNG", 3), ("L", "TIFF", 90), ("RGBA", "WEBP", (10, 200, 30, 128)), ("1", "PNG", 1)],
)
def test_odd_but_valid_modes_are_accepted_with_thumbnails(api_client, settings, mode, fmt, color):
    image = Image.new(mode, (40, 30), color)
    if mode == "P":
        image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
        image.info["transparency"] = 0
    response = post_file(api_client, image_bytes(fmt, image=image), f"odd.{fmt.lower()}")
    assert response.status_code == 201, response.json()
    asset = Asset.objects.get(pk=response.json()["id"])
    with Image.open(Path(settings.MEDIA_ROOT) / asset.thumbnail_small.name) as thumb:
        assert thumb.size == (40, 30) and thumb.mode in ("RGB", "RGBA")
        if mode == "I;16":
            assert thumb.convert("L").getpixel((5, 5)) == 40000 // 256  # scaled, not clipped to white


def test_animation_over_the_frame_budget_is_refused(api_client, settings):
    settings.ASSET_MAX_FRAMES = 2
    response = post_file(api_client, animated_gif([(0, 200, 0), (200, 0, 0), (0, 0, 200)]), "long.gif")
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_frames" and "3 frames" in response.json()["detail"]
    settings.ASSET_MAX_FRAMES = 5000
    settings.ASSET_MAX_ANIMATION_PIXELS = 32 * 32 * 2
    response = post_file(api_client, animated_gif([(0, 200, 0), (200, 0, 0), (0, 0, 200)]), "big.gif")
    assert response.status_code == 413 and "megapixels over all frames" in response.json()["detail"]
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize("orientation", [1, 6])
def test_reduced_decode_keeps_at_least_the_requested_upright_size(orientation):
    from media.imaging import open_upright_rgb

    stored = (3000, 2000) if orientation == 1 else (2000, 3000)
    data = image_bytes("JPEG", size=stored, exif=exif_block(orientation=orientation))
    image = open_upright_rgb(io.BytesIO(data), target_size=(1200, 800))
    assert image.size == (1500, 1000)  # JPEG's 1/2 scale: the smallest that still covers 1200×800


def test_thumbnails_of_a_large_photo_are_bounded_and_faithful(api_client, settings):
    # 2400×1600, left red / right blue: each thumbnail keeps the aspect ratio and the two halves.
    data = image_bytes("JPEG", image=two_colour_image((2400, 1600)))
    body = post_file(api_client, data, "big.jpg").json()
    asset = Asset.objects.get(pk=body["id"])
    for field, size in (("thumbnail_large", (1024, 683)), ("thumbnail_small", (256, 171))):
        with Image.open(Path(settings.MEDIA_ROOT) / getattr(asset, field).name) as thumb:
            assert thumb.format == "WEBP" and thumb.size == size, field
            rgb = thumb.convert("RGB")
            left, right = rgb.getpixel((size[0] // 4, size[1] // 2)), rgb.getpixel((size[0] * 3 // 4, size[1] // 2))
        assert left[0] > 200 and left[2] < 60 and right[2] > 200 and right[0] < 60, field


def test_upload_answer_is_the_asset_as_read_back_without_querying_its_empty_relations(api_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = post_file(api_client, image_bytes("PNG", color=(1, 2, 3)), "new.png")
    assert response.status_code == 201
    # A row inserted by this request has no detections, tags or runs to read.
    assert not [query["sql"] for query in queries if 'FROM "tagging_' in query["sql"]]
    uploaded = response.json()
    assert uploaded.pop("restored_from_trash") is False  # only the upload's answer says this
    assert api_client.get(f"{ASSETS_URL}{uploaded['id']}/").json() == uploaded


def test_an_overlong_file_name_is_refused_with_what_to_do_on_the_page_and_the_api(web_client, api_client):
    import urllib3

    name = "\u00fc" * 1000 + ".jpg"  # 2 KB of UTF-8 in the part's headers; Django allows 1 KB
    body, content_type = urllib3.encode_multipart_formdata({"files": (name, b"\xff\xd8\xff", "image/jpeg")})
    page = web_client.generic("POST", reverse("upload"), body, content_type=content_type)
    assert page.status_code == 400 and "Rename the file" in page.content.decode()
    body, content_type = urllib3.encode_multipart_formdata({"file": (name, b"\xff\xd8\xff", "image/jpeg")})
    response = api_client.generic("POST", ASSETS_URL, body, content_type=content_type)
    assert response.status_code == 400 and response.json()["code"] == "file_name_too_long"
    assert Asset.objects.count() == 0
