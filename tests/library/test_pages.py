"""The library and asset pages through Django's test client: coloured boxes and review controls,
adding tags with and without a box, re-tagging from the page, the library's selection toolbar, and
pages that load nothing from other sites. Each with its owner check and its bad-input messages."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from media.models import Asset, TaggingStatus
from media.services import asset_create
from review.services import detection_add_manual, detection_review
from tagging.boxes import Box
from tagging.models import AssetTag, BulkRequest, Detection, DetectionSource, ReviewState
from tagging.pipeline import run_detection
from tagging.services import tagging_reset
from tagging.templatetags.tagging_ui import contrast_ratio, label_colors
from testkit.shapes import three_shapes_scene
from tests.images import upload

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
    assert sent == [] and len(sent.tokens) == 1  # the bulk lane: a token, no per-asset message
    assert BulkRequest.objects.filter(asset=asset).exists()
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.PENDING
    run_detection(asset_id=str(asset.pk), task_id="second")
    assert not BulkRequest.objects.filter(asset=asset).exists()  # served

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
    assert foreign.tagging_status == TaggingStatus.TAGGED and sent == [] and sent.tokens == []
    assert not BulkRequest.objects.exists()


# --- bulk actions ---------------------------------------------------------------------------------


def bulk(client, **data):
    return client.post(reverse("asset-bulk"), data)


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
