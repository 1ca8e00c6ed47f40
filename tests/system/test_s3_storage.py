"""Every storage-touching feature on real object storage: SeaweedFS's S3 gateway on loopback (testkit/s3.py)
through django-storages' S3 backend, driven through the real views and API.

Upload, dedupe, thumbnails, originals with Range/ETag, renditions and their cache, crops, COCO export,
zip download, video posters, trash and delete, a real worker process tagging from the bucket; and that
nothing lands on the local disk. The outage cases (wrong bucket, stopped server, failure after the files
were stored, orphans) are in test_s3_outage.py.
"""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from django.test import Client
from PIL import Image

from media.models import Asset, TaggingStatus
from review.services import detection_add_manual
from tagging.boxes import Box
from testkit.clips import encode, three_shapes_clip
from testkit.worker_process import celery_worker, purge_queues
from tests.conftest import stored_files, token_client
from tests.images import image_bytes, upload

pytestmark = [pytest.mark.usefixtures("fresh_throttle_history")]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def post_file(client, data: bytes, name: str):
    return client.post("/api/assets/", {"file": upload(data, name)}, format="multipart")


def keys(s3, folder: str = "") -> list[str]:
    return s3.keys(f"{s3.test_prefix}/{folder}")


@pytest.mark.django_db
def test_upload_dedupe_thumbnails_and_originals_with_range_and_etag(s3, api_client, user, settings):
    data = image_bytes("JPEG", size=(320, 200))
    created = post_file(api_client, data, "photo.jpg")
    assert created.status_code == 201, created.content
    asset = Asset.objects.get(pk=created.json()["id"])
    stored = keys(s3)
    assert sorted(stored) == sorted(f"{s3.test_prefix}/{name}" for name in
                                    (asset.file.name, asset.thumbnail_small.name, asset.thumbnail_large.name))
    assert s3.client().get_object(Bucket=s3.bucket, Key=f"{s3.test_prefix}/{asset.file.name}")["Body"].read() == data

    again = post_file(api_client, data, "copy.jpg")
    assert again.status_code == 200 and again.json()["id"] == str(asset.pk)
    assert keys(s3) == stored  # the duplicate stored nothing

    original = api_client.get(f"/api/assets/{asset.pk}/original/")
    assert original.status_code == 200 and body(original) == data
    assert original["ETag"] == f'"{asset.sha256}"' and original["Content-Length"] == str(len(data))
    part = api_client.get(f"/api/assets/{asset.pk}/original/", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and body(part) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = api_client.get(f"/api/assets/{asset.pk}/original/", HTTP_RANGE="bytes=-50")
    assert body(tail) == data[-50:]
    assert api_client.get(f"/api/assets/{asset.pk}/original/", HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    assert api_client.get(f"/api/assets/{asset.pk}/original/",
                          HTTP_IF_NONE_MATCH=f'"{asset.sha256}"').status_code == 304
    small = api_client.get(f"/api/assets/{asset.pk}/thumbnail/small/")
    assert small.status_code == 200
    assert max(Image.open(io.BytesIO(body(small))).size) == settings.ASSET_THUMBNAIL_SIZES["small"]
    # Another user's asset is a 404 on object storage too.
    from tests.factories import UserFactory

    assert token_client(UserFactory(username="eve")).get(f"/api/assets/{asset.pk}/original/").status_code == 404
    assert stored_files(settings.MEDIA_ROOT) == []  # nothing on the local disk


@pytest.mark.django_db
def test_renditions_are_cached_in_the_bucket_and_crops_read_from_it(s3, api_client, user, settings):
    image = Image.new("RGB", (400, 200), (255, 255, 255))
    image.paste((220, 20, 20), (300, 60, 360, 120))
    asset = Asset.objects.get(pk=post_file(api_client, image_bytes("PNG", image=image), "scene.png").json()["id"])
    detection = detection_add_manual(asset=asset, label="ball", box=Box(300, 60, 60, 60))

    url = f"/api/assets/{asset.pk}/rendition/?width=80&height=80&fit=cover&focus=ball&format=png"
    first = api_client.get(url)
    assert first.status_code == 200 and first["X-Rendition-Cache"] == "miss"
    made = body(first)
    picture = Image.open(io.BytesIO(made)).convert("RGB")
    assert picture.size == (80, 80) and picture.getpixel((40, 40))[0] > 180  # centred on the red ball
    cached = keys(s3, "renditions/")
    assert len(cached) == 1
    second = api_client.get(url)
    assert second["X-Rendition-Cache"] == "hit" and body(second) == made
    assert api_client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206

    crop = api_client.get(f"/api/detections/{detection.pk}/crop/")
    assert crop.status_code == 200
    assert Image.open(io.BytesIO(body(crop))).convert("RGB").getpixel((5, 5))[0] > 180

    coco = api_client.get("/api/export/coco/").json()
    assert [image["id"] for image in coco["images"]] and coco["annotations"][0]["bbox"] == [300, 60, 60, 60]
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.django_db
def test_zip_download_streams_originals_from_the_bucket(s3, api_client, settings):
    first, second = image_bytes("PNG", size=(40, 30)), image_bytes("JPEG", size=(50, 20))
    ids = [post_file(api_client, first, "a.png").json()["id"], post_file(api_client, second, "b.jpg").json()["id"]]
    response = api_client.post("/api/assets/download/", {"ids": ids}, format="json")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert sorted(archive.read(name) for name in archive.namelist()) == sorted([first, second])


@pytest.mark.django_db
def test_a_video_is_probed_and_given_a_poster_from_the_bucket(s3, api_client):
    clip = encode(three_shapes_clip(), codec="h264")
    created = post_file(api_client, clip, "clip.mp4")
    assert created.status_code == 201, created.content
    asset = Asset.objects.get(pk=created.json()["id"])
    assert asset.kind == "video" and asset.duration and asset.duration > 0
    poster = api_client.get(f"/api/assets/{asset.pk}/thumbnail/large/")
    assert poster.status_code == 200 and Image.open(io.BytesIO(body(poster))).format == "WEBP"
    assert body(api_client.get(f"/api/assets/{asset.pk}/original/", HTTP_RANGE="bytes=0-99")) == clip[:100]


@pytest.mark.django_db(transaction=True)
def test_trash_and_delete_for_good_remove_the_objects(s3, user):
    client = token_client(user)
    asset_id = post_file(client, image_bytes("PNG", size=(64, 64)), "gone.png").json()["id"]
    assert client.get(f"/api/assets/{asset_id}/rendition/?width=32").status_code == 200
    assert len(keys(s3)) == 4  # original, two thumbnails, one rendition
    assert client.delete(f"/api/assets/{asset_id}/").status_code == 204
    assert len(keys(s3)) == 4  # the trash keeps the files
    assert client.delete(f"/api/trash/{asset_id}/").status_code == 204
    assert keys(s3) == [] and not Asset.all_objects.filter(pk=asset_id).exists()


@pytest.fixture(scope="module")
def s3_worker(s3_server, django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process whose storage is the bucket (an empty local media folder of its own)."""
    prefix = f"w-{uuid.uuid4().hex[:8]}"
    empty = tmp_path_factory.mktemp("worker-local")
    with django_db_blocker.unblock():
        purge_queues()
        with celery_worker(empty, extra_env={**s3_server.env(), "AWS_LOCATION": prefix}) as process:
            process.prefix = prefix
            yield process


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_tags_an_asset_stored_in_the_bucket(s3, s3_worker, user, settings):
    import time

    from testkit.shapes import three_shapes_scene

    default = settings.STORAGES["default"]
    settings.STORAGES = {**settings.STORAGES,  # the worker's prefix
                         "default": {**default, "OPTIONS": {**default["OPTIONS"], "location": s3_worker.prefix}}}
    scene = three_shapes_scene()
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    asset_id = post_file(token_client(user), buffer.getvalue(), "shapes.png").json()["id"]
    deadline = time.monotonic() + 120
    asset = Asset.objects.get(pk=asset_id)
    while asset.tagging_status not in (TaggingStatus.TAGGED, TaggingStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.3)
        asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.TAGGED, f"{asset.tagging_error}\n{s3_worker.log}"
    labels = {detection.label.name for detection in asset.detections.select_related("label")}
    assert {"circle", "square", "triangle"} <= labels
    assert stored_files(s3_worker.media_root) == []  # the worker read from the bucket, wrote nothing locally
    assert s3.keys(f"{s3_worker.prefix}/originals/")


def test_signed_share_and_page_views_work_on_the_bucket(s3, user, db):
    client = token_client(user)
    asset_id = post_file(client, image_bytes("PNG", size=(60, 40)), "x.png").json()["id"]
    signed = client.get(f"/api/assets/{asset_id}/?signed=1").json()["signed_urls"]
    assert Client().get(signed["original"]).status_code == 200
    web = Client()
    web.force_login(user)
    assert web.get(f"/assets/{asset_id}/thumbnail/small/").status_code == 200
