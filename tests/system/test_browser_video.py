"""A tagged video in a real headless Chromium against a live server: the play badge on the card, the
player showing the original, the timeline seeking, boxes following the object over the playing frame,
whole-track review, all under the site's strict CSP. The video is tagged by the real pipeline
(run_detection with the shapes model) in the test process; tests/system/test_video_worker.py proves
the worker process does the same."""

from __future__ import annotations

import pytest

from media.services import asset_create
from tagging.models import Track
from tagging.pipeline import run_detection
from testkit.clips import encode, returning_clip
from tests.factories import UserFactory
from tests.images import upload
from tests.system.test_browser import PASSWORD, screenshot
from tests.system.test_browser_collections import logged_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def video(sent):
    user = UserFactory(username="filmmaker", password=PASSWORD)
    clip = returning_clip()
    # VP9 WebM: every Chromium build plays it (H.264 needs the proprietary codecs).
    asset = asset_create(owner=user, file=upload(encode(clip, codec="vp9"), "back.webm")).asset
    [outcome] = run_detection(asset_id=str(asset.pk), task_id="browser-video")
    assert outcome.status == "tagged", outcome.detail
    return user, asset, clip


def test_video_page_plays_seeks_draws_boxes_and_reviews_tracks(browser, live_server, video):  # noqa: F811
    user, asset, clip = video
    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go("/")
    badge = page.locator(f"#card-{asset.pk} .play-badge")
    assert badge.is_visible() and "0:06" in badge.inner_text()

    tab.go(f"/assets/{asset.pk}/")
    page.wait_for_function("() => document.getElementById('asset-video').readyState >= 1")
    assert abs(page.evaluate("() => document.getElementById('asset-video').duration") - 6.0) < 0.3

    # The second square span: the square that came back at 3.9 s.
    squares = page.locator(".timeline-row", has_text="square").locator(".timeline-span")
    assert squares.count() == 2
    squares.nth(1).click()
    page.wait_for_function("() => Math.abs(document.getElementById('asset-video').currentTime - 4.0) < 0.3")
    square_id = Track.objects.filter(asset=asset, label__name="square").order_by("start").last().pk
    box = page.locator(f'.video-box[data-track-id="{square_id}"]')
    assert box.is_visible()
    # Where the box is drawn matches where the clip drew the square (as a share of the frame).
    shown = page.evaluate(
        "(id) => { const b = document.querySelector(`.video-box[data-track-id='${id}']`).getBoundingClientRect();"
        " const s = document.getElementById('video-stage').getBoundingClientRect();"
        " return [(b.left - s.left) / s.width, (b.top - s.top) / s.height]; }", square_id)
    t = page.evaluate("() => document.getElementById('asset-video').currentTime")
    shape = next(s for s in clip.shapes if s.label == "square" and s.visible(t))
    x1, y1, _, _ = shape.box(t)
    assert abs(shown[0] - x1 / clip.width) < 0.05 and abs(shown[1] - y1 / clip.height) < 0.05, (shown, t)
    # The first square is off screen by then: its box is hidden.
    first_square = Track.objects.filter(asset=asset, label__name="square").order_by("start").first().pk
    assert page.locator(f'.video-box[data-track-id="{first_square}"]').is_hidden()

    # Playing moves the playhead and the boxes with it.
    page.evaluate("() => { const v = document.getElementById('asset-video'); v.muted = true; v.play(); }")
    page.wait_for_function("() => document.getElementById('asset-video').currentTime > 4.6")
    page.evaluate("() => document.getElementById('asset-video').pause()")
    screenshot(page, "video")

    # Reject the circle's track: after the reload it has left the timeline and the tags.
    circle = Track.objects.get(asset=asset, label__name="circle")
    page.locator(f'.track-row[data-track-id="{circle.pk}"] [data-track-review="rejected"]').click()
    page.wait_for_selector(f'.track-row.is-rejected[data-track-id="{circle.pk}"]')
    assert page.locator(".timeline-row", has_text="circle").count() == 0
    circle.refresh_from_db()
    assert circle.review == "rejected"
    assert tab.unexpected_errors() == []


def test_an_hevc_video_plays_from_its_proxy_in_chromium(browser, live_server):  # noqa: F811
    from media.services import video_proxy_create

    user = UserFactory(username="phoneuser", password=PASSWORD)
    clip = returning_clip()
    asset = asset_create(owner=user, file=upload(encode(clip, codec="hevc"), "phone.mp4")).asset
    assert video_proxy_create(asset_id=asset.pk) == "made"
    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go(f"/assets/{asset.pk}/")
    # Chromium has no HEVC decoder here: it skips the original <source> and loads the proxy.
    page.wait_for_function("() => document.getElementById('asset-video').readyState >= 2", timeout=20000)
    source = page.evaluate("() => document.getElementById('asset-video').currentSrc")
    assert source.endswith(f"/assets/{asset.pk}/proxy/"), source
    assert abs(page.evaluate("() => document.getElementById('asset-video').duration") - clip.duration) < 0.3
    page.evaluate("() => { const v = document.getElementById('asset-video'); v.muted = true; v.play(); }")
    page.wait_for_function("() => document.getElementById('asset-video').currentTime > 1.0")
    assert tab.unexpected_errors() == []
