"""Collections, favourites, "select all matching", zip downloads, share links and the trash in a real
headless Chromium against a live server (Debian's /usr/bin/chromium; skipped where it is missing).

No worker here: pictures are uploaded through the real upload service and given the boxes a detector
would store (tests/tagged_assets.tag), so the pages have something to show. Screenshots go where
tests/system/test_browser.py puts them (UI_SCREENSHOTS_DIR=docs/screenshots refreshes the committed ones).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from albums.models import Collection
from media.models import Asset
from media.services import asset_create
from tagging.boxes import Box
from tagging.models import Detection, ReviewState
from tests.factories import UserFactory
from tests.images import upload
from tests.system.test_browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Page,
    log_in,
    screenshot,
    unlabelled_controls,
)
from tests.tagged_assets import tag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLOURS = {"circle": (200, 30, 30), "square": (30, 90, 200), "triangle": (30, 150, 60)}
SCENES = [
    ("harbour.png", (214, 228, 240), ["circle", "square"]),
    ("meadow.png", (214, 236, 214), ["triangle", "circle"]),
    ("attic.png", (240, 228, 210), ["square"]),
    ("kiosk.png", (236, 222, 236), ["circle", "triangle", "square"]),
    ("pier.png", (222, 232, 240), ["triangle"]),
    ("orchard.png", (228, 240, 220), ["circle"]),
]


def picture(background: tuple[int, int, int], shapes: list[str], size=(480, 320)) -> tuple[bytes, list]:
    """A PNG with the shapes side by side, and their boxes."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    side, top = 110, 100
    boxes = []
    for index, shape in enumerate(shapes):
        left = int(size[0] * (index + 0.5) / len(shapes) - side / 2)
        if shape == "circle":
            draw.ellipse((left, top, left + side, top + side), fill=COLOURS[shape])
        elif shape == "square":
            draw.rectangle((left, top, left + side, top + side), fill=COLOURS[shape])
        else:
            draw.polygon([(left + side / 2, top), (left + side, top + side), (left, top + side)], fill=COLOURS[shape])
        boxes.append((shape, 0.9 - 0.05 * index, Box(left, top, side, side)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), boxes


@pytest.fixture
def library(sent):
    """A user with six tagged pictures (``sent`` keeps their tagging tasks off the broker)."""
    user = UserFactory(username="collector", password=PASSWORD)
    assets = {}
    for name, background, shapes in SCENES:
        data, boxes = picture(background, shapes)
        asset = asset_create(owner=user, file=upload(data, name, "image/png")).asset
        tag(asset, *boxes)
        assets[name] = asset
    return user, assets


def all_loaded(page, selector: str) -> None:
    """Every image under ``selector`` arrived and decoded (a broken one never gets a width)."""
    page.wait_for_function(
        "(selector) => [...document.querySelectorAll(selector)].every((img) => img.complete && img.naturalWidth > 0)",
        arg=selector,
    )


def logged_in(browser, live_server, user, **options) -> Page:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, **options)
    tab = Page(context, live_server.url)
    tab.page.set_default_timeout(30_000)
    tab.go("/accounts/login/")
    log_in(tab.page, live_server.url, user)
    return tab


def test_hearts_collections_select_all_zip_and_share_links(browser, live_server, library, monkeypatch, tmp_path):
    from library.views import LibraryView

    user, assets = library
    monkeypatch.setattr(LibraryView, "page_size", 2)  # "all matching" must reach past the loaded cards
    tab = logged_in(browser, live_server, user)
    page = tab.page
    site = live_server.url

    # --- a heart on a card, through the API; it survives a reload ----------------------------------
    tab.go("/?q=circle")
    heart = page.get_by_role("button", name="Favourite harbour.png")
    assert heart.get_attribute("aria-pressed") == "false"
    heart.click()
    page.locator('button.heart-toggle.is-on[aria-pressed="true"]').first.wait_for()
    assert page.url.endswith("/?q=circle")  # no page load: the script used the API
    # The heart turns at once; the server's answer is announced (then the row is saved).
    page.wait_for_function("() => document.querySelector('#live').textContent.includes('Added to favourites')")
    assert Asset.objects.get(pk=assets["harbour.png"].pk).favorite is True

    # --- select all matching (4 circles, 2 loaded), add to a new collection ------------------------
    tab.go("/?q=circle")
    assert page.locator("#grid > li").count() >= 2
    page.get_by_label(re.compile(r"^All 4 images matching")).check()
    assert page.locator("#bulk-count").inner_text().startswith("All 4 matching selected")
    page.get_by_label("Collection to add to").fill("Round things")
    page.get_by_role("button", name="Add to collection").click()
    page.locator(".messages", has_text="Added 4 images to the new collection “Round things”.").wait_for()
    round_things = Collection.objects.get(owner=user, name="Round things")
    assert set(round_things.items.values_list("asset__original_filename", flat=True)) == {
        "harbour.png", "meadow.png", "kiosk.png", "orchard.png"
    }

    # --- a smart collection from the collections page ------------------------------------------------
    tab.go("/collections/")
    page.get_by_label("Name").fill("Hearts and squares")
    page.get_by_label("Smart: whatever this search finds").check()
    page.get_by_label("Search (smart collections)").fill("is:favorite OR square")
    page.get_by_role("button", name="Create collection").click()
    page.locator("h1", has_text="Hearts and squares").wait_for()
    assert page.locator("#grid > li").count() == 3  # harbour (heart), attic, kiosk
    assert unlabelled_controls(page) == []
    tab.go("/collections/")
    assert page.locator(".collection-card").count() == 2
    assert "4 images" in page.locator(".collection-card", has_text="Round things").inner_text()
    screenshot(page, "collections")

    # --- a zip of two ticked images from the library's selection bar ----------------------------------
    tab.go("/")
    page.locator("#grid > li:nth-child(6)").wait_for()  # the rest loads while scrolling
    page.get_by_label("Select attic.png").check()
    page.get_by_label("Select pier.png").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download zip").click()
    zipped = zipfile.ZipFile(download.value.path())
    assert sorted(zipped.namelist()) == ["attic.png", "pier.png"]
    for name in zipped.namelist():
        assert zipped.read(name) == Path(assets[name].file.path).read_bytes()

    # --- a share link with downloads, opened by someone without an account ------------------------------
    tab.go(f"/collections/{round_things.pk}/")
    page.get_by_label("Link works for (days; empty: until turned off)").fill("7")
    page.get_by_label("Allow downloading the originals").check()
    page.get_by_role("button", name="Make a share link").click()
    url = page.locator("#share-url").input_value()
    assert re.fullmatch(re.escape(site) + r"/s/[A-Za-z0-9_-]{32,}/", url)

    stranger = Page(browser.new_context(viewport=DESKTOP, accept_downloads=True), site)
    stranger.page.set_default_timeout(30_000)
    stranger.page.goto(url)
    shown = stranger.page.locator("#grid .name").all_inner_texts()
    assert sorted(shown) == ["harbour.png", "kiosk.png", "meadow.png", "orchard.png"]
    all_loaded(stranger.page, "#grid img")
    assert "attic.png" not in stranger.page.content() and "Log out" not in stranger.page.content()
    screenshot(stranger.page, "shared")
    stranger.page.locator("#grid .card-link").first.click()
    stranger.page.locator(".shared-asset h1").wait_for()
    first = stranger.page.locator(".shared-asset h1").inner_text()
    stranger.page.keyboard.press("ArrowRight")
    stranger.page.wait_for_function(f"() => document.querySelector('.shared-asset h1').textContent !== {first!r}")
    assert stranger.page.locator(".box").count() >= 1
    with stranger.page.expect_download() as original:
        stranger.page.get_by_role("link", name="Download original").click()
    name = original.value.suggested_filename
    assert Path(original.value.path()).read_bytes() == Path(assets[name].file.path).read_bytes()
    # Nothing else of the owner's through the link.
    other = assets["attic.png"]
    assert stranger.page.goto(f"{url}assets/{other.pk}/").status == 404
    assert stranger.page.goto(f"{site}/").url.startswith(f"{site}/accounts/login/")

    # --- on a phone, the shared grid fits -----------------------------------------------------------
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(url)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # --- revoked: the stranger is told so ---------------------------------------------------------------
    page.get_by_role("button", name="Turn the link off").click()
    page.locator(".messages", has_text="The share link is off").wait_for()
    gone = stranger.page.goto(url)
    assert gone.status == 410 and "turned this link off" in stranger.page.content()

    assert tab.unexpected_errors() == [], tab.errors
    assert stranger.unexpected_errors(allowed=("status of 404", "status of 410")) == [], stranger.errors


def test_trash_and_restore_in_the_browser(browser, live_server, library):
    user, assets = library
    tab = logged_in(browser, live_server, user)
    page = tab.page
    meadow = assets["meadow.png"]
    triangle = Detection.objects.get(asset=meadow, label__name="triangle")
    Detection.objects.filter(pk=triangle.pk).update(review=ReviewState.ACCEPTED)
    detections_before = sorted(Detection.objects.filter(asset=meadow).values_list("pk", "label__name", "review"))
    tab.go("/")
    page.get_by_label("Select meadow.png").check()
    page.get_by_label("Collection to add to").fill("Fields")
    page.get_by_role("button", name="Add to collection").click()
    page.locator(".messages", has_text="“Fields”").wait_for()

    # From the asset page to the trash.
    tab.go(f"/assets/{meadow.pk}/")
    page.get_by_role("button", name="Move to trash").click()
    page.locator(".messages", has_text="Moved “meadow.png” to the trash.").wait_for()
    assert "meadow.png" not in page.locator("#grid").inner_text()
    assert tab.page.goto(f"{live_server.url}/assets/{meadow.pk}/").status == 404

    # A bulk delete asks first, and says where the images go.
    tab.go("/")
    page.get_by_label("Select pier.png").check()
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    assert "Move 1 image to the trash?" in dialog.inner_text() and "30 days" in dialog.inner_text()
    dialog.get_by_role("button", name="Move 1 image to the trash").click()
    page.locator(".messages", has_text="Moved 1 image to the trash.").wait_for()

    # The trash shows both, with thumbnails; restore brings back the tags, reviews and collection.
    tab.go("/trash/")
    assert sorted(page.locator("#trash .name").all_inner_texts()) == ["meadow.png", "pier.png"]
    all_loaded(page, "#trash img")
    screenshot(page, "trash")
    page.get_by_role("button", name="Restore meadow.png").click()
    page.locator(".messages", has_text="Restored “meadow.png”").wait_for()
    assert sorted(Detection.objects.filter(asset=meadow).values_list("pk", "label__name", "review")) == (
        detections_before
    )
    tab.go(f"/collections/{Collection.objects.get(name='Fields').pk}/")
    assert page.locator("#grid .name").all_inner_texts() == ["meadow.png"]

    # Empty the trash: asked first, then gone for good with its files.
    pier = assets["pier.png"]
    tab.go("/trash/")
    page.get_by_role("link", name="Empty trash…").click()
    page.get_by_role("button", name="Empty the trash").click()
    page.locator(".messages", has_text="Deleted 1 image for good.").wait_for()
    assert not Asset.all_objects.filter(pk=pier.pk).exists()
    assert not Path(pier.file.path).exists()
    assert tab.unexpected_errors(allowed=("status of 404",)) == [], tab.errors


def test_hearts_collections_and_sharing_without_javascript(browser, live_server, library):
    user, assets = library
    tab = logged_in(browser, live_server, user, java_script_enabled=False)
    page = tab.page
    tab.go("/?q=triangle")
    page.get_by_role("button", name="Favourite pier.png").click()
    page.locator(".messages", has_text="Added “pier.png” to your favourites.").wait_for()
    assert page.url.endswith("/?q=triangle")
    assert Asset.objects.get(pk=assets["pier.png"].pk).favorite is True
    page.get_by_label(re.compile(r"^All 3 images matching")).check()
    page.get_by_label("Collection to add to").fill("Pointy")
    page.get_by_role("button", name="Add to collection").click()
    page.locator(".messages", has_text="Added 3 images to the new collection “Pointy”.").wait_for()
    pointy = Collection.objects.get(name="Pointy")
    tab.go(f"/collections/{pointy.pk}/")
    page.get_by_role("button", name="Make a share link").click()
    url = page.locator("#share-url").input_value()
    stranger = browser.new_context(java_script_enabled=False).new_page()
    stranger.goto(url)
    assert sorted(stranger.locator("#grid .name").all_inner_texts()) == ["kiosk.png", "meadow.png", "pier.png"]
    stranger.locator("#grid .card-link").first.click()
    stranger.locator("#share-next").click()
    stranger.locator(".shared-asset h1").wait_for()
    assert stranger.locator("text=Download original").count() == 0  # not allowed for this link
