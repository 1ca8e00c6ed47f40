"""Renditions: contain keeps the aspect, cover fills the size around a named or the main object, the
source is the upright original, the result is cached and carries no metadata; every bad parameter is
a 400 naming it and writes nothing; another user's asset is a 404."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from library.api import RenditionMissThrottle
from media import renditions
from media.services import asset_create
from review.services import detection_add_manual
from tagging.boxes import Box
from tests.conftest import stored_files
from tests.images import exif_block, image_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]

RED, BLUE, WHITE = (220, 20, 20), (20, 40, 220), (255, 255, 255)


@pytest.fixture
def scene(user):
    """400×200, white, a red ball at (300, 60)-(360, 120) and a blue cup at (20, 20)-(60, 60), both boxed."""
    image = Image.new("RGB", (400, 200), WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 60, 359, 119), fill=RED)
    draw.rectangle((20, 20, 59, 59), fill=BLUE)
    asset = asset_create(owner=user, file=upload(image_bytes("PNG", image=image), "scene.png", "image/png")).asset
    detection_add_manual(asset=asset, label="ball", box=Box(300, 60, 60, 60))
    detection_add_manual(asset=asset, label="cup", box=Box(20, 20, 40, 40))
    return asset


def fetch(client, asset, **params) -> tuple[object, Image.Image | None]:
    response = client.get(f"/api/assets/{asset.pk}/rendition/?{urlencode(params)}")
    if response.status_code != 200:
        return response, None
    data = b"".join(response.streaming_content)
    return response, Image.open(io.BytesIO(data))


def colour_at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel((x, y))


def near(colour, expected, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def test_contain_keeps_the_aspect_ratio(api_client, scene):
    response, image = fetch(api_client, scene, width=100)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert image.size == (100, 50)
    _, boxed = fetch(api_client, scene, width=100, height=100, format="png")
    assert boxed.size == (100, 50) and boxed.format == "PNG"
    _, tall = fetch(api_client, scene, height=20, format="webp")
    assert tall.size == (40, 20) and tall.format == "WEBP"


def test_cover_centres_on_the_named_object(api_client, scene):
    _, ball = fetch(api_client, scene, width=100, height=100, fit="cover", focus="ball", format="png")
    assert ball.size == (100, 100)
    # The crop is the right half (200..400): the ball lands at (50..80, 30..60), the cup is cut off.
    assert near(colour_at(ball, 65, 45), RED) and near(colour_at(ball, 10, 10), WHITE)
    response, cup = fetch(api_client, scene, width=100, height=100, fit="cover", focus="cup", format="png")
    assert near(colour_at(cup, 20, 20), BLUE) and near(colour_at(cup, 95, 50), WHITE)
    assert response["X-Rendition-Focus"].startswith("cup 1.00")


def test_cover_auto_takes_the_largest_object_else_the_centre(api_client, scene, user):
    response, auto = fetch(api_client, scene, width=100, height=100, fit="cover", format="png")
    assert near(colour_at(auto, 65, 45), RED) and response["X-Rendition-Focus"].startswith("ball")
    plain = asset_create(owner=user, file=upload(image_bytes("PNG", size=(300, 100), color=WHITE), "p.png")).asset
    response, centre = fetch(api_client, plain, width=50, height=50, fit="cover")
    assert centre.size == (50, 50) and response["X-Rendition-Focus"] == "centre"
    # A label the picture does not have falls back to the centre and says so.
    missing, _ = fetch(api_client, scene, width=100, height=100, fit="cover", focus="giraffe")
    assert missing.status_code == 200 and missing["X-Rendition-Focus"] == "centre"


def test_a_plural_or_synonym_names_the_same_label(api_client, scene):
    response, _ = fetch(api_client, scene, width=100, height=100, fit="cover", focus="balls")
    assert response["X-Rendition-Focus"].startswith("ball")


def test_the_source_is_the_upright_original_without_metadata(api_client, user):
    # Stored 100 wide × 200 high, shown turned a quarter (EXIF 6): upright it is 200 × 100.
    stored = Image.new("RGB", (100, 200), WHITE)
    ImageDraw.Draw(stored).rectangle((0, 0, 99, 49), fill=RED)  # the top of the stored picture
    data = image_bytes("JPEG", image=stored, exif=exif_block(orientation=6, gps=True, make="Canon"))
    asset = asset_create(owner=user, file=upload(data, "turned.jpg")).asset
    response, image = fetch(api_client, asset, width=200, format="png")
    assert image.size == (200, 100)
    assert near(colour_at(image, 190, 50), RED) and near(colour_at(image, 10, 50), WHITE)  # top went right
    _, jpeg = fetch(api_client, asset, width=100)
    assert dict(jpeg.getexif()) == {}  # no GPS, no camera, no orientation


def test_a_repeat_is_a_file_read(api_client, scene, settings, monkeypatch):
    first, _ = fetch(api_client, scene, width=80, height=80, fit="cover", focus="ball")
    assert first["X-Rendition-Cache"] == "miss"
    files = len(stored_files(settings.MEDIA_ROOT))

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(renditions, "_render", no_rendering)
    again, _ = fetch(api_client, scene, width=80, height=80, fit="cover", focus="ball")
    assert again.status_code == 200 and again["X-Rendition-Cache"] == "hit"
    assert again["ETag"] == first["ETag"]
    assert api_client.get(f"/api/assets/{scene.pk}/rendition/?width=80&height=80&fit=cover&focus=ball",
                          HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert len(stored_files(settings.MEDIA_ROOT)) == files


def test_a_moved_box_makes_a_new_rendition(api_client, scene):
    first, _ = fetch(api_client, scene, width=80, height=80, fit="cover", focus="cup")
    cup = scene.detections.get(label__name="cup")
    cup.x = 200
    cup.save()
    moved, _ = fetch(api_client, scene, width=80, height=80, fit="cover", focus="cup")
    assert moved["X-Rendition-Cache"] == "miss" and moved["ETag"] != first["ETag"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"width": "5000"}, "width"),
        ({"width": "-3"}, "width"),
        ({"height": "1e3"}, "height"),
        ({}, "width"),
        ({"width": "10", "fit": "stretch"}, "fit"),
        ({"width": "10", "fit": "cover"}, "height"),
        ({"width": "10", "format": "gif"}, "format"),
        ({"width": "10", "quality": "0"}, "quality"),
        ({"width": "10", "quality": "101"}, "quality"),
        ({"width": "10", "colour": "red"}, "colour"),
        ({"width": "10", "focus": "x" * 101}, "focus"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it_and_writes_nothing(api_client, scene, settings, params, parameter):
    before = stored_files(settings.MEDIA_ROOT)
    response = api_client.get(f"/api/assets/{scene.pk}/rendition/?{urlencode(params)}")
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter and parameter in response.json()["detail"]
    assert stored_files(settings.MEDIA_ROOT) == before


def test_another_users_asset_is_404_and_anonymous_401(other_api_client, scene):
    assert other_api_client.get(f"/api/assets/{scene.pk}/rendition/?width=10").status_code == 404
    assert APIClient().get(f"/api/assets/{scene.pk}/rendition/?width=10").status_code == 401


def test_a_signed_rendition_url_opens_that_rendition_only(api_client, scene):
    made = api_client.post(
        f"/api/assets/{scene.pk}/signed-urls/",
        {"file": "rendition", "rendition": {"width": "60", "height": "60", "fit": "cover", "focus": "ball"}},
        format="json",
    )
    assert made.status_code == 201
    anonymous = Client()
    response = anonymous.get(made.json()["url"])
    assert response.status_code == 200 and response["X-Rendition-Focus"].startswith("ball")
    parts = urlsplit(made.json()["url"])
    params = dict(parse_qsl(parts.query))
    params["width"] = "600"
    assert anonymous.get(f"{parts.path}?{urlencode(params)}").status_code == 403
    bad = api_client.post(f"/api/assets/{scene.pk}/signed-urls/", {"file": "rendition", "rendition": {"width": "0"}},
                          format="json")
    assert bad.status_code == 400 and bad.json()["parameter"] == "width"


def test_uncached_renditions_have_a_budget(api_client, scene, monkeypatch):
    monkeypatch.setattr(RenditionMissThrottle, "rate", "2/min", raising=False)
    for width in (10, 11):
        assert fetch(api_client, scene, width=width)[0].status_code == 200
    refused, _ = fetch(api_client, scene, width=12)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert fetch(api_client, scene, width=10)[0].status_code == 200  # cached: no cost


def test_each_asset_keeps_a_bounded_number_and_deleting_removes_them(
    api_client, scene, settings, django_capture_on_commit_callbacks
):
    settings.RENDITION_CACHE_PER_ASSET = 2
    for width in (10, 11, 12):
        fetch(api_client, scene, width=width)
    folder = settings.MEDIA_ROOT / renditions.rendition_folder(scene.id)
    assert len(list(folder.iterdir())) == 2
    assert api_client.delete(f"/api/assets/{scene.pk}/").status_code == 204  # to the trash: kept
    assert len(list(folder.iterdir())) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/trash/{scene.pk}/").status_code == 204  # for good
    assert not folder.exists() or list(folder.iterdir()) == []


def test_asset_urls_name_the_rendition_endpoint(api_client, scene):
    urls = api_client.get(f"/api/assets/{scene.pk}/").json()["urls"]
    assert urls["rendition"].endswith(f"/api/assets/{scene.pk}/rendition/")


def test_renditions_and_crops_wait_for_the_machines_decode_slots(api_client, scene, settings, tmp_path):
    """They decode originals in the web process, so they count against the same limits as uploads."""
    import fcntl

    settings.ASSET_DECODE_LOCK_DIR = tmp_path
    settings.ASSET_HEAVY_DECODE_SLOTS = 1
    settings.ASSET_HEAVY_DECODE_PIXELS = 1000  # the 400×200 scene counts as heavy here
    settings.ASSET_DECODE_WAIT = 0.2
    ball = scene.detections.get(label__name="ball")
    with open(tmp_path / "decode-slot-0.lock", "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy, _ = fetch(api_client, scene, width=77)
        assert busy.status_code == 503 and busy.json()["code"] == "server_busy" and busy["Retry-After"]
        crop = api_client.get(f"/api/detections/{ball.pk}/crop/")
        assert crop.status_code == 503 and crop.json()["code"] == "server_busy"
    assert fetch(api_client, scene, width=77)[0].status_code == 200
    assert api_client.get(f"/api/detections/{ball.pk}/crop/").status_code == 200
