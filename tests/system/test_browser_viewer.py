"""The viewer, the place kept on Back, the timeline and the dark theme in a real headless Chromium against a
live server (Debian's /usr/bin/chromium; skipped where it is missing).

No worker: pictures go through the real upload service and get the boxes a detector would store
(tests/tagged_assets.tag). Screenshots go where tests/system/test_browser.py puts them
(UI_SCREENSHOTS_DIR=docs/screenshots, `make screenshots`, refreshes the committed viewer.png and timeline.png).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image, ImageDraw

from media.models import Asset
from media.services import asset_create, asset_trash
from tagging.boxes import Box
from tests.factories import UserFactory
from tests.images import upload
from tests.system.test_browser import (
    PASSWORD,
    PHONE,
    Page,
    log_in,
    screenshot,
    unlabelled_controls,
)
from tests.system.test_browser_collections import COLOURS, SCENES, all_loaded, logged_in
from tests.tagged_assets import tag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BACKGROUNDS = [background for _, background, _ in SCENES]
SHAPES = [shapes for _, _, shapes in SCENES]


def picture(background: tuple[int, int, int], shapes: list[str], size: tuple[int, int]) -> tuple[bytes, list]:
    """A PNG with the shapes side by side (a third of the height each), and their boxes."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    side, top = size[1] // 3, size[1] // 3
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


def make_library(
    owner, count: int, *, size=(480, 320), start=datetime(2024, 6, 30, 18, tzinfo=UTC), first: int = 0, hours: int = 20
) -> list[Asset]:
    """``count`` tagged pictures, newest first, taken ``hours`` apart (so days and months change), named
    pic-<first>.png on (each a different picture: the same content twice would be one asset)."""
    assets = []
    for index in range(first, first + count):
        background = tuple((channel + 3 * index) % 256 for channel in BACKGROUNDS[index % len(BACKGROUNDS)])
        data, boxes = picture(background, SHAPES[index % len(SHAPES)], size=size)
        asset = asset_create(owner=owner, file=upload(data, f"pic-{index:02d}.png", "image/png")).asset
        tag(asset, *boxes)
        uploaded = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(minutes=index)
        taken = start - timedelta(hours=hours * (index - first))
        Asset.objects.filter(pk=asset.pk).update(taken_at=taken, created_at=uploaded)
        asset.refresh_from_db()
        assets.append(asset)
    return assets


@pytest.fixture
def viewer_user(sent):
    return UserFactory(username="viewer", password=PASSWORD)


def open_state(page) -> dict:
    return page.evaluate(
        """() => {
          const box = document.getElementById("lightbox");
          return {open: !!box && !box.hidden, id: box && box.getAttribute("data-asset-id"),
                  title: document.getElementById("lightbox-title")?.textContent,
                  busy: box?.getAttribute("aria-busy"), scale: Number(box?.getAttribute("data-scale"))};
        }"""
    )


def wait_shown(page, name: str) -> None:
    page.wait_for_function(
        "(name) => { const b = document.getElementById('lightbox'); return b && !b.hidden"
        " && !b.hasAttribute('aria-busy') && document.getElementById('lightbox-title').textContent === name; }",
        arg=name,
    )


def test_viewer_keys_zoom_boxes_heart_pages_and_escape(browser, live_server, viewer_user, monkeypatch):
    from library.views import LibraryView

    monkeypatch.setattr(LibraryView, "page_size", 3)  # ← → must reach past the loaded cards
    assets = make_library(viewer_user, 5, size=(1800, 1200))  # larger than the large thumbnail
    tab = logged_in(browser, live_server, viewer_user)
    page = tab.page
    # No loading while scrolling here (three cards leave the next-page link in view): only the viewer loads.
    page.add_init_script("delete window.IntersectionObserver")
    tab.go("/?q=circle OR square OR triangle")
    assert page.locator("#grid .card").count() == 3

    # Open from the grid: full window, its address names the picture.
    page.locator("#grid .card-link").first.click()
    wait_shown(page, "pic-00.png")
    assert f"view={assets[0].pk}" in page.url and "q=circle" in page.url
    assert page.locator("#lightbox-position").inner_text() == "1 of 5"
    boxes = page.locator("#lightbox-boxes .lightbox-box")
    assert boxes.count() == len(SHAPES[0])
    assert re.match(r"circle 0\.9\d", boxes.first.inner_text())
    all_loaded(page, "#lightbox-img")
    screenshot(page, "viewer")
    assert unlabelled_controls(page) == []
    names = page.locator("#lightbox button").evaluate_all("(items) => items.map((b) => b.textContent.trim())")
    assert all(names), names  # every button of the viewer has words for a screen reader

    # b: boxes off and on again.
    page.keyboard.press("b")
    assert page.locator("#lightbox-boxes").is_hidden()
    assert page.get_by_role("button", name="Boxes").get_attribute("aria-pressed") == "false"
    page.keyboard.press("b")
    assert page.locator("#lightbox-boxes").is_visible()

    # 1: the original's own pixels, from the original file; drag pans; 0 fits again.
    page.keyboard.press("1")
    page.wait_for_function("() => document.getElementById('lightbox').getAttribute('data-full-loaded') === '1'")
    size = page.evaluate(
        "() => { const i = document.getElementById('lightbox-img'); const r = i.getBoundingClientRect();"
        " return [i.naturalWidth, i.naturalHeight, Math.round(r.width), Math.round(r.height), i.src]; }"
    )
    assert size[:4] == [1800, 1200, 1800, 1200] and "/original/" in size[4]
    before = page.locator("#lightbox-frame").evaluate("(f) => f.style.transform")
    stage = page.locator("#lightbox-stage").bounding_box()
    page.mouse.move(stage["x"] + 300, stage["y"] + 300)
    page.mouse.down()
    page.mouse.move(stage["x"] + 150, stage["y"] + 200, steps=4)
    page.mouse.up()
    after = page.locator("#lightbox-frame").evaluate("(f) => f.style.transform")
    assert after != before
    assert open_state(page)["id"] == str(assets[0].pk)  # a drag while zoomed pans, it does not turn the page
    page.keyboard.press("0")
    assert open_state(page)["scale"] < 1

    # → past the three loaded cards: the next page comes through the keyset link.
    for index in range(1, 5):
        page.keyboard.press("ArrowRight")
        wait_shown(page, f"pic-{index:02d}.png")
    assert page.locator("#grid .card").count() == 5
    assert page.locator("#lightbox-position").inner_text() == "5 of 5"
    assert f"view={assets[4].pk}" in page.url
    page.keyboard.press("ArrowRight")
    page.locator("#lightbox-status", has_text="This is the last picture.").wait_for()
    page.keyboard.press("ArrowLeft")
    wait_shown(page, "pic-03.png")

    # f: the heart, through the API; the card's heart follows.
    page.keyboard.press("f")
    page.locator(f'#card-{assets[3].pk} button.heart-toggle[aria-pressed="true"]').wait_for()
    page.wait_for_function("() => document.getElementById('live').textContent === 'Added to favourites.'")
    assert Asset.objects.get(pk=assets[3].pk).favorite is True

    # Esc: back in the grid, at the card just seen, the address without view=.
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('lightbox').hidden")
    assert "view=" not in page.url and "q=circle" in page.url
    focused = page.evaluate("() => document.activeElement.closest('.card')?.getAttribute('data-asset-id')")
    assert focused == str(assets[3].pk)
    assert page.locator(f"#card-{assets[3].pk}").is_visible()

    # The address opens the same picture for its owner (a reload, a link sent to oneself)...
    shared = f"{live_server.url}/?q=circle+OR+square+OR+triangle&view={assets[2].pk}"
    page.goto(shared)
    wait_shown(page, "pic-02.png")
    page.keyboard.press("ArrowRight")
    wait_shown(page, "pic-03.png")  # ... and goes on through the same results
    # Back from the picture's page (its "Details") reopens the viewer where it was.
    page.get_by_role("link", name="Details").click()
    page.locator(".asset-meta h1", has_text="pic-03.png").wait_for()
    page.go_back()
    wait_shown(page, "pic-03.png")

    # ... and is a 404 for anybody else.
    stranger = UserFactory(username="stranger", password=PASSWORD)
    other = logged_in(browser, live_server, stranger)
    assert other.page.goto(shared).status == 404
    assert tab.unexpected_errors() == [], tab.errors


def test_viewer_shows_a_tiff_at_its_own_pixels_through_a_rendition(browser, live_server, viewer_user):
    from tests.tagged_assets import make_asset

    make_asset(viewer_user, color=(40, 90, 160), name="scan.tiff", size=(1500, 1000), fmt="TIFF")
    tab = logged_in(browser, live_server, viewer_user)
    page = tab.page
    tab.go("/")
    page.locator("#grid .card-link").first.click()
    wait_shown(page, "scan.tiff")
    page.keyboard.press("1")
    page.wait_for_function("() => document.getElementById('lightbox').getAttribute('data-full-loaded') === '1'")
    image = page.locator("#lightbox-img")
    shown = [image.evaluate("(i) => i.naturalWidth"), image.get_attribute("src")]
    assert shown[0] == 1500 and "/rendition/" in shown[1] and "format=webp" in shown[1]
    assert tab.unexpected_errors() == [], tab.errors


def test_viewer_opens_from_a_collections_own_page(browser, live_server, viewer_user, monkeypatch):
    from albums.services import collection_add, collection_create
    from library.collections_views import CollectionDetailView

    monkeypatch.setattr(CollectionDetailView, "page_size", 3)
    assets = make_library(viewer_user, 5)
    walks = collection_create(owner=viewer_user, name="Walks")
    collection_add(collection=walks, assets=Asset.objects.filter(pk__in=[a.pk for a in assets[:4]]))
    tab = logged_in(browser, live_server, viewer_user)
    page = tab.page
    tab.go(f"/collections/{walks.pk}/")
    assert page.locator("#grid .card").count() == 3

    page.locator("#grid .card-link").first.click()
    wait_shown(page, "pic-00.png")
    assert f"view={assets[0].pk}" in page.url
    assert page.locator("#lightbox-position").inner_text() == "1 of 4"
    assert page.locator("#lightbox-boxes .lightbox-box").count() == len(SHAPES[0])
    for index in (1, 2):
        page.keyboard.press("ArrowRight")
        wait_shown(page, f"pic-{index:02d}.png")
    # No endless loading on this page: the viewer says the rest is behind the page's Next link.
    page.keyboard.press("ArrowRight")
    page.locator("#lightbox-status", has_text="This is the last picture on this page.").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('lightbox').hidden")
    assert "view=" not in page.url

    # The next page, reached through its link, counts within itself (a keyset page has no offset).
    page.get_by_role("link", name="Next →").click()
    page.locator("#grid .card").first.wait_for()
    page.locator("#grid .card-link").first.click()
    wait_shown(page, "pic-03.png")
    assert page.locator("#lightbox-position").inner_text() == "1 of 1 on this page"
    assert tab.unexpected_errors() == [], tab.errors

    # Opened by address: the owner's picture, not someone else's.
    stranger = UserFactory(username="stranger", password=PASSWORD)
    theirs = make_library(stranger, 1, first=7)[0]
    page.goto(f"{live_server.url}/collections/{walks.pk}/?view={assets[1].pk}")
    wait_shown(page, "pic-01.png")
    assert page.goto(f"{live_server.url}/collections/{walks.pk}/?view={theirs.pk}").status == 404


def test_viewer_swipes_on_a_phone_and_pages_work_without_javascript(browser, live_server, viewer_user):
    assets = make_library(viewer_user, 3)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    tab = Page(context, live_server.url)
    tab.go("/accounts/login/")
    log_in(tab.page, live_server.url, viewer_user)
    page = tab.page
    tab.go("/")
    page.locator("#grid .card-link").first.tap()
    wait_shown(page, "pic-00.png")
    assert page.locator(".lightbox-stage").bounding_box()["width"] == PHONE["width"]
    cdp = context.new_cdp_session(page)

    def swipe(from_x: int, to_x: int) -> None:
        y = 400
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": from_x, "y": y}]})
        for step in range(1, 6):
            x = from_x + (to_x - from_x) * step / 5
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    swipe(300, 60)  # to the left: the next picture
    wait_shown(page, "pic-01.png")
    swipe(300, 60)
    wait_shown(page, "pic-02.png")
    swipe(60, 300)  # to the right: back
    wait_shown(page, "pic-01.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "viewer-phone")
    assert tab.unexpected_errors() == [], tab.errors

    # Without JavaScript a card is a link to the picture's page, and ?view= offers the same link.
    plain = logged_in(browser, live_server, viewer_user, java_script_enabled=False)
    plain.go(f"/?view={assets[1].pk}")
    plain.page.get_by_role("link", name="Open pic-01.png").click()
    plain.page.locator(".asset-meta h1", has_text="pic-01.png").wait_for()
    plain.go("/")
    plain.page.locator("#grid .card-link").first.click()
    plain.page.locator(".asset-meta h1", has_text="pic-00.png").wait_for()


def test_back_restores_the_loaded_pages_and_the_scroll_position(browser, live_server, viewer_user, monkeypatch):
    from library.views import LibraryView

    monkeypatch.setattr(LibraryView, "page_size", 4)
    assets = make_library(viewer_user, 14)
    tab = logged_in(browser, live_server, viewer_user)
    page = tab.page
    page.set_viewport_size({"width": 600, "height": 500})
    tab.go("/")
    # Scroll until every page is loaded, then stop half-way up the last ones.
    while page.locator("#grid .card").count() < 14:
        count = page.locator("#grid .card").count()
        page.mouse.wheel(0, 4000)
        page.wait_for_function(f"() => document.querySelectorAll('#grid .card').length > {count}")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight - 1200)")
    page.wait_for_timeout(300)  # the scroll position is kept 150 ms after scrolling stops
    kept_y = page.evaluate("window.scrollY")
    assert kept_y > 600
    target = page.locator(f"#card-{assets[11].pk}")

    # To the picture's page (a plain link, the way a new tab or the viewer's Details goes) and Back.
    page.goto(f"{live_server.url}/assets/{assets[11].pk}/")
    page.locator(".asset-meta h1").wait_for()
    page.go_back()
    page.wait_for_function("() => document.documentElement.hasAttribute('data-place-restored')")
    assert page.locator("#grid .card").count() == 14
    assert abs(page.evaluate("window.scrollY") - kept_y) <= 2
    assert target.is_visible()

    # The same after a reload; a fresh visit starts at the top with the first page.
    page.reload()
    page.wait_for_function("() => document.documentElement.hasAttribute('data-place-restored')")
    assert abs(page.evaluate("window.scrollY") - kept_y) <= 2
    page.get_by_role("link", name="Library").click()
    page.locator("#grid .card").first.wait_for()
    assert page.evaluate("window.scrollY") == 0
    assert not page.evaluate("document.documentElement.hasAttribute('data-place-restored')")
    assert page.locator("#grid .card").count() < 14  # the first page (and perhaps the next, in view)
    assert tab.unexpected_errors() == [], tab.errors


def test_timeline_headings_dates_and_jump_to_a_month(browser, live_server, viewer_user, monkeypatch):
    from library.views import LibraryView

    monkeypatch.setattr(LibraryView, "page_size", 4)
    # 10 pictures 7 h apart from 30 June 2024 18:00 back to 28 June; one more from 2023; one trashed.
    make_library(viewer_user, 10, hours=7)
    old = make_library(viewer_user, 1, start=datetime(2023, 3, 4, 12, tzinfo=UTC), first=10)[0]
    Asset.objects.filter(pk=old.pk).update(original_filename="march.png")
    gone = make_library(viewer_user, 1, start=datetime(2022, 1, 1, tzinfo=UTC), first=11)[0]
    asset_trash(asset=gone)
    tab = logged_in(browser, live_server, viewer_user)
    page = tab.page
    tab.go("/")
    page.get_by_label("Sort").select_option("taken")
    page.get_by_role("button", name="Search").click()
    page.locator("#grid.timeline").wait_for()
    assert "sort=taken" in page.url
    assert page.get_by_role("link", name="Timeline").get_attribute("aria-current") == "page"
    assert page.locator("#grid .date-month h2").all_inner_texts()[0] == "June 2024"
    assert page.locator("#grid .date-day h3").first.inner_text() == "Sunday 30 June 2024"
    assert page.locator("#grid .card").first.locator(".card-date").inner_text() == "30 Jun 2024, 18:00"
    options = page.locator("#timeline-month option").all_inner_texts()
    assert options == ["June 2024 (10)", "March 2023 (1)"]  # the trashed 2022 picture is not there
    # Scrolling loads on; a day that goes on across pages keeps one heading.
    while page.locator("#grid .card").count() < 11:
        count = page.locator("#grid .card").count()
        page.mouse.wheel(0, 5000)
        page.wait_for_function(f"() => document.querySelectorAll('#grid .card').length > {count}")
    days = page.locator("#grid .date-day").evaluate_all("(items) => items.map((i) => i.getAttribute('data-date-key'))")
    assert len(days) == len(set(days)) and days[0] == "2024-06-30" and days[-1] == "2023-03-04"
    assert page.locator("#grid .date-month h2").all_inner_texts() == ["June 2024", "March 2023"]
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "timeline")
    assert unlabelled_controls(page) == []

    # Jump to March 2023: the page starts there; Previous goes back to the newer ones.
    page.get_by_label("Jump to").select_option("2023-03")
    page.get_by_role("button", name="Go").click()
    page.locator("#grid .card").first.wait_for()
    assert page.locator("#grid .name").all_inner_texts() == ["march.png"]
    assert page.locator("#timeline-month").input_value() == "2023-03"
    assert page.locator("a[rel=prev]").count() == 1

    # The viewer goes through the timeline in its order.
    tab.go("/?sort=taken")
    page.locator("#grid .card-link").first.click()
    wait_shown(page, "pic-00.png")
    page.keyboard.press("ArrowRight")
    wait_shown(page, "pic-01.png")
    assert tab.unexpected_errors() == [], tab.errors


CONTRAST = """
() => {
  function parse(text) {
    let m = /rgba?\\(([^)]+)\\)/.exec(text);
    if (m) {
      const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = /color\\(srgb ([^)]+)\\)/.exec(text);
    if (m) {
      const p = m[1].split(/[\\s\\/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    return null;
  }
  function over(top, bottom) {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  }
  function background(element) {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color && color[3] > 0) {
        layers.push(color);
        if (color[3] >= 1) break;
      }
    }
    let result = [255, 255, 255, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) result = layers.pop();
    while (layers.length) result = over(layers.pop(), result);
    return result;
  }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function ratio(a, b) {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  }
  const found = [];
  let checked = 0;
  for (const element of document.querySelectorAll("body *")) {
    const own = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || element.closest("[hidden], option, optgroup, script, .visually-hidden, :disabled")) continue;
    const style = getComputedStyle(element);
    const rect = element.getBoundingClientRect();
    if (style.visibility !== "visible" || rect.width < 2 || rect.height < 2 || style.opacity === "0") continue;
    const color = parse(style.color);
    const bg = background(element);
    const value = ratio(over(color, bg), bg);
    checked += 1;
    if (value < 4.5) {
      found.push(`${element.tagName.toLowerCase()}.${element.className} "${element.textContent.trim().slice(0, 30)}"` +
                 ` ${style.color} on ${bg.map(Math.round).join(",")}: ${value.toFixed(2)}`);
    }
  }
  return {checked, found};
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_in_both_themes_and_the_toggle_is_kept(browser, live_server, viewer_user, scheme):
    assets = make_library(viewer_user, 4)
    Asset.objects.filter(pk=assets[1].pk).update(favorite=True)
    tab = logged_in(browser, live_server, viewer_user, color_scheme=scheme)
    page = tab.page
    dark_bg = "rgb(13, 17, 23)"
    expected_bg = dark_bg if scheme == "dark" else "rgb(255, 255, 255)"
    checked = 0
    for path in ("/", "/?sort=taken", f"/assets/{assets[0].pk}/", "/?q=zebra", "/collections/", "/trash/",
                 "/upload/", "/review/", f"/?view={assets[0].pk}"):
        tab.go(path)
        page.wait_for_load_state("load")
        if "view=" in path:
            wait_shown(page, "pic-00.png")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == expected_bg, path
        result = page.evaluate(CONTRAST)
        assert result["found"] == [], (path, result["found"])
        checked += result["checked"]
    assert checked > 150  # the walk saw the pages' text
    # ... and would see faint text (grey on grey: 1.3:1).
    page.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'faint words'; p.style.color = '#777';"
        " p.style.background = '#888'; document.querySelector('main').appendChild(p); }"
    )
    assert [item for item in page.evaluate(CONTRAST)["found"] if '"faint words"' in item]
    if scheme == "dark":
        page.keyboard.press("Escape")
        screenshot(page, "library-dark")

    # The toggle flips the theme and keeps it; the early script applies it before the page is shown.
    tab.go("/")
    toggle = page.get_by_role("button", name="Dark theme")
    assert toggle.get_attribute("aria-pressed") == ("true" if scheme == "dark" else "false")
    toggle.click()
    flipped = "light" if scheme == "dark" else "dark"
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == flipped
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => {"
        " window.themeAtFirstParse = document.documentElement.getAttribute('data-theme');"
        " window.bodyAtFirstParse = getComputedStyle(document.body).backgroundColor; });"
    )
    tab.go(f"/assets/{assets[0].pk}/")
    assert page.evaluate("window.themeAtFirstParse") == flipped
    assert page.evaluate("window.bodyAtFirstParse") == ("rgb(255, 255, 255)" if flipped == "light" else dark_bg)
    head = page.evaluate(
        "[...document.head.children].map((e) => e.tagName + (e.getAttribute('src') || e.getAttribute('href') || ''))"
    )
    assert head.index(next(item for item in head if item.endswith("early.js"))) < head.index(
        next(item for item in head if item.endswith("site.css"))
    )
    result = page.evaluate(CONTRAST)
    assert result["found"] == [], result["found"]
    # Flipping back to what the system says follows the system again (nothing kept).
    page.get_by_role("button", name="Dark theme").click()
    kept = "[document.documentElement.getAttribute('data-theme'), localStorage.getItem('assetsite-theme')]"
    assert page.evaluate(kept) == [None, None]
    assert tab.unexpected_errors() == [], tab.errors
