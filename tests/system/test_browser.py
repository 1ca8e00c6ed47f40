"""The web UI in a real headless Chromium against a live server and a real Celery worker with the
shipped shapes detector: log in, drop files on the upload page and watch progress and tagging, search,
look at boxes, download a crop, review, draw a manual tag, re-tag, bulk-tag, use the review queue with
the keyboard, manage the API token. Screenshots of the main pages go to $VAR_DIR/screenshots/
(`make screenshots` writes them to docs/screenshots/ instead, to refresh the committed ones).

Uses Debian's /usr/bin/chromium (never a downloaded browser); skipped where it is missing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from library.views import LibraryView
from media.models import Asset, TaggingStatus
from tagging.models import Detection, DetectionSource, ReviewState
from tagging.templatetags.tagging_ui import label_colors
from testkit.shapes import three_shapes_scene
from testkit.worker_process import REPO
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Not into the work tree: a test run must leave it clean. UI_SCREENSHOTS_DIR=docs/screenshots (make
# screenshots) refreshes the committed ones.
SCREENSHOTS = Path(
    os.environ.get("UI_SCREENSHOTS_DIR") or Path(os.environ.get("VAR_DIR") or REPO / "var" / "test") / "screenshots"
)
MAX_SCREENSHOT_BYTES = 300_000
PASSWORD = "correct horse battery staple"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
WAIT_MS = 120_000


class Page:
    """A browser tab that records script errors and console errors."""

    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def unexpected_errors(self, allowed: tuple[str, ...] = ()) -> list[str]:
        return [error for error in self.errors if not any(word in error for word in allowed)]


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    """A PNG under SCREENSHOTS, reduced to 256 colours so it stays small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    image = Image.open(io.BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, "PNG", optimize=True
    )
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{path} is {path.stat().st_size} bytes"
    return path


def scene_file(name: str, background: tuple[int, int, int], size=(480, 320)) -> dict:
    buffer = io.BytesIO()
    three_shapes_scene(size=size, background=background).image.save(buffer, "PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def big_file(name: str) -> dict:
    """A photo-sized PNG (noise compresses badly), so its upload takes a while on a slow link."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (900, 600), os.urandom(900 * 600 * 3)).save(buffer, "PNG", compress_level=1)
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


DROP = """
([files]) => {
  const data = new DataTransfer();
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.b64), (c) => c.charCodeAt(0));
    data.items.add(new File([bytes], file.name, { type: file.type }));
  }
  const zone = document.getElementById("dropzone");
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
  }
}
"""


def drop(page, files: list[dict]) -> None:
    payload = [{"name": f["name"], "type": f["mimeType"], "b64": base64.b64encode(f["buffer"]).decode()} for f in files]
    page.evaluate(DROP, [payload])


def unlabelled_controls(page) -> list[str]:
    """Visible form controls that have neither a <label> nor an aria-label."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("input, select, textarea"))
            .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
            .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )


def log_in(page, site: str, user) -> None:
    """Through the login form, as a person would; ends on the library."""
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site + "/")


def logged_in_page(context, site: str, user):
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(site + "/accounts/login/")
    log_in(page, site, user)
    return page


def detection(asset: Asset, label: str) -> Detection:
    return Detection.objects.get(asset=asset, label__name=label)


def test_upload_browse_review_retag_and_bulk_in_a_real_browser(browser, site, worker, tmp_path, monkeypatch):
    user = UserFactory(username="browser-user", password=PASSWORD)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    tab = Page(context, site)
    page = tab.page
    page.set_default_timeout(30_000)

    # --- log in -------------------------------------------------------------------------------------
    tab.go("/")
    assert "/accounts/login/" in page.url
    log_in(page, site, user)
    assert page.get_by_role("link", name="Review").is_visible()

    # --- upload: drop files, watch progress and status ------------------------------------------------
    tab.go("/upload/")
    assert unlabelled_controls(page) == []
    scenes = [
        scene_file("beach.png", (225, 230, 235)),
        scene_file("garden.png", (200, 230, 210), size=(520, 340)),
        scene_file("kitchen.png", (240, 220, 200), size=(500, 330)),
    ]
    # A slow link, so the big file's progress can be seen on its way.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 400_000},
    )
    drop(page, scenes[:2])
    page.set_input_files("#id_files", [scenes[2], big_file("noise.png")])
    big_bar = page.locator(".upload-item", has_text="noise.png").locator("progress")
    page.wait_for_function("(bar) => bar.value > 0 && bar.value < 100", arg=big_bar.element_handle(), timeout=WAIT_MS)
    screenshot(page, "upload-progress")
    page.wait_for_function(
        "() => document.querySelectorAll('.upload-item[data-state=tagged]').length === 4", timeout=WAIT_MS
    )
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    for name in ("beach.png", "garden.png", "kitchen.png"):
        item = page.locator(".upload-item", has_text=name)
        assert item.locator("progress").evaluate("bar => bar.value") == 100
        assert "Uploaded; tagged:" in item.inner_text()
        assert sorted(item.locator(".chip").all_inner_texts()) == ["circle", "square", "triangle"]
    assert "tagged: nothing recognised" in page.locator(".upload-item", has_text="noise.png").inner_text()
    assert page.locator("#overall-progress").evaluate("bar => bar.value") == 100
    # The chips have the same colours as on the server-rendered pages.
    chip_colour = page.locator(".upload-item .chip", has_text="circle").first.evaluate(
        "el => getComputedStyle(el).getPropertyValue('--label-chip').trim()"
    )
    assert chip_colour == label_colors("circle").chip
    names = ["circle", "traffic light", "ünïcode ☂", "x" * 100, *[f"label {n}" for n in range(200)]]
    in_browser = page.evaluate("names => names.map((name) => window.Assetsite.labelColors(name))", names)
    for name, colors in zip(names, in_browser, strict=True):
        expected = label_colors(name)
        assert (colors["hue"], colors["box"], colors["boxText"], colors["chip"], colors["chipText"]) == (
            expected.hue,
            expected.box,
            expected.box_text,
            expected.chip,
            expected.chip_text,
        ), name

    # The same image again, and something that is not an image: each says so in plain words.
    page.set_input_files(
        "#id_files",
        [
            {**scenes[0], "name": "beach-again.png"},
            {"name": "notes.html", "mimeType": "text/html", "buffer": b"<!doctype html><p>hello</p>"},
        ],
    )
    # A folder, where the browser allows picking one: hidden files in it are left out.
    folder = tmp_path / "holiday"
    folder.mkdir()
    (folder / "beach-copy.png").write_bytes(scenes[0]["buffer"])
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    page.set_input_files("#id_folder", folder)
    page.locator(".upload-item", has_text="holiday/beach-copy.png").locator("text=Already in your library").wait_for()
    assert page.locator(".upload-item", has_text="DS_Store").count() == 0
    again = page.locator(".upload-item", has_text="beach-again.png")
    again.locator("text=Already in your library").wait_for()
    refused = page.locator(".upload-item", has_text="notes.html")
    refused.locator("text=Refused:").wait_for()
    assert "HTML page" in refused.inner_text()
    page.wait_for_function("() => document.getElementById('overall-summary').textContent.startsWith('Done:')")
    summary = page.locator("#overall-summary").inner_text()
    assert summary == "Done: 6 of 7 uploaded (2 already in your library) · 1 refused · 6 tagged."
    screenshot(page, "upload-done", full_page=True)
    assert Asset.objects.filter(owner=user).count() == 4
    assert set(Asset.objects.filter(owner=user).values_list("tagging_status", flat=True)) == {TaggingStatus.TAGGED}

    # --- library and search ----------------------------------------------------------------------------
    tab.go("/")
    assert page.locator("#grid > li").count() == 4
    search = page.locator("#q")
    search.fill("")
    search.type("tri")
    page.locator("#q-suggestions [role=option]", has_text="triangle").wait_for()
    search.press("ArrowDown")
    search.press("Enter")
    assert search.input_value() == "triangle "
    search.press("Enter")
    page.wait_for_url(re.compile(r"q=triangle"))
    assert page.locator("#grid > li").count() == 3
    assert "noise.png" not in page.locator("#grid").inner_text()

    # --- the asset page: boxes, hover, toggles, slider, crop -------------------------------------------
    beach = Asset.objects.get(owner=user, original_filename="beach.png")
    tab.go(f"/assets/{beach.pk}/")
    boxes = page.locator(".box")
    assert boxes.count() == 3
    circle = detection(beach, "circle")
    circle_box = page.locator(f'.box[data-detection-id="{circle.pk}"]')
    circle_row = page.locator(f"#detection-{circle.pk}")
    border = circle_box.evaluate("el => getComputedStyle(el).borderTopColor")
    red, green, blue = (int(label_colors("circle").box[i : i + 2], 16) for i in (1, 3, 5))
    assert border == f"rgb({red}, {green}, {blue})"
    circle_box.hover()
    assert "is-highlighted" in circle_row.get_attribute("class")
    circle_row.locator("th").hover()
    assert "is-highlighted" in circle_box.get_attribute("class")
    page.mouse.move(0, 0)  # a highlighted box always shows its caption
    page.get_by_label("Label names on boxes").uncheck()
    assert not circle_box.locator(".box-caption").is_visible()
    page.get_by_label("Label names on boxes").check()
    page.locator("[data-label-toggle=circle]").uncheck()
    assert not circle_box.is_visible() and boxes.nth(1).is_visible()
    page.locator("[data-label-toggle=circle]").check()
    assert circle_box.is_visible()
    # The slider hides every box weaker than its value (keyboard: End is the maximum, 1.00).
    confidences = [float(value) for value in boxes.evaluate_all("els => els.map(el => el.dataset.confidence)")]
    page.locator("#min-confidence").focus()
    page.keyboard.press("End")
    assert page.locator("#min-confidence-value").inner_text() == "1.00"
    assert page.locator(".box:visible").count() == sum(1 for value in confidences if value >= 1.0)
    page.keyboard.press("Home")
    assert page.locator(".box:visible").count() == 3

    with page.expect_download() as download_info:
        circle_row.get_by_role("link", name=re.compile("Download crop")).click()
    crop = Image.open(download_info.value.path())
    assert crop.size == (circle.width, circle.height)
    assert download_info.value.suggested_filename == f"beach-circle-{circle.pk}.png"

    # --- review on the asset page: accept, reject, relabel, add with a drawn box -----------------------
    square, triangle = detection(beach, "square"), detection(beach, "triangle")
    page.locator(f"#accept-{circle.pk}").click()
    page.locator(f"#accept-{circle.pk}.is-on").wait_for()
    assert "Accepted “circle”." in page.locator("#review-status").inner_text()
    page.locator(f"#reject-{square.pk}").click()
    page.locator(f"#rejected li#detection-{square.pk}").wait_for(state="attached")
    assert page.locator(f'.box[data-detection-id="{square.pk}"]').count() == 0
    page.locator(f"#relabel-{triangle.pk}").fill("Pyramid")
    page.locator(f"#relabel-{triangle.pk}").press("Enter")
    page.locator(f'#detection-{triangle.pk}[data-label="pyramid"]').wait_for()

    # A bad box is explained before anything is sent.
    page.locator("#add-label").fill("sun")
    page.locator("#add-x").fill("470")
    page.locator("#add-y").fill("10")
    page.locator("#add-width").fill("40")
    page.locator("#add-height").fill("40")
    page.locator("#add-tag-submit").click()
    assert "does not fit in the 480×320 image" in page.locator("#add-tag-error").inner_text()
    page.locator("#box-clear").click()
    # Draw the box by dragging across the image's top right corner.
    page.locator("#draw-toggle").click()
    image = page.locator("#asset-img").bounding_box()
    scale = image["width"] / beach.width
    page.mouse.move(image["x"] + 400 * scale, image["y"] + 20 * scale)
    page.mouse.down()
    page.mouse.move(image["x"] + 440 * scale, image["y"] + 50 * scale, steps=5)
    page.mouse.move(image["x"] + 460 * scale, image["y"] + 70 * scale, steps=5)
    page.mouse.up()
    drawn = [int(page.locator(f"#add-{name}").input_value()) for name in ("x", "y", "width", "height")]
    assert drawn == pytest.approx([400, 20, 60, 50], abs=2)
    page.locator("#add-tag-submit").click()
    page.locator('.detection-row[data-label="sun"]').wait_for()
    sun = detection(beach, "sun")
    assert sun.source == DetectionSource.MANUAL and [sun.x, sun.y, sun.width, sun.height] == drawn
    assert page.locator(f'.box[data-detection-id="{sun.pk}"]').is_visible()
    circle.refresh_from_db(), square.refresh_from_db(), triangle.refresh_from_db()
    assert (circle.review, square.review) == (ReviewState.ACCEPTED, ReviewState.REJECTED)
    assert (triangle.label.name, triangle.review) == ("pyramid", ReviewState.ACCEPTED)

    # --- re-tag: the edits survive -----------------------------------------------------------------------
    page.get_by_role("button", name="Re-tag this image").click()
    # The page follows the status and refreshes itself once the second run is done.
    page.wait_for_function(
        "() => document.querySelectorAll('.runs li').length === 2 && "
        "document.getElementById('asset-view').dataset.status === 'tagged'",
        timeout=WAIT_MS,
    )
    assert page.locator('.box[data-label="circle"]').count() == 1  # accepted, not doubled
    assert page.locator('.box[data-label="square"]').count() == 0  # rejected, not found again
    assert page.locator('.box[data-label="pyramid"]').count() == 1
    assert page.locator('.box[data-label="sun"]').count() == 1
    assert page.locator(f"#accept-{circle.pk}.is-on").count() == 1
    assert Detection.objects.filter(pk__in=[circle.pk, square.pk, triangle.pk, sun.pk]).count() == 4
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(f'.box[data-detection-id="{sun.pk}"]').hover()  # a highlighted box and row, for the picture
    screenshot(page, "asset")

    # --- search with the query language -----------------------------------------------------------------
    tab.go("/?q=circle+-square")
    assert page.locator("#grid .name").all_inner_texts() == ["beach.png"]
    tab.go("/?q=pyramid")
    assert page.locator("#grid .name").all_inner_texts() == ["beach.png"]

    # --- the review queue, by keyboard ----------------------------------------------------------------------
    tab.go("/review/")
    queue = page.locator("#queue > li")
    waiting = Detection.objects.filter(
        asset__owner=user, source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED
    ).count()
    assert queue.count() == waiting > 2
    screenshot(page, "review")
    page.keyboard.press("?")
    assert page.locator("#shortcuts").evaluate("el => el.open")
    page.keyboard.press("?")
    first_id, second_id = (int(queue.nth(i).get_attribute("data-detection-id")) for i in (0, 1))
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == f"queue-{first_id}"
    page.keyboard.press("a")
    page.locator(f"#queue-{first_id}").wait_for(state="detached")
    assert page.evaluate("document.activeElement.id") == f"queue-{second_id}"
    page.keyboard.press("r")
    page.locator(f"#queue-{second_id}").wait_for(state="detached")
    assert queue.count() == waiting - 2
    # The count is the server's, read after each review lands: wait for it rather than race it.
    page.locator("#queue-count", has_text=f"{waiting - 2} detections to review").wait_for()
    assert Detection.objects.get(pk=first_id).review == ReviewState.ACCEPTED
    assert Detection.objects.get(pk=second_id).review == ReviewState.REJECTED
    third_id = int(queue.nth(0).get_attribute("data-detection-id"))
    page.keyboard.press("l")
    page.keyboard.type("blob")
    page.keyboard.press("Enter")
    page.locator(f"#queue-{third_id}").wait_for(state="detached")
    assert Detection.objects.get(pk=third_id).label.name == "blob"

    # --- bulk: tick two images, add a tag; more images load while scrolling ----------------------------------
    monkeypatch.setattr(LibraryView, "page_size", 2)
    assert page.request.get(site + "/").text().count('<li class="card"') == 2
    tab.go("/")
    # The server sends two; the rest arrive while the page's end is in sight, without leaving the page.
    page.locator("#grid > li:nth-child(4)").wait_for()
    assert page.url == site + "/"
    assert page.locator("nav.pagination a[rel=next]").count() == 0  # four images: all there now
    garden = Asset.objects.get(owner=user, original_filename="garden.png")
    kitchen = Asset.objects.get(owner=user, original_filename="kitchen.png")
    page.get_by_label("Select garden.png").check()
    page.get_by_label("Select kitchen.png").focus()
    page.keyboard.press("Space")
    assert page.locator("#bulk-count").inner_text() == "2 selected"
    page.get_by_label("Tag to add or remove").fill("Holiday")
    page.get_by_role("button", name="Add tag").click()
    page.locator(".messages", has_text="Added “holiday” to 2 of 2 images.").wait_for()
    # Back on the library after the redirect: two cards come with the page, the rest while scrolling.
    page.locator("#grid > li:nth-child(4)").wait_for()
    assert sorted(
        page.locator(".card", has=page.locator(".chip", has_text="holiday")).locator(".name").all_inner_texts()
    ) == ["garden.png", "kitchen.png"]
    for asset in (garden, kitchen):
        assert asset.detections.filter(label__name="holiday", source=DetectionSource.MANUAL).exists()
    # Delete asks first, in a dialog.
    page.get_by_label("Select noise.png").check()
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog")
    assert "Move 1 image to the trash?" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert Asset.objects.filter(owner=user, original_filename="noise.png").exists()
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Move 1 image to the trash").click()
    page.locator(".messages", has_text="Moved 1 image to the trash.").wait_for()
    assert not Asset.objects.filter(owner=user, original_filename="noise.png").exists()  # in the trash
    page.locator("#grid > li:nth-child(3)").wait_for()  # the rest loads by itself
    assert unlabelled_controls(page) == []
    screenshot(page, "library")

    # --- API token page ---------------------------------------------------------------------------------
    tab.go("/integrations/token/")
    page.get_by_role("button", name="Create a token").click()
    key = page.locator("#token-key").input_value()
    assert re.fullmatch(r"ast_[A-Za-z0-9_-]{43}", key)
    screenshot(page, "token")
    page.get_by_role("button", name="Revoke").click()
    page.locator("text=You have no tokens").wait_for()

    # --- a phone ---------------------------------------------------------------------------------------------
    phone = Page(
        browser.new_context(viewport=PHONE, storage_state=context.storage_state(), is_mobile=True, has_touch=True), site
    )
    phone.go("/")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the library is {width}px wide on a 375px phone"
    screenshot(phone.page, "library-phone")
    phone.go(f"/assets/{beach.pk}/")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert phone.page.locator(".box").first.is_visible()
    screenshot(phone.page, "asset-phone")
    phone.go("/review/")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # --- log out -----------------------------------------------------------------------------------------------
    page.get_by_role("button", name=re.compile("Log out")).click()
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    tab.go("/review/")
    assert "/accounts/login/" in page.url  # really logged out

    assert tab.unexpected_errors(allowed=("status of 415",)) == [], tab.errors
    assert phone.unexpected_errors() == [], phone.errors
    assert get_user_model().objects.count() == 1


def wait_until_tagged(asset: Asset, timeout: float = 120) -> Asset:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset.refresh_from_db()
        if asset.tagging_status in (TaggingStatus.TAGGED, TaggingStatus.FAILED):
            return asset
        time.sleep(0.3)
    raise TimeoutError(f"{asset.original_filename} still {asset.tagging_status}")


def test_the_pages_work_without_javascript(browser, site, worker):
    """Every action has a plain form behind it: upload, review, add a tag, bulk, the queue."""
    user = UserFactory(username="no-script", password=PASSWORD)
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = logged_in_page(context, site, user)

    page.goto(site + "/upload/")
    assert page.locator(".folder-pick").is_hidden()  # needs the script
    page.set_input_files("#id_files", [scene_file("plain.png", (250, 250, 250)), scene_file("other.png", (20, 20, 20))])
    page.get_by_role("button", name="Upload").click()
    page.locator(".outcomes li.ok", has_text="plain.png").wait_for()
    asset = wait_until_tagged(Asset.objects.get(owner=user, original_filename="plain.png"))
    assert asset.tagging_status == TaggingStatus.TAGGED, worker.log

    page.goto(f"{site}/assets/{asset.pk}/")
    assert page.locator(".viewer-controls").is_hidden()
    circle, square = detection(asset, "circle"), detection(asset, "square")
    page.locator(f"#accept-{circle.pk}").click()
    page.locator(".messages", has_text="Accepted “circle”.").wait_for()
    page.locator(f"#relabel-{square.pk}").fill("box")
    page.locator(f"#relabel-{square.pk}").press("Enter")
    page.locator(".messages", has_text="“square” is now “box” (accepted).").wait_for()
    page.locator("#add-label").fill("sun")
    for name, value in (("x", "400"), ("y", "300"), ("width", "50"), ("height", "50")):
        page.locator(f"#add-{name}").fill(value)
    page.get_by_role("button", name="Add tag").click()
    assert "does not fit in the 480×320 image" in page.locator("#add-tag-error").inner_text()
    assert page.locator("#add-label").input_value() == "sun"  # kept for the next try
    page.locator("#add-y").fill("10")
    page.get_by_role("button", name="Add tag").click()
    page.locator(".messages", has_text="Added the tag “sun” with a box.").wait_for()
    assert detection(asset, "sun").box is not None
    page.get_by_role("button", name="Re-tag this image").click()
    page.locator(".messages", has_text="Re-tagging queued").wait_for()
    wait_until_tagged(asset)

    page.goto(site + "/review/")
    first = page.locator("#queue > li").first
    first_id = int(first.get_attribute("data-detection-id"))
    first.get_by_role("button", name="Reject").click()
    page.wait_for_url(site + "/review/")
    page.locator(".messages", has_text="Rejected").wait_for()
    assert Detection.objects.get(pk=first_id).review == ReviewState.REJECTED

    page.goto(site + "/")
    page.get_by_label("Select plain.png").check()
    page.get_by_label("Select other.png").check()
    page.get_by_label("Tag to add or remove").fill("no script")
    page.get_by_role("button", name="Add tag").click()
    page.locator(".messages", has_text="Added “no script” to 2 of 2 images.").wait_for()
    page.get_by_label("Select other.png").check()
    page.get_by_role("button", name="Delete…").click()
    page.locator("h1", has_text="Move 1 image to the trash?").wait_for()
    page.get_by_role("button", name="Move 1 image to the trash").click()
    page.locator(".messages", has_text="Moved 1 image to the trash.").wait_for()
    assert list(Asset.objects.filter(owner=user).values_list("original_filename", flat=True)) == ["plain.png"]


def test_an_upload_answered_503_or_429_is_sent_again_after_retry_after(browser, site, worker):
    """The database restarting (503) or a rate limit (429) is not the file's fault: the page waits as
    told and sends it again by itself, once per answer."""
    user = UserFactory(username="retry-user", password=PASSWORD)
    context = browser.new_context(viewport=DESKTOP)
    page = logged_in_page(context, site, user)

    answers = [(503, "database_unavailable"), (429, "throttled")]
    sent: list[int] = []

    def refuse_then_pass(route):
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(len(sent))
        if answers:
            status, code = answers.pop(0)
            route.fulfill(
                status=status,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"detail": "not now", "code": code}),
            )
        else:
            route.continue_()

    page.route("**/api/assets/", refuse_then_pass)
    page.goto(site + "/upload/")
    item = page.locator(".upload-item", has_text="patient.png")
    drop(page, [scene_file("patient.png", (230, 230, 240))])
    item.locator(".file-status", has_text="The server is not ready; trying again in 1 s.").wait_for()
    assert len(sent) == 1  # it waits as told
    item.locator(".file-status", has_text="The server is busy; trying again in 1 s.").wait_for()
    page.locator(".upload-item[data-state=tagged]", has_text="patient.png").wait_for(timeout=WAIT_MS)
    assert len(sent) == 3 and answers == []  # 503, 429, then the real upload
    assert Asset.objects.filter(owner=user, original_filename="patient.png").count() == 1
    context.close()


def test_the_api_reference_pages_fetch_nothing_from_other_sites(browser, site, worker):
    """Swagger UI and ReDoc come from this server: no script, font or logo from a CDN."""
    user = UserFactory(username="docs-reader", password=PASSWORD)
    context = browser.new_context(viewport=DESKTOP)
    page = logged_in_page(context, site, user)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith((site, "data:", "blob:")) else elsewhere.append(request.url),
    )
    for path, ready in (("/api/docs/", ".swagger-ui .info"), ("/api/redoc/", "[role=navigation], .menu-content")):
        page.goto(site + path)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
    assert elsewhere == []
    context.close()


def test_download_as_gives_a_crop_around_the_chosen_object(browser, site, worker, tmp_path):
    from media.services import asset_create
    from review.services import detection_add_manual
    from tagging.boxes import Box
    from tests.images import image_bytes, upload

    user = UserFactory(username="downloader", password=PASSWORD)
    picture = Image.new("RGB", (600, 300), (255, 255, 255))
    picture.paste((220, 20, 20), (450, 100, 530, 180))
    asset = asset_create(owner=user, file=upload(image_bytes("PNG", image=picture), "wide.png", "image/png")).asset
    detection_add_manual(asset=asset, label="ball", box=Box(450, 100, 80, 80))
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = logged_in_page(context, site, user)
    page.goto(f"{site}/assets/{asset.pk}/")
    page.get_by_text("Download as…").click()
    form = page.locator("#download-as")
    form.get_by_label("Width").fill("100")
    form.get_by_label("Height").fill("100")
    form.get_by_label("Shape").select_option("cover")
    form.get_by_label("Crop around").select_option("ball")
    form.get_by_label("Format").select_option("png")
    assert unlabelled_controls(page) == []
    with page.expect_download() as download_info:
        form.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "rendition.png"
    download_info.value.save_as(saved)
    rendition = Image.open(saved)
    assert rendition.size == (100, 100) and rendition.format == "PNG"
    # The crop is the right half (300..600): the ball lands at (50..77, 33..60), the left edge is white.
    assert rendition.convert("RGB").getpixel((63, 47)) == (220, 20, 20)
    assert rendition.convert("RGB").getpixel((5, 5)) == (255, 255, 255)
    assert download_info.value.suggested_filename == "wide-100x100.png"
    context.close()
