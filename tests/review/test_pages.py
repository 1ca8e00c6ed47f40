"""The review pages through Django's test client: crops, reviewing detections, bulk actions from the
library and the review queue. Each with its owner check (another user's things are a 404 and stay
untouched) and its bad-input messages."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from PIL import Image, ImageChops, ImageOps, ImageStat

from media.models import Asset
from media.services import asset_create
from review.selectors import review_queue
from review.services import detection_add_manual
from tagging.boxes import Box
from tagging.models import AssetTag, BulkRequest, Detection, DetectionSource, ReviewState
from tests.images import exif_block, image_bytes, upload
from tests.tagged_assets import make_asset, tag

pytestmark = pytest.mark.django_db


def detection(asset: Asset, label: str) -> Detection:
    return Detection.objects.get(asset=asset, label__name=label)


def page_text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    """The messages this request added (earlier ones wait in the session until a page shows them)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


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
    assert sent == [] and len(sent.tokens) == 1
    assert list(BulkRequest.objects.values_list("asset_id", flat=True)) == [tagged.pk]


def test_bulk_delete_asks_first(web_client, user, tagged, settings):
    second = make_asset(user, color=(1, 200, 1), name="second.png")
    response = bulk(web_client, action="delete", ids=[tagged.pk, second.pk], next="/?q=dog")
    assert response.status_code == 200
    page = page_text(response)
    assert "Move 2 images to the trash?" in page and "photo.png" in page and "second.png" in page
    assert 'name="confirm" value="1"' in page and 'name="next" value="/?q=dog"' in page
    assert Asset.objects.filter(owner=user).count() == 2
    response = bulk(web_client, action="delete", ids=[tagged.pk, second.pk], confirm="1", next="/?q=dog")
    assert response.status_code == 302 and messages_of(response) == ["Moved 2 images to the trash."]
    assert not Asset.objects.filter(owner=user).exists()
    assert Asset.all_objects.filter(owner=user, trashed_at__isnull=False).count() == 2


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
