"""COCO export of a search result and import onto existing assets: the round trip, matching,
strict validation, limits and owner isolation."""

from __future__ import annotations

import copy
import json

import pytest
from rest_framework.test import APIClient

from media.services import asset_create
from review.services import detection_add_manual, detection_review
from tagging.boxes import Box, DetectedObject
from tagging.models import Detection, DetectionSource, ReviewState
from tagging.services import RunInfo, detections_replace
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.images import image_bytes, upload

# Each test starts with no request history: rate limits must not carry over between tests.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]

RED = image_bytes("PNG", size=(200, 100), color=(200, 0, 0))
BLUE = image_bytes("PNG", size=(120, 160), color=(0, 0, 200))


def tag(asset, *objects) -> None:
    detections_replace(
        asset_id=asset.pk,
        objects=[DetectedObject(label, score, box) for label, score, box in objects],
        info=RunInfo(model_name="test"),
    )


@pytest.fixture
def library(user):
    """Alice's two tagged images, with a manual box, a boxless tag and a rejected detection."""
    red = asset_create(owner=user, file=upload(RED, "red.png")).asset
    blue = asset_create(owner=user, file=upload(BLUE, "blue.png")).asset
    tag(red, ("dog", 0.91, Box(10, 20, 50, 40)), ("cat", 0.55, Box(100, 10, 60, 60)))
    tag(blue, ("dog", 0.8, Box(0, 0, 30, 30)), ("person", 0.7, Box(40, 50, 70, 100)))
    detection_add_manual(asset=red, label="ball", box=Box(150, 60, 20, 20))
    detection_add_manual(asset=red, label="beach")  # no box: not in a COCO export
    detection_review(detection=blue.detections.get(label__name="person"), accept=False)  # rejected: left out
    return red, blue


def boxes_of(asset) -> list[tuple[str, tuple[int, int, int, int]]]:
    return sorted(
        (d.label.name, (d.x, d.y, d.width, d.height))
        for d in asset.detections.select_related("label").exclude(review=ReviewState.REJECTED)
        if d.box is not None
    )


def detections_of(owner) -> list[tuple]:
    return sorted(Detection.objects.filter(asset__owner=owner).values_list("pk", "label_id", "x", "review"))


def test_export_is_coco_with_scores_and_extras(api_client, library):
    red, blue = library
    response = api_client.get("/api/export/coco/")
    assert response.status_code == 200, response.content
    coco = response.json()
    assert set(coco) >= {"info", "images", "categories", "annotations"}
    images = {image["asset_id"]: image for image in coco["images"]}
    assert set(images) == {str(red.pk), str(blue.pk)}
    assert images[str(red.pk)]["file_name"] == "red.png"
    assert (images[str(red.pk)]["width"], images[str(red.pk)]["height"]) == (200, 100)
    assert images[str(blue.pk)]["sha256"] == blue.sha256
    assert sorted(c["name"] for c in coco["categories"]) == ["ball", "cat", "dog"]  # rejected person left out
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_image = {image["id"]: image["asset_id"] for image in coco["images"]}
    exported = sorted(
        (by_image[a["image_id"]], names[a["category_id"]], tuple(a["bbox"]), a["score"], a["source"], a["area"])
        for a in coco["annotations"]
    )
    assert exported == sorted(
        [
            (str(red.pk), "dog", (10, 20, 50, 40), 0.91, "auto", 2000),
            (str(red.pk), "cat", (100, 10, 60, 60), 0.55, "auto", 3600),
            (str(red.pk), "ball", (150, 60, 20, 20), 1.0, "manual", 400),
            (str(blue.pk), "dog", (0, 0, 30, 30), 0.8, "auto", 900),
        ]
    )
    assert all(a["iscrowd"] == 0 for a in coco["annotations"])
    assert len({a["id"] for a in coco["annotations"]}) == 4


def test_export_follows_the_query(api_client, library):
    red, _ = library
    coco = api_client.get("/api/export/coco/", {"q": "cat"}).json()
    assert [image["asset_id"] for image in coco["images"]] == [str(red.pk)]
    assert coco["info"]["description"] == "assetsite export: cat"
    assert api_client.get("/api/export/coco/", {"q": "zebra"}).json()["images"] == []
    error = api_client.get("/api/export/coco/", {"q": "dog AND ("})
    assert error.status_code == 400 and error.json()["code"] == "invalid_query"


def test_export_is_capped(api_client, library, settings):
    settings.COCO_EXPORT_MAX_ASSETS = 1
    response = api_client.get("/api/export/coco/")
    assert response.status_code == 400 and response.json()["code"] == "too_many_assets"
    assert api_client.get("/api/export/coco/", {"q": "cat"}).status_code == 200


def test_round_trip_to_another_users_copies(api_client, library):
    red, blue = library
    coco = api_client.get("/api/export/coco/").json()
    alices = detections_of(red.owner)

    bob = UserFactory(username="bob")
    bob_red = asset_create(owner=bob, file=upload(RED, "IMG_0001.png")).asset  # same pixels, another name
    bob_blue = asset_create(owner=bob, file=upload(BLUE, "blue.png")).asset
    bob_client = token_client(bob)

    response = bob_client.post("/api/import/coco/", coco, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "images": 2,
        "matched_images": 2,
        "unmatched_images": [],
        "annotations": 4,
        "created": 4,
        "duplicates": 0,
        "unmatched_annotations": 0,
        "assets_changed": 2,
    }
    assert boxes_of(bob_red) == boxes_of(red)
    assert boxes_of(bob_blue) == boxes_of(blue)
    assert all(d.source == DetectionSource.MANUAL for d in Detection.objects.filter(asset__owner=bob))
    assert sorted(bob_red.tags.values_list("label__name", "count")) == [("ball", 1), ("cat", 1), ("dog", 1)]

    # Importing again adds nothing: every box is already there.
    again = bob_client.post("/api/import/coco/", coco, format="json").json()
    assert again["created"] == 0 and again["duplicates"] == 4
    # Alice's own assets were never touched by Bob's import, though the file names their ids.
    assert detections_of(red.owner) == alices


def test_import_matches_by_file_name_and_reports_the_rest(api_client, user):
    asset = asset_create(owner=user, file=upload(RED, "holiday/beach.png")).asset
    asset_create(owner=user, file=upload(BLUE, "twin.png"))
    asset_create(owner=user, file=upload(image_bytes("PNG", color=(1, 1, 1)), "twin.png"))
    coco = {
        "images": [
            {"id": 1, "file_name": "exports/beach.png", "width": 200, "height": 100},
            {"id": 2, "file_name": "twin.png"},
            {"id": "x", "file_name": "nowhere.jpg"},
        ],
        "categories": [{"id": 7, "name": "Surfboard"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10.4, 20.6, 30, 40]},
            {"id": 2, "image_id": 1, "category_id": 7},  # no box: a tag
            {"id": 3, "image_id": 2, "category_id": 7, "bbox": [1, 1, 5, 5]},
            {"id": 4, "image_id": "x", "category_id": 7, "bbox": [1, 1, 5, 5]},
        ],
    }
    result = api_client.post("/api/import/coco/", coco, format="json").json()
    assert result["matched_images"] == 1 and result["created"] == 2 and result["unmatched_annotations"] == 2
    reasons = {item["id"]: item["reason"] for item in result["unmatched_images"]}
    assert "2 of your assets are named twin.png" in reasons[2]
    assert "none of your assets" in reasons["x"]
    assert sorted((d.label.name, str(d.box)) for d in asset.detections.select_related("label")) == [
        ("surfboard", "Box(x=10, y=21, width=30, height=40)"),
        ("surfboard", "None"),
    ]


def test_import_scales_boxes_from_a_resized_copy(api_client, user):
    asset = asset_create(owner=user, file=upload(RED, "red.png")).asset  # 200 x 100
    coco = {
        "images": [{"id": 1, "sha256": asset.sha256, "width": 100, "height": 50}],
        "categories": [{"id": 1, "name": "dog"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 10, 20, 15]}],
    }
    assert api_client.post("/api/import/coco/", coco, format="json").json()["created"] == 1
    assert asset.detections.get().box == Box(10, 20, 40, 30)


VALID = {
    "images": [{"id": 1, "file_name": "red.png"}],
    "categories": [{"id": 1, "name": "dog"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
}


def broken(path: str, value) -> dict:
    document = copy.deepcopy(VALID)
    target = document
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key = int(last) if last.isdigit() else last
    if value is KeyError:
        del target[key]
    else:
        target[key] = value
    return document


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "must be a COCO JSON object"),
        (broken("images", KeyError), '"images" must be a list'),
        (broken("categories", {"id": 1}), '"categories" must be a list'),
        (broken("annotations.0.category_id", 9), "annotations[0].category_id 9 is not among the categories"),
        (broken("annotations.0.image_id", 2), "annotations[0].image_id 2 is not among the images"),
        (broken("annotations.0.image_id", True), "annotations[0].image_id must be an integer"),
        (broken("annotations.0.bbox", [1, 2, 3]), "annotations[0].bbox must be [x, y, width, height]"),
        (broken("annotations.0.bbox", [1, 2, "3", 4]), "annotations[0].bbox must be [x, y, width, height]"),
        (broken("annotations.0.bbox", [1, 2, 0, 4]), "not positive"),
        (broken("annotations.0.bbox", [500, 2, 3, 4]), "lies outside its asset"),
        (broken("annotations.0", "dog"), "annotations[0] must be an object"),
        (broken("categories.0.name", ""), "categories[0].name must be a non-empty string"),
        (broken("categories.0.name", "x" * 101), "longer than 100"),
        (broken("images.0.id", None), "images[0].id must be an integer"),
        (broken("images.0.asset_id", "nope"), "images[0].asset_id is not a UUID"),
        (broken("images.0.sha256", "abc"), "64 hexadecimal digits"),
        (broken("images.0.width", -3), "images[0].width must be a positive number"),
        ({**VALID, "images": VALID["images"] * 2}, "is used by another image"),
        ({**VALID, "categories": VALID["categories"] * 2}, "is used by another category"),
    ],
)
def test_import_rejects_bad_documents_and_writes_nothing(api_client, user, document, message):
    asset_create(owner=user, file=upload(RED, "red.png"))
    response = api_client.post("/api/import/coco/", document, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_coco" and message in response.json()["detail"], response.json()
    assert Detection.objects.count() == 0


def test_import_rejects_what_is_not_json(api_client):
    response = api_client.post("/api/import/coco/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = api_client.post("/api/import/coco/", '{"images": [NaN]}', content_type="application/json")
    assert response.status_code == 400
    response = api_client.post("/api/import/coco/", {"images": []}, format="multipart")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_import_limits(api_client, user, settings):
    asset_create(owner=user, file=upload(RED, "red.png"))
    settings.COCO_IMPORT_MAX_ANNOTATIONS = 1
    document = {**VALID, "annotations": VALID["annotations"] * 2}
    response = api_client.post("/api/import/coco/", document, format="json")
    assert response.status_code == 400 and "At most 1" in response.json()["detail"]
    settings.COCO_IMPORT_MAX_BYTES = 100
    response = api_client.post("/api/import/coco/", json.dumps(VALID) + " " * 100, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert Detection.objects.count() == 0


def test_coco_endpoints_need_authentication(library):
    for client in (APIClient(), _bad_token()):
        assert client.get("/api/export/coco/").status_code == 401
        assert client.post("/api/import/coco/", VALID, format="json").status_code == 401


def test_export_shows_only_your_assets(other_api_client, library):
    assert other_api_client.get("/api/export/coco/").json()["images"] == []


def _bad_token() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token bogus")
    return client


def test_videos_are_left_out_of_export_and_import(api_client, user, library):
    from testkit.clips import encode, three_shapes_clip

    video = asset_create(owner=user, file=upload(encode(three_shapes_clip(duration=1.0)), "clip.mp4")).asset
    detection_add_manual(asset=video, label="dog")  # a tag, but a video is not a COCO image
    coco = api_client.get("/api/export/coco/").json()
    assert str(video.pk) not in {image["asset_id"] for image in coco["images"]}
    assert len(coco["images"]) == 2 and coco["info"]["videos_left_out"] == 1
    document = {
        "images": [{"id": 1, "file_name": "clip.mp4", "width": video.width, "height": video.height,
                    "sha256": video.sha256}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    response = api_client.post("/api/import/coco/", document, format="json")
    assert not video.detections.filter(label__name="cat").exists(), response.content
