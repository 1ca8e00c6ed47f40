"""The library and asset pages for a video tagged by the real pipeline: play badge and duration on
the card, the player with the original, the per-label timeline, the tracks table, ?t= to open at a moment."""

from __future__ import annotations

import json
import re

import pytest

from media.services import asset_create
from tagging.models import Track
from tagging.pipeline import run_detection
from testkit.clips import encode, returning_clip
from tests.images import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user):
    asset = asset_create(owner=user, file=upload(encode(returning_clip(), codec="vp9"), "back.webm")).asset
    [outcome] = run_detection(asset_id=str(asset.pk), task_id="page-1")
    assert outcome.status == "tagged", outcome.detail
    return asset


def test_library_card_has_a_play_badge_with_the_duration(web_client, video):
    html = web_client.get("/").content.decode()
    card = html[html.index(f'id="card-{video.pk}"'):]
    card = card[: card.index("</li>")]
    assert 'class="play-badge"' in card and "0:06" in card and "Video," in card


def test_asset_page_plays_the_video_with_a_timeline(web_client, video):
    response = web_client.get(f"/assets/{video.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<video id="asset-video"' in html and f'src="/assets/{video.pk}/original/"' in html
    assert 'type="video/webm"' in html and "js/video.js" in html
    data = json.loads(re.search(r'<script id="tracks-data" type="application/json">(.*?)</script>', html, re.S)[1])
    squares = [t for t in data["tracks"] if t["label"] == "square"]
    assert len(squares) == 2 and data["step"] == 0.5
    assert all(len(row) == 6 for row in squares[0]["boxes"])
    # One strip per label; the square's has two spans, each a link that seeks to its start.
    rows = re.findall(
        r'<span class="timeline-label">([^<]+)</span>\s*<span class="timeline-strip">(.*?)</span>\s*</div>', html, re.S
    )
    spans = {label: re.findall(r'data-seek="([0-9.]+)"', strip) for label, strip in rows}
    assert set(spans) == {"circle", "square"} and len(spans["square"]) == 2
    assert [float(s) for s in spans["square"]] == sorted(t["start"] for t in squares)
    assert html.count('class="track-row') == Track.objects.filter(asset=video).count() == 3


def test_asset_page_opens_at_a_moment(web_client, video):
    html = web_client.get(f"/assets/{video.pk}/?t=3.9").content.decode()
    assert 'data-start="3.900"' in html and "original/#t=3.900" in html
    assert 'data-start=' not in web_client.get(f"/assets/{video.pk}/?t=soon").content.decode()


def test_a_rejected_track_leaves_the_timeline(web_client, api_client, video):
    track = Track.objects.get(asset=video, label__name="circle")
    assert api_client.patch(f"/api/tracks/{track.pk}/", {"review": "rejected"}, format="json").status_code == 200
    html = web_client.get(f"/assets/{video.pk}/").content.decode()
    assert '<span class="timeline-label">circle</span>' not in html
    assert "track-row is-rejected" in html


def test_a_search_hit_opens_at_the_first_matching_moment(web_client, video):
    def card_link(query: str) -> str:
        html = web_client.get("/", {"q": query}).content.decode()
        card = html[html.index(f'id="card-{video.pk}"'):]
        return re.search(r'<a href="([^"]+)" class="card-link">', card)[1]

    squares = sorted(Track.objects.filter(asset=video, label__name="square").values_list("start", flat=True))
    assert card_link("square") == f"/assets/{video.pk}/?t={squares[0]:.3f}"
    # The first square track rejected: the hit opens at the one that came back.
    Track.objects.filter(asset=video, label__name="square", start=squares[0]).update(review="rejected")
    assert card_link("square") == f"/assets/{video.pk}/?t={squares[1]:.3f}"
    assert card_link("kind:video") == f"/assets/{video.pk}/"  # no label searched: from the start
