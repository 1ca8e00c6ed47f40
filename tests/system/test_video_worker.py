"""Videos through the real parts: API upload → broker → a real Celery worker process with the shapes
model → tracks in the database; the API's tracks, search by label and kind with moments, facets,
review of a whole track surviving re-tagging, and a worker killed mid-video that resumes."""

from __future__ import annotations

import io
import os
import signal
import time

import av
import pytest
from django.db import connection

from media.models import Asset, TaggingStatus
from tagging.models import DetectionRun, Track, VideoProgress
from testkit.clips import encode, long_clip, three_shapes_clip
from testkit.stack import children_of
from testkit.worker_process import celery_worker, purge_queues
from tests.images import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
STEP = 0.5  # one sampling step (VIDEO_SAMPLE_FPS=2)


@pytest.fixture(scope="module")
def video_worker(django_db_setup, django_db_blocker, worker_media):
    """A worker that checkpoints after every batch, so a kill always has something to resume from."""
    with django_db_blocker.unblock():
        purge_queues()
        with celery_worker(worker_media, extra_env={"VIDEO_CHECKPOINT_SECONDS": "0"}) as process:
            yield process


@pytest.fixture
def shared_media(settings, worker_media):
    settings.MEDIA_ROOT = worker_media
    return worker_media


def wait_for(asset_id, timeout: float = 180) -> Asset:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset = Asset.objects.get(pk=asset_id)
        if asset.tagging_status in (TaggingStatus.TAGGED, TaggingStatus.FAILED):
            return asset
        time.sleep(0.3)
    raise TimeoutError(f"asset {asset_id} still {asset.tagging_status} after {timeout} s")


def post_video(api_client, data: bytes, name: str) -> str:
    response = api_client.post("/api/assets/", {"file": upload(data, name)}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def assert_tracks_match(tracks: list[dict], clip) -> None:
    truth = clip.appearances()
    assert sorted(t["label"] for t in tracks) == sorted(a.label for a in truth), tracks
    for item in truth:
        track = min((t for t in tracks if t["label"] == item.label), key=lambda t: abs(t["start"] - item.start))
        assert abs(track["start"] - item.start) <= STEP + 1e-6, (item, track["start"])
        assert abs(track["end"] - item.end) <= STEP + 1e-6, (item, track["end"])


@pytest.mark.parametrize(("codec", "name"), [("h264", "shapes.mp4"), ("vp9", "shapes.webm")])
def test_a_video_is_tracked_by_a_real_worker_and_found_by_search(api_client, video_worker, shared_media, codec,
                                                                 name):
    clip = three_shapes_clip()
    asset_id = post_video(api_client, encode(clip, codec=codec), name)
    image = api_client.post("/api/assets/", {"file": upload(_png(), "still.png")}, format="multipart").json()["id"]
    asset = wait_for(asset_id)
    assert asset.tagging_status == TaggingStatus.TAGGED, f"{asset.tagging_error}\n{video_worker.log}"
    wait_for(image)

    body = api_client.get(f"/api/assets/{asset_id}/").json()
    assert body["kind"] == "video" and abs(body["duration"] - 6.0) < 0.2 and body["tracks_total"] == 3
    assert_tracks_match(body["tracks"], clip)
    circle = next(t for t in body["tracks"] if t["label"] == "circle")
    assert len(circle["boxes"]) == 12 and set(circle["boxes"][0]["box"]) == {"x", "y", "width", "height"}
    assert {t["label"]: t["count"] for t in body["tags"]} == {"circle": 1, "square": 1, "triangle": 1}
    assert body["last_run"]["video"]["sample_fps"] == 2.0 and body["last_run"]["video"]["samples"] == 12
    assert body["moments"] is None  # not a search

    # One track per object: pages of one through the tracks endpoint give the same three.
    seen, url = [], f"/api/assets/{asset_id}/tracks/?page_size=1"
    while url:
        page = api_client.get(url).json()
        seen += page["results"]
        url = page["next"]
    assert [t["id"] for t in seen] == [t["id"] for t in body["tracks"]]

    def ids(query: str) -> list[str]:
        response = api_client.get("/api/assets/", {"q": query})
        assert response.status_code == 200, response.content
        return [hit["id"] for hit in response.json()["results"]]

    assert asset_id in ids("kind:video") and image not in ids("kind:video")
    assert image in ids("kind:image") and asset_id not in ids("kind:image")
    assert asset_id in ids("square") and asset_id in ids("square@0.5 kind:video")
    assert asset_id not in ids("square>=2") and asset_id not in ids("-square")
    hits = api_client.get("/api/assets/", {"q": "square OR triangle"}).json()["results"]
    hit = next(h for h in hits if h["id"] == asset_id)
    truth = {a.label: a for a in clip.appearances()}
    assert [m["label"] for m in hit["moments"]] == ["square", "triangle"]
    for moment in hit["moments"]:
        assert abs(moment["start"] - truth[moment["label"]].start) <= STEP + 1e-6
    facets = {f["label"]: f["count"] for f in api_client.get("/api/labels/", {"q": "kind:video"}).json()}
    assert facets["circle"] >= 1 and facets.get("square", 0) >= 1


def _png() -> bytes:
    from tests.images import image_bytes

    return image_bytes("PNG", color=(120, 30, 200))


def test_a_reviewed_track_survives_retagging_by_the_worker(api_client, video_worker, shared_media):
    clip = three_shapes_clip(background=((200, 220, 200), (150, 170, 150)))
    asset_id = post_video(api_client, encode(clip), "review.mp4")
    assert wait_for(asset_id).tagging_status == TaggingStatus.TAGGED
    tracks = {t["label"]: t for t in api_client.get(f"/api/assets/{asset_id}/").json()["tracks"]}
    rejected = api_client.patch(f"/api/tracks/{tracks['square']['id']}/", {"review": "rejected"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["review"] == "rejected"
    relabelled = api_client.patch(f"/api/tracks/{tracks['circle']['id']}/", {"label": "ball"}, format="json")
    assert relabelled.json()["label"] == "ball" and relabelled.json()["suggested_label"] == "circle"
    body = api_client.get(f"/api/assets/{asset_id}/").json()
    assert {t["label"] for t in body["tags"]} == {"ball", "triangle"}

    assert api_client.post(f"/api/assets/{asset_id}/retag/").status_code == 202
    assert wait_for(asset_id).tagging_status == TaggingStatus.TAGGED
    assert DetectionRun.objects.filter(asset_id=asset_id, succeeded=True).count() == 2
    after = list(Track.objects.filter(asset_id=asset_id).select_related("label"))
    # The rejected square did not come back, the relabelled circle was not doubled as a new "circle".
    assert sorted((t.label.name, t.review) for t in after) == [
        ("ball", "accepted"), ("square", "rejected"), ("triangle", "unreviewed")]
    body = api_client.get(f"/api/assets/{asset_id}/").json()
    assert {t["label"] for t in body["tags"]} == {"ball", "triangle"}
    assert api_client.get("/api/assets/", {"q": "square"}).json()["results"] == []


def test_a_worker_killed_mid_video_resumes_and_tags_it_once(api_client, video_worker, shared_media):
    clip = long_clip()
    asset_id = post_video(api_client, encode(clip), "long.mp4")
    deadline = time.monotonic() + 120
    progress = None
    while time.monotonic() < deadline:
        progress = VideoProgress.objects.filter(asset_id=asset_id).first()
        if progress is not None and progress.samples >= 20:
            break
        time.sleep(0.05)
    assert progress is not None and progress.samples >= 20, video_worker.log
    children = children_of(video_worker.process.pid)
    assert children, "no pool child to kill"
    os.kill(children[0], signal.SIGKILL)  # the process tagging the video dies mid-way

    asset = wait_for(asset_id)
    assert asset.tagging_status == TaggingStatus.TAGGED, f"{asset.tagging_error}\n{video_worker.log}"
    runs = list(DetectionRun.objects.filter(asset_id=asset_id))
    assert [r.succeeded for r in runs] == [True]  # tagged once
    assert runs[0].video["resumed_from"] is not None
    assert runs[0].video["resumed_from"] >= progress.checkpoint["after"] > 5  # resumed, not restarted
    assert runs[0].video["samples"] == 80
    tracks = [{"label": t.label.name, "start": t.start, "end": t.end}
              for t in Track.objects.filter(asset_id=asset_id).select_related("label")]
    assert_tracks_match(tracks, clip)
    assert not VideoProgress.objects.filter(asset_id=asset_id).exists()
    assert connection.vendor in {"postgresql", "sqlite"}


def wait_for_proxy(asset_id, timeout: float = 120) -> Asset:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset = Asset.objects.get(pk=asset_id)
        if asset.video_proxy.name:
            return asset
        time.sleep(0.3)
    raise TimeoutError(f"asset {asset_id} has no proxy after {timeout} s")


def test_the_worker_makes_a_web_playable_proxy_of_an_hevc_video_only(api_client, other_api_client, video_worker,
                                                                     shared_media):
    clip = three_shapes_clip(background=((210, 200, 230), (160, 150, 190)))
    web = post_video(api_client, encode(clip, codec="h264"), "web.mp4")
    phone = post_video(api_client, encode(clip, codec="hevc"), "phone.mp4")  # Chromium cannot play HEVC
    tagged = wait_for(web)
    assert tagged.tagging_status == TaggingStatus.TAGGED, f"{tagged.tagging_error}\n{video_worker.log}"
    assert wait_for(phone).tagging_status == TaggingStatus.TAGGED, video_worker.log
    asset = wait_for_proxy(phone)
    assert asset.video_proxy.name.startswith("proxies/"), video_worker.log
    # One worker takes the queues in turn: the web-playable video, tagged first, got no proxy task.
    assert Asset.objects.get(pk=web).video_proxy.name == ""
    assert api_client.get(f"/api/assets/{web}/").json()["urls"]["proxy"] is None
    assert api_client.get(f"/api/assets/{web}/proxy/").status_code == 404

    url = api_client.get(f"/api/assets/{phone}/").json()["urls"]["proxy"]
    whole = api_client.get(url)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    data = b"".join(whole.streaming_content)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264" and (frames[0].width, frames[0].height) == (clip.width, clip.height)
        end = float((frames[-1].pts + frames[-1].duration) * stream.time_base)
    assert abs(end - clip.duration) <= 2 / clip.fps and abs(len(frames) - clip.frame_count) <= 2
    part = api_client.get(url, HTTP_RANGE="bytes=-500")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[-500:]
    assert other_api_client.get(url).status_code == 404
