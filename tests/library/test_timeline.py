"""The timeline (``sort=taken``) and the viewer's ``?view=`` through Django's test client: order by date
taken (else uploaded), date headings, the months to jump to with their counts for the current search,
jumping through a keyset cursor, and nobody else's or trashed pictures anywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from media.models import Asset
from media.services import asset_trash
from search.selectors import assets_search
from tests.tagged_assets import make_asset

pytestmark = pytest.mark.django_db


def dated(owner, name: str, taken: datetime | None, uploaded: datetime, color: tuple[int, int, int]) -> Asset:
    asset = make_asset(owner, color=color, name=name)
    Asset.objects.filter(pk=asset.pk).update(taken_at=taken, created_at=uploaded)
    asset.refresh_from_db()
    return asset


@pytest.fixture
def album(user, other_user, sent):
    uploaded = datetime(2026, 11, 1, 12, tzinfo=UTC)
    assets = {
        "june-a": dated(user, "june-a.png", datetime(2024, 6, 15, 10, tzinfo=UTC), uploaded, (1, 2, 3)),
        "june-b": dated(user, "june-b.png", datetime(2024, 6, 2, 9, tzinfo=UTC), uploaded, (4, 5, 6)),
        "may": dated(user, "may.png", datetime(2024, 5, 31, 23, tzinfo=UTC), uploaded, (7, 8, 9)),
        "old": dated(user, "old.png", datetime(2019, 1, 1, 0, tzinfo=UTC), uploaded, (10, 11, 12)),
        # No camera date: sorts by its upload, November 2025.
        "undated": dated(user, "undated.png", None, datetime(2025, 11, 20, tzinfo=UTC), (13, 14, 15)),
        "trashed": dated(user, "trashed.png", datetime(2024, 6, 20, tzinfo=UTC), uploaded, (16, 17, 18)),
    }
    asset_trash(asset=assets["trashed"])
    dated(other_user, "theirs.png", datetime(2024, 6, 10, tzinfo=UTC), uploaded, (19, 20, 21))
    return assets


def names(response) -> list[str]:
    return re.findall(r'<span class="name" title="[^"]*">([^<]+)</span>', response.content.decode())


def test_timeline_orders_by_date_taken_then_upload_with_headings(web_client, album):
    response = web_client.get("/?sort=taken")
    assert response.status_code == 200
    assert names(response) == ["undated.png", "june-a.png", "june-b.png", "may.png", "old.png"]
    html = response.content.decode()
    assert re.findall(r"<h2>([^<]+)</h2></li>", html) == ["November 2025", "June 2024", "May 2024", "January 2019"]
    assert "Saturday 15 June 2024" in html and "Sunday 2 June 2024" in html
    assert "Uploaded 20 Nov 2025" in html and "15 Jun 2024, 10:00" in html
    # The months with their counts, for this user only and without the trash.
    options = re.findall(r'<option value="(\d{4}-\d\d)"[^>]*>([^<]+)</option>', html)
    assert options == [
        ("2025-11", "November 2025 (1)"), ("2024-06", "June 2024 (2)"), ("2024-05", "May 2024 (1)"),
        ("2019-01", "January 2019 (1)"),
    ]
    assert "theirs.png" not in html and "trashed.png" not in html


def test_card_dates_are_the_cameras_local_time(web_client, album):
    # Taken 10:00 UTC on a camera two hours east: the card says 12:00, as the asset page does.
    Asset.objects.filter(pk=album["june-a"].pk).update(taken_offset=120)
    html = web_client.get("/?sort=taken").content.decode()
    assert "15 Jun 2024, 12:00" in html and "UTC+02:00" in html


def test_timeline_months_follow_the_search(web_client, album):
    html = web_client.get("/?sort=taken&q=taken<2024-06-01").content.decode()
    assert re.findall(r'<option value="(\d{4}-\d\d)"', html) == ["2024-05", "2019-01"]


def test_jump_to_a_month_pages_on_from_there(web_client, album, monkeypatch):
    from library.views import LibraryView

    monkeypatch.setattr(LibraryView, "page_size", 2)
    response = web_client.get("/?sort=taken&month=2024-06")
    assert names(response) == ["june-a.png", "june-b.png"]
    html = response.content.decode()
    assert 'value="2024-06" selected' in html
    # The next page continues with a cursor (the month is not repeated), and Previous goes newer.
    following = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "month=" not in following
    assert names(web_client.get("/" + following)) == ["may.png", "old.png"]
    previous = re.search(r'href="([^"]+)" rel="prev"', html).group(1).replace("&amp;", "&")
    assert names(web_client.get("/" + previous)) == ["undated.png"]
    # A month with nothing in it starts at the next older picture.
    assert names(web_client.get("/?sort=taken&month=2023-02")) == ["old.png"]


@pytest.mark.parametrize("month", ["2024-13", "June", "0000-01", "2024-6"])
def test_a_bad_month_says_so(web_client, album, month):
    response = web_client.get(f"/?sort=taken&month={month}")
    assert response.status_code == 400
    assert "YYYY-MM" in response.content.decode()


def test_a_month_outside_the_timeline_says_so(web_client, album):
    response = web_client.get("/?month=2024-06")
    assert response.status_code == 400
    assert "Jumping to a month works in the timeline" in response.content.decode()


def test_the_api_sorts_by_date_taken_with_keyset_pages(api_client, album):
    seen, url = [], "/api/assets/?sort=taken&page_size=2"
    while url:
        body = api_client.get(url).json()
        seen += [item["filename"] for item in body["results"]]
        url = body["next"]
    assert seen == ["undated.png", "june-a.png", "june-b.png", "may.png", "old.png"]


def test_timeline_order_in_the_selector(user, album):
    found = list(assets_search(user=user, query=None, sort="taken").values_list("original_filename", flat=True))
    assert found == ["undated.png", "june-a.png", "june-b.png", "may.png", "old.png"]


def test_view_parameter_opens_ones_own_picture_and_404s_for_others(web_client, album, other_user):
    mine = album["may"]
    response = web_client.get(f"/?q=&view={mine.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-asset-id="{mine.pk}"' in html and 'id="viewer-start"' in html
    # The search form, the selection's search and the facet links do not carry view= along (only the
    # hearts' way back does: the no-script heart returns to the open picture).
    assert 'name="view"' not in html
    carried = [m.group(0) for m in re.finditer(r'[^\n]*view=[^\n]*', html)]
    assert carried and all('name="next"' in line for line in carried), carried
    theirs = Asset.objects.get(owner=other_user)
    assert web_client.get(f"/?view={theirs.pk}").status_code == 404
    assert web_client.get(f"/?view={album['trashed'].pk}").status_code == 404
    assert web_client.get("/?view=not-a-uuid").status_code == 404
    assert web_client.get(reverse("library") + f"?view={mine.pk}&sort=taken").status_code == 200


@pytest.mark.postgres
def test_postgres_pages_the_timeline_from_its_index(user, other_user):
    from django.db import connection

    from assetsite.pagination import keyset_cursor, keyset_page
    from search.timeline import month_parse, month_start_values

    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL only")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    Asset.objects.bulk_create(
        Asset(owner=user if n % 3 else other_user, file=f"f{n}", original_filename=f"{n}.jpg",
              sha256=f"{n:064d}", format="JPEG", mime_type="image/jpeg", width=10, height=10, byte_size=1,
              taken_at=None if n % 7 == 0 else start + timedelta(hours=n))
        for n in range(5000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE media_asset")
    ordered = assets_search(user=user, query=None, sort="taken")
    plan = ordered[:49].explain()
    assert "asset_owner_timeline" in plan and "Sort" not in plan.split("Index")[0], plan
    # A jump's page too: the cursor's bound is a range on the same index.
    cursor = keyset_cursor(queryset=ordered, values=month_start_values(month_parse("2020-03")))
    page = keyset_page(queryset=ordered, cursor=cursor, size=48)
    # It starts at March's newest picture (5000 hours from 1 January reach into July).
    assert all(item.sort_date < datetime(2020, 4, 1, tzinfo=UTC) for item in page.items)
    assert page.items[0].sort_date >= datetime(2020, 3, 31, 20, tzinfo=UTC)
