"""Video uploads through the API and the web form: accepted clips, limits per kind, hostile videos."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from PIL import Image

from media.models import Asset
from media.services import asset_create
from testkit.clips import encode, hostile_videos, three_shapes_clip
from tests.conftest import stored_files
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db

ASSETS_URL = "/api/assets/"


def post_file(client, data: bytes, name: str, content_type: str = "application/octet-stream"):
    return client.post(ASSETS_URL, {"file": upload(data, name, content_type)}, format="multipart")


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return encode(three_shapes_clip(), codec="h264")


@pytest.fixture(scope="module")
def webm() -> bytes:
    return encode(three_shapes_clip(), codec="vp9")


@pytest.mark.parametrize(
    ("clip", "fmt", "mime", "codec", "extension"),
    [("mp4", "MP4", "video/mp4", "h264", "mp4"), ("webm", "WEBM", "video/webm", "vp9", "webm")],
)
def test_videos_are_stored_with_their_facts_and_a_poster(
    api_client, web_client, user, settings, request, clip, fmt, mime, codec, extension
):
    data = request.getfixturevalue(clip)
    # A misleading name and Content-Type: the content decides.
    response = post_file(api_client, data, "holiday.jpg", "image/jpeg")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["format"], body["mime_type"], body["width"], body["height"]) == (fmt, mime, 480, 320)
    assert body["byte_size"] == len(data)
    asset = Asset.objects.get(pk=body["id"])
    assert (asset.kind, asset.video_codec, asset.is_video) == ("video", codec, True)
    assert asset.duration == pytest.approx(6.0, abs=0.05)
    assert asset.fps == pytest.approx(10.0)
    assert asset.file.name.endswith("." + extension) and "holiday" not in asset.file.name
    assert (Path(settings.MEDIA_ROOT) / asset.file.name).read_bytes() == data
    assert len(stored_files(settings.MEDIA_ROOT)) == 3  # original + two thumbnails
    for field, longest in (("thumbnail_small", 256), ("thumbnail_large", 1024)):
        with Image.open(Path(settings.MEDIA_ROOT) / getattr(asset, field).name) as thumb:
            assert thumb.format == "WEBP"
            assert max(thumb.size) <= longest
            # The poster is a real frame: the gradient background, not black.
            assert np.asarray(thumb.convert("L")).mean() > 120
    # The original is served as uploaded, with the video's MIME type.
    original = web_client.get(body["urls"]["original"])
    assert original.status_code == 200 and original["Content-Type"] == mime
    assert b"".join(original.streaming_content) == data


def test_images_still_get_kind_image(api_client):
    response = post_file(api_client, image_bytes("PNG", size=(40, 30)), "a.png")
    asset = Asset.objects.get(pk=response.json()["id"])
    assert (asset.kind, asset.duration, asset.fps, asset.video_codec) == ("image", None, None, "")


def test_rotated_phone_video_is_upright(api_client):
    data = encode(three_shapes_clip(duration=2.0), rotation=-90)
    body = post_file(api_client, data, "portrait.mov").json()
    assert (body["width"], body["height"]) == (320, 480)


def test_same_video_twice_is_one_asset(api_client, mp4, settings):
    first = post_file(api_client, mp4, "a.mp4")
    second = post_file(api_client, mp4, "b.mp4")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Asset.objects.count() == 1 and len(stored_files(settings.MEDIA_ROOT)) == 3


@pytest.mark.parametrize("hostile", hostile_videos(), ids=lambda h: h.name)
def test_hostile_videos_are_refused_and_leave_nothing(api_client, settings, hostile):
    response = post_file(api_client, hostile.data, hostile.name, "video/mp4")

    assert response.status_code == hostile.status, response.content
    body = response.json()
    assert body["code"] == hostile.code
    assert hostile.phrase in body["detail"].lower()
    assert body["detail"].startswith(hostile.name)
    assert Asset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_videos_have_their_own_byte_limit(api_client, settings, mp4):
    # Larger than the image limit, within the video limit, and big enough to arrive as a temporary file.
    settings.ASSET_MAX_BYTES = 10_000
    settings.VIDEO_MAX_BYTES = len(mp4) + 1
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post_file(api_client, mp4, "clip.mp4")
    assert response.status_code == 201, response.json()
    assert Asset.objects.get().kind == "video"


def test_an_image_over_its_limit_is_stopped_even_when_videos_may_be_larger(api_client, settings):
    settings.ASSET_MAX_BYTES = 2000
    settings.VIDEO_MAX_BYTES = 10**9
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    response = post_file(api_client, image_bytes("PNG", image=noisy), "huge.png")
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert "for images" in response.json()["detail"]
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_a_video_over_the_video_limit_is_stopped_while_streaming(api_client, settings, mp4):
    settings.VIDEO_MAX_BYTES = 20_000
    response = post_file(api_client, mp4, "long.mp4")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "long.mp4 is larger than the upload limit of 0.0 MB for videos.",
        "code": "file_too_large",
    }
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_a_file_that_only_starts_like_a_video_gains_nothing(api_client, settings):
    # Passes the streaming check with the video limit, then fails the probe: nothing kept.
    settings.ASSET_MAX_BYTES = 1000
    fake = b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 50_000
    response = post_file(api_client, fake, "fake.mp4")
    assert response.status_code == 400
    assert response.json()["code"] == "corrupt_video"
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []


def test_service_enforces_the_limits_without_the_upload_handler(user, settings, mp4):
    from media.services import AssetRejected

    settings.VIDEO_MAX_BYTES = len(mp4) - 1
    with pytest.raises(AssetRejected) as refused:
        asset_create(owner=user, file=io.BytesIO(mp4), filename="clip.mp4")
    assert (refused.value.code, refused.value.status) == ("file_too_large", 413)
    assert "for videos" in refused.value.message


def test_web_form_accepts_a_video(web_client, webm):
    response = web_client.post("/upload/", {"files": [upload(webm, "clip.webm", "video/webm")]})
    assert response.status_code == 200
    assert Asset.objects.get().kind == "video"


def _noisy_video(frames: int = 60) -> bytes:
    """About 10 MB of H.264 that cannot be compressed: random pixels."""
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "5"}
        for _ in range(frames):
            pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def test_a_large_video_is_never_held_whole_in_memory(user, settings):
    data = _noisy_video()
    assert len(data) > 8_000_000
    upload_file = TemporaryUploadedFile("big.mp4", "video/mp4", len(data), None)
    upload_file.write(data)
    upload_file.flush()
    del data
    tracemalloc.start()
    try:
        result = asset_create(owner=user, file=upload_file, filename="big.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload_file.close()
    assert result.created and result.asset.kind == "video"
    # Python-side peak (hash, probe, copy, thumbnails): far below the file's size.
    assert peak < 4_000_000, peak
