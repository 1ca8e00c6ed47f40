"""Zip downloads: a selection, a search or a collection, from the API and the library's form; the
originals byte for byte, streamed without building the archive in memory; the caps answer 400."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse

from albums.services import collection_add, collection_create
from media.models import Asset
from media.services import asset_create
from media.zips import CHUNK, entry_names, zip_stream
from tests.images import image_bytes, upload
from tests.tagged_assets import make_asset

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


def archive(response) -> zipfile.ZipFile:
    assert isinstance(response, StreamingHttpResponse), "the zip must be streamed"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def originals(assets) -> dict[str, bytes]:
    return {asset.original_filename: Path(asset.file.path).read_bytes() for asset in assets}


@pytest.fixture
def three(user):
    return [make_asset(user, color=(n, 100, 200), name=name) for n, name in ((1, "a.png"), (2, "b.png"), (3, "c.png"))]


def test_a_selection_is_a_zip_of_the_originals_byte_for_byte(api_client, three, foreign):
    response = api_client.post("/api/assets/download/",
                               {"ids": [str(three[0].pk), str(three[2].pk), str(foreign.pk)]}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'attachment; filename="images.zip"' == response["Content-Disposition"]
    zipped = archive(response)
    assert zipped.testzip() is None
    assert {name: zipped.read(name) for name in zipped.namelist()} == originals([three[0], three[2]])
    assert response["X-Zip-Count"] == "2"


def test_a_search_and_a_collection(api_client, user, three, tagged):
    by_search = archive(api_client.post("/api/assets/download/", {"q": "dog"}, format="json"))
    assert by_search.namelist() == [tagged.original_filename]
    holiday = collection_create(owner=user, name="Holiday in Spain")
    collection_add(collection=holiday, assets=Asset.objects.filter(pk__in=[three[1].pk, tagged.pk]))
    response = api_client.post("/api/assets/download/", {"collection": str(holiday.pk)}, format="json")
    assert 'filename="Holiday-in-Spain.zip"' in response["Content-Disposition"]
    assert sorted(archive(response).namelist()) == sorted(["b.png", tagged.original_filename])
    smart = collection_create(owner=user, name="Pets", query="dog")
    assert archive(api_client.post("/api/assets/download/", {"collection": str(smart.pk)},
                                   format="json")).namelist() == [tagged.original_filename]


def test_repeated_names_get_numbers(user):
    assets = [asset_create(owner=user, file=upload(image_bytes("PNG", color=(n, 0, 0)), name)).asset
              for n, name in ((1, "IMG.png"), (2, "img.png"), (3, "IMG.png"), (4, "notes"))]
    assert [name for _, name in entry_names(assets)] == ["IMG.png", "img (2).png", "IMG (3).png", "notes"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({}, "invalid"),
        ({"ids": [], "q": "dog"}, "invalid"),
        ({"q": "(dog"}, "invalid_query"),
        ({"ids": []}, "zip_refused"),
        ({"q": "zebra"}, "zip_refused"),
    ],
)
def test_bad_requests_say_what_is_wrong(api_client, three, body, code):
    response = api_client.post("/api/assets/download/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code, response.content


def test_the_caps_answer_400_before_anything_is_sent(api_client, three, settings):
    settings.ZIP_MAX_ASSETS = 2
    response = api_client.post("/api/assets/download/", {"ids": [str(asset.pk) for asset in three]}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "zip_refused"
    assert "at most 2" in response.json()["detail"]
    settings.ZIP_MAX_ASSETS = 100
    settings.ZIP_MAX_BYTES = sum(asset.byte_size for asset in three) - 1
    too_big = api_client.post("/api/assets/download/", {"ids": [str(asset.pk) for asset in three]}, format="json")
    assert too_big.status_code == 400 and "GB" in too_big.json()["detail"]


def test_another_users_collection_is_404(api_client, other_api_client, user, three):
    mine = collection_create(owner=user, name="Mine")
    collection_add(collection=mine, assets=Asset.objects.filter(pk=three[0].pk))
    assert other_api_client.post("/api/assets/download/", {"collection": str(mine.pk)},
                                 format="json").status_code == 404
    refused = other_api_client.post("/api/assets/download/", {"ids": [str(three[0].pk)]}, format="json")
    assert refused.status_code == 400  # none of theirs: nothing to send


def test_the_library_form_downloads_ticked_or_all_matching(web_client, three, tagged):
    ticked = web_client.post("/download/", {"ids": [three[0].pk, three[1].pk], "next": "/"})
    assert sorted(archive(ticked).namelist()) == ["a.png", "b.png"]
    matching = web_client.post("/download/", {"matching": "1", "search": "q=dog", "next": "/?q=dog"})
    assert archive(matching).namelist() == [tagged.original_filename]
    nothing = web_client.post("/download/", {"next": "/?q=dog"}, follow=True)
    assert "Select one or more images first." in nothing.content.decode()
    collection = collection_create(owner=three[0].owner, name="Two")
    collection_add(collection=collection, assets=Asset.objects.filter(pk__in=[three[0].pk, three[2].pk]))
    from_page = web_client.post("/download/", {"collection": collection.pk, "next": f"/collections/{collection.pk}/"})
    assert sorted(archive(from_page).namelist()) == ["a.png", "c.png"]


def test_the_stream_never_holds_the_archive(user, settings, tmp_path):
    """Eight 3 MB originals: each piece the generator hands out is about one chunk, and Python's memory
    peaks far below the archive's size."""
    assets = []
    for n in range(8):
        data = os.urandom(3 * 1024 * 1024)
        asset = make_asset(user, color=(n, 1, 1), name=f"big{n}.png")
        Path(asset.file.path).write_bytes(data)  # the stream copies whatever the file holds
        Asset.objects.filter(pk=asset.pk).update(byte_size=len(data))
        asset.byte_size = len(data)
        assets.append(asset)
    total = 0
    largest = 0
    tracemalloc.start()
    try:
        for piece in zip_stream(assets):
            total += len(piece)
            largest = max(largest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 24 * 1024 * 1024
    assert largest <= CHUNK + 4096
    assert peak < 4 * CHUNK + 1024 * 1024, f"peak {peak} bytes while streaming {total}"


def test_a_missing_original_becomes_a_note_not_a_broken_zip(user, three):
    Path(three[1].file.path).unlink()
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(three))))
    assert zipped.namelist() == ["a.png", "b.png.missing.txt", "c.png"]
    assert zipped.testzip() is None
