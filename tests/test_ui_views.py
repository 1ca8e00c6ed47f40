"""The review pages through Django's test client: the asset page's boxes and forms, crops, adding,
reviewing and re-tagging detections, bulk actions from the library and the review queue. Each with
its owner check (another user's things are a 404 and stay untouched) and its bad-input messages."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
from django.urls import reverse
from PIL import Image, ImageChops, ImageOps, ImageStat

from media.models import Asset, TaggingStatus
from media.services import asset_create
from tagging.boxes import Box
from tagging.models import AssetTag, Detection, DetectionSource, ReviewState
from tagging.pipeline import run_detection
from tagging.selectors import review_queue
from tagging.services import detection_add_manual, detection_review, tagging_reset
from tagging.templatetags.tagging_ui import contrast_ratio, label_colors
from tests.fixtures.shapes import three_shapes_scene
from tests.images import exif_block, image_bytes, upload
from tests.library import make_asset, tag

pytestmark = pytest.mark.django_db


def detection(asset: Asset, label: str) -> Detection:
    return Detection.objects.get(asset=asset, label__name=label)


def page_text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    """The messages this request added (earlier ones wait in the session until a page shows them)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


# --- label colours --------------------------------------------------------------------------------


def test_label_colours_are_stable_distinct_and_readable():
    names = ["dog", "cat", "circle", "square", "triangle", "traffic light", "ünïcode", "x" * 100] + [
        f"label {n}" for n in range(400)
    ]
    for name in names:
        colors = label_colors(name)
        assert label_colors(name) == colors  # the same every time: from the name alone
        assert contrast_ratio(colors.box, colors.box_text) >= 4.5, name
        assert contrast_ratio(colors.chip, colors.chip_text) >= 4.5, name
        assert re.fullmatch(r"(#[0-9a-f]{6})", colors.box)
    assert len({label_colors(name).hue for name in names}) > 200  # spread over the wheel


# --- the asset page -------------------------------------------------------------------------------


def test_asset_page_draws_coloured_boxes_and_review_controls(web_client, tagged):
    dog, cat = detection(tagged, "dog"), detection(tagged, "cat")
    cat.review = ReviewState.REJECTED
    cat.save()
    manual = detection_add_manual(asset=tagged, label="ball")
    page = page_text(web_client.get(reverse("asset-detail", args=[tagged.pk])))
    # One box per visible boxed detection, in the label's colours; the rejected cat is not drawn.
    assert page.count('class="box"') == 1
    assert f'data-detection-id="{dog.pk}" data-label="dog" data-confidence="0.900000"' in page
    assert label_colors("dog").style in page
    # Review forms post to the views; the API's URL is there for the script.
    assert reverse("detection-review", args=[tagged.pk, dog.pk]) in page
    assert reverse("api:detection-detail", args=[dog.pk]) in page
    assert f'id="accept-{dog.pk}"' in page and f'id="reject-{dog.pk}"' in page
    assert f'id="remove-{manual.pk}"' in page and f'id="accept-{manual.pk}"' not in page
    assert reverse("detection-crop", args=[tagged.pk, dog.pk]) in page
    assert reverse("detection-crop", args=[tagged.pk, manual.pk]) not in page  # no box, no crop
    # The rejected cat can be restored.
    assert "Rejected (1)" in page and f'id="restore-{cat.pk}"' in page
    assert reverse("detection-add", args=[tagged.pk]) in page
    assert 'id="min-confidence"' in page and 'data-label-toggle="dog"' in page
    assert "Provenance" in page and "test-model" in page
    assert '<option value="dog">' in page  # suggestions for the label inputs


def test_asset_page_of_another_user_is_404(web_client, foreign):
    assert web_client.get(reverse("asset-detail", args=[foreign.pk])).status_code == 404


# --- crops ----------------------------------------------------------------------------------------


def test_crop_is_the_box_region_of_the_original(web_client, user):
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    image.paste((0, 0, 255), (120, 30, 170, 80))
    asset = asset_create(owner=user, file=upload(image_bytes("PNG", image=image), "blue.png")).asset
    blue = detection_add_manual(asset=asset, label="blue thing", box=Box(120, 30, 50, 50))
    response = web_client.get(reverse("detection-crop", args=[asset.pk, blue.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="blue-blue-thing-{blue.pk}.png"'
    crop = Image.open(io.BytesIO(response.content))
    assert crop.size == (50, 50)
    assert crop.convert("RGB").getcolors() == [(2500, (0, 0, 255))]  # exactly the blue square, lossless


def test_crop_of_an_exif_rotated_photo_is_taken_from_the_upright_image(web_client, user):
    raw = Image.new("RGB", (240, 160), (230, 20, 20))  # left half red, right half blue as stored
    raw.paste((20, 20, 230), (120, 0, 240, 160))
    data = image_bytes("JPEG", image=raw, exif=exif_block(orientation=6))  # shown turned 90° clockwise
    asset = asset_create(owner=user, file=upload(data, "turned.jpg")).asset
    assert (asset.width, asset.height) == (160, 240)  # upright: the red half is now on top
    top = detection_add_manual(asset=asset, label="top", box=Box(10, 10, 140, 100))
    bottom = detection_add_manual(asset=asset, label="bottom", box=Box(10, 130, 140, 100))
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    for found, colour in ((top, "red"), (bottom, "blue")):
        response = web_client.get(reverse("detection-crop", args=[asset.pk, found.pk]))
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        crop = Image.open(io.BytesIO(response.content)).convert("RGB")
        assert crop.size == (140, 100)
        red, _, blue = ImageStat.Stat(crop).mean
        assert (red > 200 and blue < 60) if colour == "red" else (blue > 200 and red < 60), (colour, red, blue)
        expected = upright.crop((10, found.box.y, 150, found.box.y + 100))
        assert max(ImageStat.Stat(ImageChops.difference(crop, expected)).mean) < 4  # JPEG noise only


def test_crop_has_a_unicode_filename_that_is_safe(web_client, user):
    asset = make_asset(user, name="Ferien in Köln.png")
    found = detection_add_manual(asset=asset, label="großer Hund", box=Box(1, 1, 10, 10))
    response = web_client.get(reverse("detection-crop", args=[asset.pk, found.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="Ferien-in-K-ln-gro-er-hund-{found.pk}.png"'


def test_crop_without_a_box_or_file_says_why(web_client, tagged, settings):
    plain = detection_add_manual(asset=tagged, label="sunny")
    response = web_client.get(reverse("detection-crop", args=[tagged.pk, plain.pk]))
    assert response.status_code == 404 and b"no box" in response.content
    (settings.MEDIA_ROOT / tagged.file.name).unlink()
    dog = detection(tagged, "dog")
    response = web_client.get(reverse("detection-crop", args=[tagged.pk, dog.pk]))
    assert response.status_code == 422 and b"missing" in response.content


def test_crop_is_owner_checked(web_client, tagged, foreign):
    car = detection(foreign, "car")
    assert web_client.get(reverse("detection-crop", args=[foreign.pk, car.pk])).status_code == 404
    # Someone else's detection under one's own asset's URL is no way around it.
    assert web_client.get(reverse("detection-crop", args=[tagged.pk, car.pk])).status_code == 404
    assert web_client.get(reverse("detection-crop", args=[tagged.pk, 2**63])).status_code == 404
    anonymous = web_client.__class__()
    response = anonymous.get(reverse("detection-crop", args=[tagged.pk, detection(tagged, "dog").pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- adding a tag ---------------------------------------------------------------------------------


def test_add_a_tag_with_a_box_and_without(web_client, tagged):
    url = reverse("detection-add", args=[tagged.pk])
    response = web_client.post(url, {"label": "  Red  Ball ", "x": "5", "y": "6", "width": "30", "height": "20"})
    assert response.status_code == 302 and response["Location"].endswith(f"/assets/{tagged.pk}/#detections")
    ball = detection(tagged, "red ball")
    assert ball.source == DetectionSource.MANUAL and ball.box == Box(5, 6, 30, 20) and ball.review == "accepted"
    assert "Added the tag “red ball” with a box." in messages_of(response)
    response = web_client.post(url, {"label": "sunny", "x": "", "y": "", "width": "", "height": ""})
    assert response.status_code == 302
    assert detection(tagged, "sunny").box is None
    assert AssetTag.objects.filter(asset=tagged, label__name__in=["red ball", "sunny"], has_manual=True).count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"label": ""}, "Type a label."),
        ({"label": "   "}, "Type a label."),
        ({"label": "x" * 101}, "A label has at most 100 characters."),
        (
            {"label": "ball", "x": "abc", "y": "1", "width": "5", "height": "5"},
            "The box&#x27;s left edge (x) must be a whole number of pixels.",
        ),
        (
            {"label": "ball", "x": "1.5", "y": "1", "width": "5", "height": "5"},
            "The box&#x27;s left edge (x) must be a whole number of pixels.",
        ),
        (
            {"label": "ball", "x": "-1", "y": "1", "width": "5", "height": "5"},
            "The box&#x27;s left edge (x) must be at least 0.",
        ),
        (
            {"label": "ball", "x": "1", "y": "1", "width": "0", "height": "5"},
            "The box&#x27;s width (width) must be at least 1.",
        ),
        ({"label": "ball", "x": "1", "y": "1", "width": "5", "height": "99999999999"}, "is far larger than any image"),
        ({"label": "ball", "x": "1", "y": "1", "width": "5"}, "A box needs x, y, width and height; height is missing."),
        ({"label": "ball", "x": "1"}, "y, width, height are missing"),
        (
            {"label": "ball", "x": "190", "y": "10", "width": "20", "height": "20"},
            "The box (190, 10, 20×20) does not fit in the 200×100 image",
        ),
        ({"label": "ball", "x": "0", "y": "90", "width": "10", "height": "11"}, "does not fit in the 200×100 image"),
    ],
)
def test_add_a_tag_with_bad_input_explains_and_keeps_what_was_typed(web_client, tagged, data, message):
    before = Detection.objects.count()
    response = web_client.post(reverse("detection-add", args=[tagged.pk]), data)
    assert response.status_code == 400
    page = page_text(response)
    assert message in page, page[page.find('id="add-tag-error"') :][:400]
    assert 'aria-invalid="true"' in page
    assert Detection.objects.count() == before
    if data.get("x"):  # what was typed is still in the field
        assert re.search(rf'id="add-x"[^>]*value="{re.escape(data["x"])}"', page)
    assert re.search(rf'id="add-label"[^>]*value="{re.escape(data["label"].strip())}', page)


def test_a_box_on_the_edge_fits(web_client, tagged):
    response = web_client.post(
        reverse("detection-add", args=[tagged.pk]),
        {"label": "edge", "x": "0", "y": "0", "width": "200", "height": "100"},
    )
    assert response.status_code == 302
    assert detection(tagged, "edge").box == Box(0, 0, 200, 100)


def test_add_a_tag_to_another_users_asset_is_404(web_client, foreign):
    response = web_client.post(reverse("detection-add", args=[foreign.pk]), {"label": "mine now"})
    assert response.status_code == 404
    assert not Detection.objects.filter(label__name="mine now").exists()


# --- reviewing ------------------------------------------------------------------------------------


def review(client, found: Detection, **data):
    return client.post(reverse("detection-review", args=[found.asset_id, found.pk]), data)


def test_accept_reject_relabel_and_remove(web_client, tagged):
    dog, cat = detection(tagged, "dog"), detection(tagged, "cat")
    response = review(web_client, dog, action="accept")
    assert response.status_code == 302 and response["Location"] == f"/assets/{tagged.pk}/#detections"
    dog.refresh_from_db()
    assert dog.review == ReviewState.ACCEPTED and dog.reviewed_at is not None
    assert "Accepted “dog”." in messages_of(response)

    response = review(web_client, cat, action="relabel", label="Kitten")
    cat.refresh_from_db()
    assert cat.label.name == "kitten" and cat.review == ReviewState.ACCEPTED
    assert "“cat” is now “kitten” (accepted)." in messages_of(response)
    assert set(AssetTag.objects.filter(asset=tagged).values_list("label__name", flat=True)) == {"dog", "kitten"}

    response = review(web_client, dog, action="reject")
    dog.refresh_from_db()
    assert dog.review == ReviewState.REJECTED
    assert set(AssetTag.objects.filter(asset=tagged).values_list("label__name", flat=True)) == {"kitten"}

    manual = detection_add_manual(asset=tagged, label="ball")
    review(web_client, manual, action="remove")
    assert not Detection.objects.filter(pk=manual.pk).exists()
    # "Remove" on an automatic detection rejects it (kept hidden so re-tagging does not bring it back).
    review(web_client, cat, action="remove")
    cat.refresh_from_db()
    assert cat.review == ReviewState.REJECTED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "relabel", "label": ""}, "Type the new label."),
        ({"action": "relabel", "label": "y" * 101}, "A label has at most 100 characters."),
        ({"action": "destroy"}, "Unknown action; use accept, reject, relabel or remove."),
        ({}, "Choose accept, reject, relabel or remove."),
    ],
)
def test_review_with_bad_input_explains_and_changes_nothing(web_client, tagged, data, message):
    dog = detection(tagged, "dog")
    response = review(web_client, dog, **data)
    assert response.status_code == 302
    assert messages_of(response) == [message]
    dog.refresh_from_db()
    assert dog.review == ReviewState.UNREVIEWED and dog.label.name == "dog"


def test_review_goes_back_to_a_local_next_only(web_client, tagged):
    dog, cat = detection(tagged, "dog"), detection(tagged, "cat")
    assert review(web_client, dog, action="accept", next="/review/")["Location"] == "/review/"
    assert review(web_client, cat, action="accept", next="https://evil.example/")["Location"] == (
        f"/assets/{tagged.pk}/#detections"
    )


def test_review_of_another_users_detection_is_404(web_client, tagged, foreign):
    car = detection(foreign, "car")
    assert review(web_client, car, action="reject").status_code == 404
    # Nor through one's own asset's URL.
    response = web_client.post(reverse("detection-review", args=[tagged.pk, car.pk]), {"action": "reject"})
    assert response.status_code == 404
    car.refresh_from_db()
    assert car.review == ReviewState.UNREVIEWED


# --- re-tagging keeps the reviews -----------------------------------------------------------------


def test_retag_from_the_page_keeps_reviewed_and_manual_tags(web_client, user, sent, django_capture_on_commit_callbacks):
    scene = three_shapes_scene()
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    asset = asset_create(owner=user, file=upload(buffer.getvalue(), "scene.png")).asset
    run_detection(asset_id=str(asset.pk), task_id="first")
    circle, square, triangle = (detection(asset, name) for name in ("circle", "square", "triangle"))
    review(web_client, circle, action="accept")
    review(web_client, square, action="reject")
    review(web_client, triangle, action="relabel", label="pyramid")
    web_client.post(reverse("detection-add", args=[asset.pk]), {"label": "shapes"})
    web_client.post(
        reverse("detection-add", args=[asset.pk]),
        {"label": "corner", "x": "0", "y": "0", "width": "20", "height": "20"},
    )
    before = sorted(Detection.objects.filter(asset=asset).values_list("pk", "label__name", "review", "x", "y"))

    with django_capture_on_commit_callbacks(execute=True):
        response = web_client.post(reverse("asset-retag", args=[asset.pk]))
    assert response.status_code == 302 and response["Location"] == f"/assets/{asset.pk}/"
    assert "Re-tagging queued" in messages_of(response)[0]
    assert sent == [[str(asset.pk)]]
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING
    run_detection(asset_id=str(asset.pk), task_id="second")

    after = sorted(Detection.objects.filter(asset=asset).values_list("pk", "label__name", "review", "x", "y"))
    # Every edit is still there, unchanged; the accepted circle is not doubled, the rejected square does
    # not come back, the relabelled triangle is not suggested again under its old name.
    assert set(before) <= set(after)
    assert [row[1:3] for row in after if row not in before] == []
    labels = set(AssetTag.objects.filter(asset=asset).values_list("label__name", flat=True))
    assert labels == {"circle", "pyramid", "shapes", "corner"}
    page = page_text(web_client.get(reverse("asset-detail", args=[asset.pk])))
    assert "Rejected (1)" in page and 'data-label="pyramid"' in page


def test_a_relabelled_box_is_not_suggested_again_under_its_old_label(user):
    scene = three_shapes_scene()
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    asset = asset_create(owner=user, file=upload(buffer.getvalue(), "scene.png")).asset
    run_detection(asset_id=str(asset.pk), task_id="first")
    detection_review(detection=detection(asset, "triangle"), accept=True, label="pyramid")
    tagging_reset(assets=Asset.objects.filter(pk=asset.pk))
    run_detection(asset_id=str(asset.pk), task_id="second")
    assert not Detection.objects.filter(asset=asset, label__name="triangle").exists()


def test_retag_another_users_asset_is_404(web_client, foreign, sent):
    assert web_client.post(reverse("asset-retag", args=[foreign.pk])).status_code == 404
    foreign.refresh_from_db()
    assert foreign.tagging_status == TaggingStatus.TAGGED and sent == []


# --- bulk actions ---------------------------------------------------------------------------------


def bulk(client, **data):
    return client.post(reverse("asset-bulk"), data)


def test_bulk_add_and_remove_a_tag(web_client, user, tagged):
    second = make_asset(user, color=(1, 200, 1), name="second.png")
    response = bulk(web_client, action="add_tag", label="Holiday", ids=[tagged.pk, second.pk], next="/?q=dog")
    assert response.status_code == 302 and response["Location"] == "/?q=dog"
    assert messages_of(response) == ["Added “holiday” to 2 of 2 images."]
    assert Detection.objects.filter(label__name="holiday", source=DetectionSource.MANUAL).count() == 2
    response = bulk(web_client, action="remove_tag", label="holiday", ids=[second.pk])
    assert response["Location"] == "/"
    assert list(Detection.objects.filter(label__name="holiday").values_list("asset_id", flat=True)) == [tagged.pk]
    # Removing an automatic label rejects its detections.
    bulk(web_client, action="remove_tag", label="dog", ids=[tagged.pk])
    assert detection(tagged, "dog").review == ReviewState.REJECTED


def test_bulk_retag(web_client, tagged, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(web_client, action="retag", ids=[tagged.pk])
    assert messages_of(response) == ["Re-tagging 1 image; manual and reviewed tags are kept."]
    assert sent == [[str(tagged.pk)]]


def test_bulk_delete_asks_first(web_client, user, tagged, settings):
    second = make_asset(user, color=(1, 200, 1), name="second.png")
    response = bulk(web_client, action="delete", ids=[tagged.pk, second.pk], next="/?q=dog")
    assert response.status_code == 200
    page = page_text(response)
    assert "Delete 2 images?" in page and "photo.png" in page and "second.png" in page
    assert 'name="confirm" value="1"' in page and 'name="next" value="/?q=dog"' in page
    assert Asset.objects.filter(owner=user).count() == 2
    response = bulk(web_client, action="delete", ids=[tagged.pk, second.pk], confirm="1", next="/?q=dog")
    assert response.status_code == 302 and messages_of(response) == ["Deleted 2 images."]
    assert not Asset.objects.filter(owner=user).exists()


def test_bulk_never_touches_another_users_assets(web_client, tagged, foreign):
    response = bulk(web_client, action="add_tag", label="mine", ids=[tagged.pk, foreign.pk])
    assert messages_of(response) == ["Added “mine” to 1 of 1 image. 1 selected image was not found."]
    assert not Detection.objects.filter(asset=foreign, label__name="mine").exists()
    response = bulk(web_client, action="delete", confirm="1", ids=[foreign.pk])
    assert messages_of(response) == ["None of the selected images are in your library (deleted meanwhile?)."]
    assert Asset.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "add_tag", "label": "x"}, "Select one or more images first."),
        ({"action": "add_tag", "ids": ["{asset}"]}, "Type the tag to add."),
        ({"action": "remove_tag", "label": " ", "ids": ["{asset}"]}, "Type the tag to remove."),
        ({"action": "explode", "ids": ["{asset}"]}, "Unknown action; use add tag, remove tag, re-tag or delete."),
        ({"action": "retag", "ids": ["{asset}", "not-a-uuid"]}, "not-a-uuid is not an image id."),
        ({"action": "retag", "ids": ["{asset}", "%d"]}, "%d is not an image id."),
    ],
)
def test_bulk_with_bad_input_explains(web_client, tagged, sent, data, message):
    data = {
        key: [item.replace("{asset}", str(tagged.pk)) for item in value] if isinstance(value, list) else value
        for key, value in data.items()
    }
    response = bulk(web_client, **data)
    assert response.status_code == 302
    assert messages_of(response) == [message]
    assert sent == [] and not Detection.objects.filter(asset=tagged, source=DetectionSource.MANUAL).exists()


def test_bulk_selection_has_a_limit(web_client, user, settings):
    settings.BULK_MAX_ASSETS = 2
    ids = [make_asset(user, color=(n, n, n), name=f"{n}.png").pk for n in range(3)]
    response = bulk(web_client, action="add_tag", label="x", ids=ids)
    assert messages_of(response) == ["Select at most 2 images at a time."]


def test_library_has_selection_and_a_toolbar(web_client, tagged):
    page = page_text(web_client.get(reverse("library")))
    assert f'<input type="checkbox" class="select" name="ids" value="{tagged.pk}" form="bulk-form"' in page
    assert (
        f'<label for="select-{tagged.pk}" class="select-label"><span class="visually-hidden">Select photo.png' in page
    )
    assert 'action="/assets/bulk/"' in page and 'name="next" value="/"' in page
    for action in ("add_tag", "remove_tag", "retag", "delete"):
        assert f'name="action" value="{action}"' in page
    assert f'class="chip" style="{label_colors("dog").style}">dog</span>' in page


# --- review queue ---------------------------------------------------------------------------------


def test_review_queue_puts_the_least_certain_first(web_client, user, other_user, settings):
    settings.TAGGING_SCORE_THRESHOLD = 0.5
    first = make_asset(user, name="first.png")
    second = make_asset(user, color=(5, 5, 5), name="second.png")
    tag(first, ("a", 0.99, Box(0, 0, 10, 10)), ("b", 0.56, Box(10, 0, 10, 10)), ("c", 0.75, Box(20, 0, 10, 10)))
    tag(second, ("d", 0.51, Box(0, 0, 10, 10)), ("e", 0.62, Box(10, 0, 10, 10)), ("f", 0.9, Box(20, 0, 10, 10)))
    detection(second, "e").__class__.objects.filter(label__name="e").update(review=ReviewState.ACCEPTED)
    detection_add_manual(asset=first, label="manual", box=Box(1, 1, 5, 5))
    theirs = make_asset(other_user, name="theirs.png")
    tag(theirs, ("zzz", 0.5, Box(0, 0, 10, 10)))

    assert [d.label.name for d in review_queue(user=user)] == ["d", "b", "c", "f", "a"]
    response = web_client.get(reverse("review-queue"))
    assert response.status_code == 200
    page = page_text(response)
    assert "5 detections to review, least certain first." in page
    shown = re.findall(r'<span class="chip">([^<]+)</span>', page)
    assert shown == ["d", "b", "c", "f", "a"]
    assert "zzz" not in page
    assert "theirs.png" not in page
    # Each item reviews in place and comes back to the queue.
    assert 'name="next" value="/review/"' in page
    assert reverse("api:detection-detail", args=[detection(second, "d").pk]) in page


def test_review_queue_uses_per_label_thresholds(user, settings):
    settings.TAGGING_SCORE_THRESHOLD = 0.5
    settings.TAGGING_LABEL_THRESHOLDS = {"person": 0.9}
    asset = make_asset(user)
    tag(asset, ("person", 0.93, Box(0, 0, 10, 10)), ("dog", 0.55, Box(10, 0, 10, 10)), ("cat", 0.6, Box(20, 0, 9, 9)))
    queue = list(review_queue(user=user))
    assert [d.label.name for d in queue] == ["person", "dog", "cat"]
    assert [round(d.uncertainty, 2) for d in queue] == [0.03, 0.05, 0.1]


def test_review_queue_preview_shows_only_the_box(web_client, user):
    asset = make_asset(user, size=(200, 100))
    tag(asset, ("dog", 0.7, Box(50, 25, 100, 50)))
    page = page_text(web_client.get(reverse("review-queue")))
    assert 'style="--ratio:2.0000"' in page
    # The thumbnail is twice the frame's size and moved half a box left and up: the box fills the frame.
    assert "width:200.000%;height:200.000%;left:-50.000%;top:-50.000%" in page


def test_review_queue_is_empty_and_says_so(web_client):
    page = page_text(web_client.get(reverse("review-queue")))
    assert "Nothing to review." in page and "All caught up." in page


# --- pages load only this site's files --------------------------------------------------------------


@pytest.mark.parametrize("name", ["library", "upload", "asset-detail", "review-queue", "integrations-token", "login"])
def test_pages_load_everything_from_this_site(web_client, tagged, name):
    url = reverse(name, args=[tagged.pk]) if name == "asset-detail" else reverse(name)
    response = web_client.get(url)
    assert response.status_code == 200
    html = page_text(response)
    assert re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html) == []
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html)
    assert "/static/css/site.css" in assets and "/static/js/site.js" in assets
    for path in assets:
        assert web_client.get(quote(path)).status_code == 200, path
    assert 'name="viewport"' in html and 'class="skip-link"' in html
    # Every visible form control has a label.
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
    for control in controls:
        if re.search(r'type="(hidden|submit)"', control):
            continue
        match = re.search(r'id="([^"]+)"', control)
        assert match, f"control without an id: {control}"
        ident = match.group(1)
        assert f'for="{ident}"' in html or "aria-label" in control, f"no label for {control}"
