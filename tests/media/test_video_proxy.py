"""Web-playable proxies of videos browsers cannot play as uploaded (media/video_proxy.py): which videos
get one, the transcode itself (duration, size cap, rotation, sound), storing it through the storage
API, serving it to the owner only with Range, listing it in the API, and deleting it with the asset.
The worker making it after tagging is tests/system/test_video_worker.py."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from media.models import Asset
from media.services import asset_create, asset_delete, video_proxy_create, video_proxy_wanted
from media.video import VideoRejected
from media.video_proxy import make_proxy, needs_proxy, proxy_format, proxy_size
from testkit.clips import audio_only, encode, three_shapes_clip
from tests.conftest import stored_files
from tests.factories import UserFactory
from tests.images import upload

FRAME = 1 / 10  # three_shapes_clip: 10 fps


def stored_proxies(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in stored_files(root / "proxies"))


def probe(data_or_path: bytes | str) -> tuple[str, int, int, float, int, bool]:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with av.open(source) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        last = frames[-1]
        end = float((last.pts + (last.duration or 0)) * stream.time_base)
        has_audio = bool(container.streams.audio)
        return stream.codec_context.name, frames[0].width, frames[0].height, end, len(frames), has_audio


@pytest.mark.parametrize(
    ("container", "codec", "wanted"),
    [("MP4", "h264", False), ("WEBM", "vp9", False), ("WEBM", "vp8", False), ("MP4", "av1", False),
     ("MP4", "hevc", True), ("MOV", "h264", True), ("MKV", "vp9", True), ("MOV", "hevc", True)],
)
def test_only_videos_browsers_may_not_play_get_a_proxy(container, codec, wanted):
    assert needs_proxy(container=container, codec=codec) is wanted


def test_the_proxy_is_h264_in_mp4_because_this_ffmpeg_has_libx264():
    fmt = proxy_format()
    assert (fmt.video_codec, fmt.container, fmt.mime_type) == ("libx264", "mp4", "video/mp4")


@pytest.mark.parametrize(
    ("size", "cap", "expected"),
    [((1920, 1080), 1280, (1280, 720)), ((480, 320), 1280, (480, 320)), ((1080, 1920), 1280, (720, 1280)),
     ((641, 361), 320, (320, 180))],
)
def test_proxy_size_caps_the_longest_side_and_keeps_sides_even(size, cap, expected):
    assert proxy_size(*size, cap) == expected


def test_an_hevc_clip_becomes_h264_of_the_same_duration(tmp_path: Path):
    clip = three_shapes_clip()
    original = encode(clip, codec="hevc")
    target = str(tmp_path / "proxy.mp4")
    make_proxy(io.BytesIO(original), target, max_side=1280, max_pixels=10**8)
    codec, width, height, end, frames, _ = probe(target)
    assert codec == "h264" and (width, height) == (clip.width, clip.height)
    assert abs(end - clip.duration) <= 2 * FRAME and abs(frames - clip.frame_count) <= 2
    # The index is at the front (faststart): a browser can start before the whole file arrives.
    head = Path(target).read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_the_proxy_is_capped_and_turned_upright(tmp_path: Path):
    clip = three_shapes_clip()
    original = encode(clip, codec="hevc", rotation=90)
    target = str(tmp_path / "proxy.mp4")
    make_proxy(io.BytesIO(original), target, max_side=240, max_pixels=10**8)
    _, width, height, end, _, _ = probe(target)
    # 480x320 stored, turned a quarter: 320x480 upright, capped at 240 on the long side.
    assert (width, height) == (160, 240) and abs(end - clip.duration) <= 2 * FRAME
    with av.open(target) as container:
        frame = next(container.decode(video=0))
        assert not frame.rotation  # the pixels are turned, no display matrix left for players to honour


def test_sound_is_kept(tmp_path: Path):
    clip = three_shapes_clip()
    path = tmp_path / "with-sound.mkv"
    with av.open(str(path), "w", format="matroska") as output:
        video = output.add_stream("libx265", rate=clip.fps)
        video.width, video.height, video.pix_fmt = clip.width, clip.height, "yuv420p"
        video.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
        sound = output.add_stream("libopus", rate=48000, layout="mono")
        for index in range(clip.frame_count):
            for packet in video.encode(av.VideoFrame.from_ndarray(clip.frame(index), format="rgb24")):
                output.mux(packet)
        samples = int(48000 * clip.duration)
        wave = (0.2 * np.sin(np.arange(samples) / 48000 * 2 * np.pi * 440)).astype(np.float32)
        for first in range(0, samples, 960):
            chunk = av.AudioFrame.from_ndarray(wave[None, first:first + 960], format="flt", layout="mono")
            chunk.sample_rate = 48000
            for packet in sound.encode(chunk):
                output.mux(packet)
        for stream in (video, sound):
            for packet in stream.encode():
                output.mux(packet)
    target = str(tmp_path / "proxy.mp4")
    make_proxy(path.open("rb"), target, max_side=1280, max_pixels=10**8)
    assert probe(target)[5]
    with av.open(target) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_an_unreadable_original_is_refused_with_a_message(tmp_path: Path):
    with pytest.raises(VideoRejected):
        make_proxy(io.BytesIO(audio_only("mp4")), str(tmp_path / "proxy.mp4"), max_side=1280, max_pixels=10**8)


@pytest.mark.django_db
def test_a_stored_proxy_is_served_to_the_owner_only_with_range_listed_and_deleted(
    client, user, api_client, other_api_client, settings, django_capture_on_commit_callbacks
):
    owner = user
    clip = three_shapes_clip()
    asset = asset_create(owner=owner, file=upload(encode(clip, codec="hevc"), "phone.mp4")).asset
    web = asset_create(owner=owner, file=upload(encode(clip, codec="h264"), "web.mp4")).asset
    assert video_proxy_wanted(asset) and not video_proxy_wanted(web)
    assert video_proxy_create(asset_id=web.pk) == "not needed"
    assert video_proxy_create(asset_id=asset.pk) == "made"
    assert video_proxy_create(asset_id=asset.pk) == "not needed"  # a second run stores nothing more
    asset.refresh_from_db()
    assert asset.video_proxy.name == f"proxies/{asset.id.hex[:2]}/{asset.id.hex}.mp4"
    assert stored_proxies(settings) == [asset.video_proxy.name]

    body = api_client.get(f"/api/assets/{asset.pk}/").json()
    assert body["urls"]["proxy"].endswith(f"/api/assets/{asset.pk}/proxy/")
    assert api_client.get(f"/api/assets/{web.pk}/").json()["urls"]["proxy"] is None
    whole = api_client.get(f"/api/assets/{asset.pk}/proxy/")
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    data = b"".join(whole.streaming_content)
    assert probe(data)[0] == "h264" and abs(probe(data)[3] - clip.duration) <= 2 * FRAME
    part = api_client.get(f"/api/assets/{asset.pk}/proxy/", HTTP_RANGE="bytes=100-299")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-299/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:300]
    assert api_client.get(f"/api/assets/{web.pk}/proxy/").status_code == 404
    # A signed URL opens it without a token (a <video src> elsewhere); a video without a proxy is a 400.
    signed = api_client.post(f"/api/assets/{asset.pk}/signed-urls/", {"file": "proxy"}, format="json")
    assert signed.status_code == 201, signed.content
    anonymous = client.get(signed.json()["url"], HTTP_RANGE="bytes=0-99")
    assert anonymous.status_code == 206 and b"".join(anonymous.streaming_content) == data[:100]
    refused = api_client.post(f"/api/assets/{web.pk}/signed-urls/", {"file": "proxy"}, format="json")
    assert refused.status_code == 400 and "proxy" in refused.json()["detail"]

    # The page's player lists the proxy after the original; another user gets 404 everywhere.
    client.force_login(owner)
    page = client.get(f"/assets/{asset.pk}/").content.decode()
    assert page.index(f"/assets/{asset.pk}/original/") < page.index(f"/assets/{asset.pk}/proxy/")
    assert client.get(f"/assets/{asset.pk}/proxy/", HTTP_RANGE="bytes=0-9").status_code == 206
    assert f"/assets/{web.pk}/proxy/" not in client.get(f"/assets/{web.pk}/").content.decode()
    client.force_login(UserFactory(username="proxy-stranger"))
    assert client.get(f"/assets/{asset.pk}/proxy/").status_code == 404
    assert other_api_client.get(f"/api/assets/{asset.pk}/proxy/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        asset_delete(asset=Asset.all_objects.get(pk=asset.pk))
    assert stored_proxies(settings) == []


@pytest.mark.django_db
def test_a_proxy_of_an_asset_deleted_meanwhile_is_not_kept(monkeypatch, settings):
    owner = UserFactory(username="proxy-gone")
    asset = asset_create(owner=owner, file=upload(encode(three_shapes_clip(), codec="hevc"), "gone.mp4")).asset
    import media.services as services

    real = services.make_proxy

    def delete_while_encoding(*args, **kwargs):
        fmt = real(*args, **kwargs)
        Asset.all_objects.filter(pk=asset.pk).delete()
        return fmt

    monkeypatch.setattr(services, "make_proxy", delete_while_encoding)
    assert video_proxy_create(asset_id=asset.pk) == "not needed"
    assert stored_proxies(settings) == []


@pytest.mark.django_db
def test_the_sweeper_sends_lost_or_missing_proxies_and_never_retries_a_refused_original(monkeypatch, settings):
    """Tagged videos browsers may not play and without a proxy (the task was lost, or they were tagged
    before proxies existed) get one from the sweep; an original that cannot be decoded is remembered."""
    from datetime import timedelta

    from django.utils import timezone

    from media import tasks
    from media.selectors import video_proxies_missing

    owner = UserFactory(username="proxy-sweep")
    clip = three_shapes_clip()
    hevc = asset_create(owner=owner, file=upload(encode(clip, codec="hevc"), "old.mp4")).asset
    web = asset_create(owner=owner, file=upload(encode(clip, codec="h264"), "web.mp4")).asset
    waiting = asset_create(  # not tagged yet; other bytes (the same would be the same asset)
        owner=owner, file=upload(encode(clip, codec="hevc", metadata={"title": "new"}), "new.mp4")
    ).asset
    assert waiting.pk != hevc.pk
    long_ago = timezone.now() - timedelta(days=30)
    Asset.objects.filter(pk__in=[hevc.pk, web.pk]).update(tagging_status="tagged", tagged_at=long_ago)
    sent: list[list] = []
    monkeypatch.setattr(tasks.make_video_proxy, "apply_async", lambda args=None, **kw: sent.append(args))

    assert tasks.sweep_video_proxies() == {"sent": 1} and sent == [[str(hevc.pk)]]
    # Recently tagged: its own task may still be running (VIDEO_PROXY_TIME_LIMIT), so not yet.
    Asset.objects.filter(pk=waiting.pk).update(tagging_status="tagged", tagged_at=timezone.now())
    assert video_proxies_missing(tagged_before=timezone.now() - timedelta(hours=2), limit=10) == [hevc.pk]
    # Made: found no more.
    assert tasks.make_video_proxy.run(str(hevc.pk)) == "made"
    assert video_proxies_missing(tagged_before=timezone.now(), limit=10) == [waiting.pk]
    # An original that will not decode is refused once, remembered, and not sent again.
    def refuse(*args, **kwargs):
        raise VideoRejected("undecodable", "The video could not be decoded: no video stream.")

    import media.services as services

    monkeypatch.setattr(services, "make_proxy", refuse)
    assert tasks.make_video_proxy.run(str(waiting.pk)) == "failed"
    waiting.refresh_from_db()
    assert waiting.video_proxy_error.startswith("The video could not be decoded")
    assert not video_proxy_wanted(waiting)
    from django.test import Client

    page = Client()
    page.force_login(owner)
    shown = page.get(f"/assets/{waiting.pk}/").content.decode()
    assert "No copy browsers can play could be made (The video could not be decoded" in shown
    assert video_proxies_missing(tagged_before=timezone.now(), limit=10) == []
    assert settings.CELERY_BEAT_SCHEDULE["sweep-video-proxies"]["task"] == tasks.sweep_video_proxies.name
