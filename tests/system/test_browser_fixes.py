"""Issue 14's defects, each in a real headless Chromium against a live server (Debian's
/usr/bin/chromium; skipped where it is missing): the "Number of objects" sort, review keys pressed
quickly, Back to the review queue, Enter/Tab in the autocomplete, the confidence sort without a label,
the camera's local time, the re-tag message, refused uploads and a backlog on the upload page, a
webhook URL registered twice and "did you mean" for a misspelt label.

No worker process: pictures come through the real upload service with the boxes a detector would
store (tests/tagged_assets.tag), or, for the re-tag, the real detection task runs in this process
with the shipped shapes detector once the page has queued it (``sent`` keeps it off the broker).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from media.models import Asset
from media.services import asset_create
from tagging import tasks
from tagging.models import Detection, DetectionSource, ReviewState
from testkit.shapes import three_shapes_scene
from tests.factories import UserFactory
from tests.images import exif_block, image_bytes, upload
from tests.system.test_browser import PASSWORD, drop, scene_file
from tests.system.test_browser_collections import SCENES, logged_in, picture
from tests.tagged_assets import tag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def library(sent):
    """Six tagged pictures (1 to 3 objects each); ``sent`` keeps tagging tasks off the broker."""
    user = UserFactory(username="fixer", password=PASSWORD)
    assets = {}
    for name, background, shapes in SCENES:
        data, boxes = picture(background, shapes)
        asset = asset_create(owner=user, file=upload(data, name, "image/png")).asset
        tag(asset, *boxes)
        assets[name] = asset
    return user, assets


def card_names(page) -> list[str]:
    return page.locator("#grid .card .name").all_inner_texts()


def test_sorts_confidence_without_a_label_and_did_you_mean(browser, live_server, library):
    """Defects 1, 6 and 10 (search): object counts on cards, the confidence sort only with a label
    (and a notice, not an error, without one), and a hint for a misspelt label."""
    user, assets = library
    tab = logged_in(browser, live_server, user)
    page = tab.page

    # 1: "Number of objects" shows each card's count, most first.
    tab.go("/")
    page.locator("#sort").select_option("objects")
    page.wait_for_url(re.compile(r"sort=objects"))
    expected = {asset.original_filename: Asset.objects.get(pk=asset.pk).object_count for asset in assets.values()}
    scores = page.locator("#grid .card").evaluate_all(
        "cards => cards.map((card) => [card.querySelector('.name').textContent, "
        "card.querySelector('.score').textContent])"
    )
    assert len(scores) == 6
    for name, score in scores:
        count = expected[name]
        assert score == f"{count} object{'s' if count != 1 else ''}", (name, score)
    assert [count for _, count in sorted(expected.items(), key=lambda item: -item[1])][0] == 3
    assert scores[0] == ["kiosk.png", "3 objects"]

    # 6: no confidence sort on an unfiltered library; with a label it names the label.
    options = page.locator("#sort option").all_inner_texts()
    assert not any("Confidence" in text for text in options), options
    tab.go("/?q=circle")
    assert "Confidence of “circle”" in page.locator("#sort option").all_inner_texts()
    page.locator("#sort").select_option("confidence")
    page.wait_for_url(re.compile(r"sort=confidence"))
    assert page.locator("#grid .card .score").first.inner_text() == "circle 0.90"
    # A bookmark (or an edited search) asking for it without a label: results and a notice, no error.
    response = page.goto(live_server.url + "/?sort=confidence")
    assert response.status == 200
    assert "Sorting by confidence needs a label" in page.locator("#sort-notice").inner_text()
    assert page.locator(".errorlist").count() == 0
    assert len(card_names(page)) == 6
    assert page.locator("#sort").input_value() == "newest"

    # 10: a misspelt label suggests the closest of the user's labels; the hint is a link.
    tab.go("/?q=circel+-square")
    hint = page.locator("#unknown-labels")
    assert "No picture has a label called circel: did you mean circle?"  # <q> quotes come from CSS in hint.inner_text()
    hint.get_by_role("link", name="circle").click()
    page.wait_for_url(re.compile(r"q=circle(\+|%20)-square$"))
    with_circle = {name for name, _, shapes in SCENES if "circle" in shapes and "square" not in shapes}
    assert set(card_names(page)) == with_circle
    tab.go("/?q=wombat")
    assert page.locator("#unknown-labels").inner_text() == "No picture has a label called wombat."
    assert tab.unexpected_errors() == [], tab.errors


def test_autocomplete_enter_and_tab_take_a_suggestion(browser, live_server, library):
    """Defect 5: Enter or Tab without ↓ takes the first suggestion (the docs say so), also when the
    suggestions had not arrived yet; Enter on a whole label searches."""
    user, _ = library
    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go("/")
    search = page.locator("#q")

    search.type("tri")
    page.locator("#q-suggestions [role=option]", has_text="triangle").wait_for()
    search.press("Enter")
    assert search.input_value() == "triangle "
    assert page.url == live_server.url + "/"  # taken, not searched yet
    search.press("Enter")
    page.wait_for_url(re.compile(r"q=triangle"))
    assert len(card_names(page)) == sum(1 for *_, shapes in SCENES if "triangle" in shapes)

    search.fill("")
    search.type("squ")
    page.locator("#q-suggestions [role=option]", has_text="square").wait_for()
    search.press("Tab")
    assert search.input_value() == "square "
    assert page.evaluate("document.activeElement.id") == "q"

    # Faster than the suggestions: Enter right after typing still ends on the label.
    search.fill("")
    search.type("circ", delay=0)
    search.press("Enter")
    page.wait_for_function("() => document.getElementById('q').value === 'circle '")
    assert "q=triangle" in page.url and "circ" not in page.url  # no search for the typed "circ"

    # A whole label is searched as typed.
    search.fill("")
    search.type("circle")
    page.locator("#q-suggestions [role=option]", has_text="circle").wait_for()
    search.press("Enter")
    page.wait_for_url(re.compile(r"q=circle(&|$)"))
    assert tab.unexpected_errors() == [], tab.errors


def test_review_keys_pressed_quickly_and_back_to_the_queue(browser, live_server, library):
    """Defects 2 and 3: `a` pressed three times while the answer is on its way reviews one item once,
    the count is the server's; Back after `o` shows the queue as it is now."""
    user, _ = library
    tab = logged_in(browser, live_server, user)
    page = tab.page
    waiting = Detection.objects.filter(
        asset__owner=user, source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED
    ).count()
    patches: list[str] = []
    page.on("request", lambda request: patches.append(request.url) if request.method == "PATCH" else None)

    tab.go("/review/")
    queue = page.locator("#queue > li")
    assert queue.count() == waiting == sum(len(shapes) for *_, shapes in SCENES) == 10
    first_id, second_id = (int(queue.nth(i).get_attribute("data-detection-id")) for i in (0, 1))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 700, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.keyboard.press("j")
    for _ in range(3):
        page.keyboard.press("a")
    page.locator(f"#queue-{first_id}").wait_for(state="detached")
    page.wait_for_function(
        "(n) => document.getElementById('queue-count').textContent.startsWith(n + ' detections')", arg=waiting - 1
    )
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert len(patches) == 1 and patches[0].endswith(f"/api/detections/{first_id}/")
    assert queue.count() == waiting - 1
    assert page.evaluate("document.activeElement.id") == f"queue-{second_id}"
    assert Detection.objects.get(pk=first_id).review == ReviewState.ACCEPTED
    assert Detection.objects.filter(asset__owner=user, review=ReviewState.UNREVIEWED).count() == waiting - 1

    # The count is the server's: a detection reviewed elsewhere (another tab) counts too.
    third_id = int(queue.nth(1).get_attribute("data-detection-id"))
    elsewhere = (
        Detection.objects.filter(asset__owner=user, review=ReviewState.UNREVIEWED)
        .exclude(pk__in=[second_id, third_id])
        .last()
    )
    Detection.objects.filter(pk=elsewhere.pk).update(review=ReviewState.REJECTED)
    page.keyboard.press("r")
    page.locator(f"#queue-{second_id}").wait_for(state="detached")
    page.wait_for_function(
        "(n) => document.getElementById('queue-count').textContent.startsWith(n + ' detections')", arg=waiting - 3
    )
    page.wait_for_function(
        "(n) => document.getElementById('live').textContent.endsWith(' ' + n + ' left.')", arg=waiting - 3
    )

    # `o` opens the image; accepting there, then Back, shows the queue as it is now.
    assert page.evaluate("document.activeElement.id") == f"queue-{third_id}"
    page.keyboard.press("o")
    page.wait_for_url(re.compile(r"/assets/"))
    page.locator(f"#accept-{third_id}").click()
    page.locator(f"#accept-{third_id}.is-on").wait_for()
    page.go_back()
    page.wait_for_url(re.compile(r"/review/$"))
    page.locator("#queue > li").first.wait_for()
    shown = {int(value) for value in queue.evaluate_all("items => items.map((li) => li.dataset.detectionId)")}
    still = set(
        Detection.objects.filter(asset__owner=user, review=ReviewState.UNREVIEWED).values_list("pk", flat=True)
    )
    assert shown == still and len(still) == waiting - 4
    assert {first_id, second_id, third_id, elsewhere.pk}.isdisjoint(shown)
    assert page.locator("#queue-count").inner_text().startswith(f"{waiting - 4} detections")
    assert tab.unexpected_errors() == [], tab.errors


def test_taken_time_is_the_cameras_local_time(browser, live_server, sent):
    """Defect 7: 10:11:12+02:00 from the camera reads 10:11:12 UTC+02:00, not 8:11; without an
    offset in the file the page says UTC."""
    user = UserFactory(username="traveller", password=PASSWORD)
    with_offset = asset_create(
        owner=user,
        file=upload(
            image_bytes("JPEG", exif=exif_block(taken="2024:05:01 10:11:12", taken_offset="+02:00")), "berlin.jpg"
        ),
    ).asset
    west = asset_create(
        owner=user,
        file=upload(
            image_bytes("JPEG", color=(1, 2, 3), exif=exif_block(taken="2024:05:01 22:30:00", taken_offset="-04:30")),
            "caracas.jpg",
        ),
    ).asset
    without = asset_create(
        owner=user,
        file=upload(image_bytes("JPEG", color=(9, 9, 9), exif=exif_block(taken="2024:05:01 10:11:12")), "old.jpg"),
    ).asset
    assert (with_offset.taken_offset, west.taken_offset, without.taken_offset) == (120, -270, None)
    assert with_offset.taken_at == datetime(2024, 5, 1, 8, 11, 12, tzinfo=UTC)

    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go(f"/assets/{with_offset.pk}/")
    assert page.locator("#taken-at").inner_text() == "1 May 2024, 10:11:12 UTC+02:00"
    assert page.locator("#taken-at time").get_attribute("datetime").startswith("2024-05-01T08:11:12")
    tab.go(f"/assets/{west.pk}/")
    assert page.locator("#taken-at").inner_text() == "1 May 2024, 22:30:00 UTC-04:30"  # 3:00 on the 2nd in UTC
    tab.go(f"/assets/{without.pk}/")
    assert page.locator("#taken-at").inner_text() == "1 May 2024, 10:11:12 UTC"
    answer = page.request.get(f"{live_server.url}/api/assets/{with_offset.pk}/").json()
    assert (answer["taken_at"], answer["taken_offset"]) == ("2024-05-01T08:11:12Z", 120)
    assert tab.unexpected_errors() == [], tab.errors


def test_retag_message_says_what_the_run_found_and_what_was_kept(browser, live_server, sent):
    """Defect 8: the run's own count (as in the provenance) and all tags, kept ones included."""
    user = UserFactory(username="retagger", password=PASSWORD)
    buffer = io.BytesIO()
    three_shapes_scene(size=(480, 320), background=(225, 230, 235)).image.save(buffer, "PNG")
    asset = asset_create(owner=user, file=upload(buffer.getvalue(), "scene.png", "image/png")).asset
    tasks.detect_objects.apply(args=sent.pop())  # the real task and detector, in this process
    first = list(Detection.objects.filter(asset=asset).order_by("-confidence"))
    assert len(first) >= 2
    from review.services import detection_add_manual, detection_review

    detection_review(detection=first[0], accept=True)
    detection_add_manual(asset=asset, label="sky")

    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go(f"/assets/{asset.pk}/")
    page.get_by_role("button", name="Re-tag this image").click()
    page.locator("#asset-view[data-status=pending]").wait_for()
    tasks.tag_next.apply(args=sent.tokens.pop())  # a re-tag is bulk-lane work: its token tags the asset
    message = page.locator("#review-status", has_text="Tagging finished")
    message.wait_for(timeout=30_000)
    run = asset.detection_runs.order_by("-started_at").first()
    visible = Detection.objects.filter(asset=asset).exclude(review=ReviewState.REJECTED)
    kept = visible.exclude(source=DetectionSource.AUTO, review=ReviewState.UNREVIEWED).count()
    assert kept == 2
    assert message.inner_text() == (
        f"Tagging finished: the run found {run.detection_count}; {visible.count()} tags in all "
        f"(incl. {kept} accepted or manual)."
    )
    # The provenance line says the same number for the run.
    assert f"{run.detection_count} object" in page.locator(".runs li").first.inner_text()
    assert tab.unexpected_errors() == [], tab.errors


def not_an_image_named_png() -> dict:
    return {"name": "letter.png", "mimeType": "image/png", "buffer": b"Dear friend,\n" * 40}


def test_upload_refusals_and_a_backlog(browser, live_server, sent):
    """Defect 9: a refused file has no broken picture and no full bar; with no worker taking the
    queue, the summary says "waiting for a worker", as each file does."""
    user = UserFactory(username="uploader", password=PASSWORD)
    tab = logged_in(browser, live_server, user)
    page = tab.page
    tab.go("/upload/")
    drop(page, [scene_file("queued.png", (230, 230, 240)), not_an_image_named_png()])
    page.set_input_files(
        "#id_files", [{"name": "notes.html", "mimeType": "text/html", "buffer": b"<!doctype html><p>hi</p>"}]
    )
    for name in ("letter.png", "notes.html"):
        item = page.locator(".upload-item", has_text=name)
        item.locator("text=Refused:").wait_for()
        assert item.get_attribute("data-state") == "error"
        assert item.locator("progress").is_hidden()
        assert item.locator("img").count() == 0  # no picture that cannot be one
        assert item.locator(".thumb-refused").is_visible()
    waiting = page.locator(".upload-item", has_text="queued.png")
    waiting.locator("text=waiting for a worker").wait_for()
    assert waiting.locator("progress").evaluate("bar => bar.value") == 100
    # The preview loads after the bar fills (a busy machine takes a moment); a broken one never would.
    waiting.locator("img.thumb").wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.upload-item img.thumb')]"
        ".some((img) => img.complete && img.naturalWidth > 0)"
    )
    summary = page.locator("#overall-summary")
    page.wait_for_function("() => document.getElementById('overall-summary').textContent.includes('waiting')")
    assert summary.inner_text() == "1 of 3 uploaded · 2 refused · 1 waiting for a worker."
    assert "being tagged" not in summary.inner_text()
    assert len(sent) == 1  # queued for a worker nobody runs: the backlog
    # Broken images anywhere on the page would have no width.
    broken = page.evaluate(
        "() => [...document.querySelectorAll('.upload-item img')].filter((img) => img.src && img.complete "
        "&& img.naturalWidth === 0).length"
    )
    assert broken == 0
    assert tab.unexpected_errors(allowed=("status of 415", "status of 400")) == [], tab.errors


def test_a_webhook_url_registered_twice_is_refused(browser, live_server, settings):
    """Defect 10 (webhooks): the form says so, and nothing is added."""
    from integrations.models import Webhook

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the test's receiver address is on loopback
    user = UserFactory(username="hooker", password=PASSWORD)
    tab = logged_in(browser, live_server, user)
    page = tab.page
    for attempt, url in enumerate(("http://127.0.0.1:9/hook", "HTTP://127.0.0.1:9/hook")):
        tab.go("/integrations/webhooks/")
        page.get_by_label("Payload URL").fill(url)
        page.get_by_label("An asset was tagged").check()
        page.get_by_role("button", name="Add webhook").click()
        if attempt == 0:
            page.locator("text=Webhook added").wait_for()
    error = page.locator("p.error[role=alert]", has_text="You already have a webhook for http://127.0.0.1:9/hook")
    error.wait_for()
    assert page.get_by_label("Payload URL").input_value() == "HTTP://127.0.0.1:9/hook"  # kept to correct
    assert Webhook.objects.filter(owner=user).count() == 1
    assert tab.unexpected_errors(allowed=("status of 400",)) == [], tab.errors
