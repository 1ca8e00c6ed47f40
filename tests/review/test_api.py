"""Reviewing detections through the API, re-tagging, manual tags and bulk actions: each with its
owner check (another user's things are 404) and its bad-input answers (4xx in the one error shape)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from media.models import Asset, TaggingStatus
from tagging.boxes import Box
from tagging.models import AssetTag, BulkRequest, BulkToken, Detection, DetectionSource, ReviewState
from tests.tagged_assets import make_asset, tag

# Each test starts with no request history: rate limits must not carry over between tests.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_history")]


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str)
    if code is not None:
        assert body["code"] == code, body
    return body


# --- manual detections ------------------------------------------------------------------------------


def test_add_manual_detection_with_and_without_box(api_client, tagged):
    response = api_client.post(
        f"/api/assets/{tagged.pk}/detections/",
        {"label": "  Red Ball ", "box": {"x": 5, "y": 6, "width": 20, "height": 10}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["label"] == "red ball" and body["source"] == "manual" and body["reviewed"] is True
    assert body["box"] == {"x": 5, "y": 6, "width": 20, "height": 10}
    assert body["box_normalized"] == {"x": 0.025, "y": 0.06, "width": 0.1, "height": 0.1}

    boxless = api_client.post(f"/api/assets/{tagged.pk}/detections/", {"label": "beach"}, format="json")
    assert boxless.status_code == 201 and boxless.json()["box"] is None

    asset = api_client.get(f"/api/assets/{tagged.pk}/").json()
    assert {tag["label"] for tag in asset["tags"]} == {"dog", "cat", "red ball", "beach"}
    assert asset["manual_tags"] == ["beach", "red ball"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "label"),
        ({"label": "   "}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"label": "dog", "box": {"x": 190, "y": 0, "width": 20, "height": 10}}, "box"),  # past the right edge
        ({"label": "dog", "box": {"x": 0, "y": 0, "width": 0, "height": 10}}, "box"),
        ({"label": "dog", "box": {"x": -1, "y": 0, "width": 5, "height": 5}}, "box"),
        ({"label": "dog", "box": {"x": 0, "y": 0, "width": 2**40, "height": 5}}, "box"),
        ({"label": "dog", "box": [1, 2, 3, 4]}, "box"),
        ({"label": ["dog"]}, "label"),
    ],
)
def test_add_manual_detection_rejects_bad_input(api_client, tagged, body, field):
    response = api_client.post(f"/api/assets/{tagged.pk}/detections/", body, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["errors"]
    assert Detection.objects.filter(asset=tagged, source=DetectionSource.MANUAL).count() == 0


def test_detection_list_includes_rejected_ones(api_client, tagged):
    dog = tagged.detections.get(label__name="dog")
    api_client.patch(f"/api/detections/{dog.pk}/", {"review": "rejected"}, format="json")
    listing = api_client.get(f"/api/assets/{tagged.pk}/detections/").json()
    assert {(item["label"], item["review"]) for item in listing} == {("dog", "rejected"), ("cat", "unreviewed")}
    # The asset itself shows only what stands.
    assert [d["label"] for d in api_client.get(f"/api/assets/{tagged.pk}/").json()["detections"]] == ["cat"]


# --- review ---------------------------------------------------------------------------------------


def test_accept_reject_relabel(api_client, tagged):
    dog = tagged.detections.get(label__name="dog")
    cat = tagged.detections.get(label__name="cat")

    accepted = api_client.patch(f"/api/detections/{dog.pk}/", {"review": "accepted"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["review"] == "accepted"

    relabelled = api_client.patch(f"/api/detections/{cat.pk}/", {"label": "Kitten"}, format="json")
    assert relabelled.status_code == 200
    assert relabelled.json()["label"] == "kitten" and relabelled.json()["review"] == "accepted"

    rejected = api_client.patch(f"/api/detections/{dog.pk}/", {"review": "rejected"}, format="json")
    assert rejected.json()["review"] == "rejected"
    assert sorted(AssetTag.objects.filter(asset=tagged).values_list("label__name", flat=True)) == ["kitten"]

    # Reviewed results survive the next automatic run.
    tag(tagged, ("dog", 0.95, Box(10, 10, 50, 40)), ("cat", 0.7, Box(100, 20, 30, 30)))
    assert tagged.detections.get(pk=dog.pk).review == ReviewState.REJECTED
    assert not tagged.detections.filter(label__name="dog").exclude(pk=dog.pk).exists()
    assert tagged.detections.get(pk=cat.pk).label.name == "kitten"


def test_review_queue_count_is_the_users_own(api_client, other_api_client, tagged, foreign):
    """What the queue page shows after each review: the server's count, never another user's."""
    assert api_client.get("/api/review/queue/").json() == {"count": 2}  # dog and cat, unreviewed
    dog = tagged.detections.get(label__name="dog")
    assert api_client.patch(f"/api/detections/{dog.pk}/", {"review": "accepted"}, format="json").status_code == 200
    assert api_client.get("/api/review/queue/").json() == {"count": 1}
    assert other_api_client.get("/api/review/queue/").json() == {"count": 1}  # the other user's car
    assert APIClient().get("/api/review/queue/").status_code == 401


@pytest.mark.parametrize(
    "body", [{}, {"review": "unreviewed"}, {"review": "maybe"}, {"label": ""}, {"review": None}]
)
def test_review_rejects_bad_input(api_client, tagged, body):
    dog = tagged.detections.get(label__name="dog")
    assert_error(api_client.patch(f"/api/detections/{dog.pk}/", body, format="json"), 400, "invalid")
    dog.refresh_from_db()
    assert dog.review == ReviewState.UNREVIEWED


def test_delete_removes_manual_and_rejects_automatic(api_client, tagged):
    manual = api_client.post(f"/api/assets/{tagged.pk}/detections/", {"label": "beach"}, format="json").json()
    assert api_client.delete(f"/api/detections/{manual['id']}/").status_code == 204
    assert not Detection.objects.filter(pk=manual["id"]).exists()

    dog = tagged.detections.get(label__name="dog")
    assert api_client.delete(f"/api/detections/{dog.pk}/").status_code == 204
    dog.refresh_from_db()
    assert dog.review == ReviewState.REJECTED  # kept, so re-tagging does not bring it back
    assert api_client.get(f"/api/detections/{dog.pk}/").json()["review"] == "rejected"
    assert sorted(AssetTag.objects.filter(asset=tagged).values_list("label__name", flat=True)) == ["cat"]


# --- manual tags on the asset ------------------------------------------------------------------------


def test_patch_manual_tags_adds_and_removes(api_client, tagged):
    url = f"/api/assets/{tagged.pk}/"
    response = api_client.patch(url, {"manual_tags": ["Beach", "sunset", "beach"], "title": "Trip"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["manual_tags"] == ["beach", "sunset"] and body["title"] == "Trip"
    assert {tag["label"] for tag in body["tags"]} == {"dog", "cat", "beach", "sunset"}

    response = api_client.patch(url, {"manual_tags": ["sunset"]}, format="json")
    assert response.json()["manual_tags"] == ["sunset"]
    assert {tag["label"] for tag in response.json()["tags"]} == {"dog", "cat", "sunset"}
    # Automatic detections are not manual tags and are not touched by the list.
    assert tagged.detections.filter(source=DetectionSource.AUTO).count() == 2

    # Leaving the field out changes nothing.
    assert api_client.patch(url, {"title": "Again"}, format="json").json()["manual_tags"] == ["sunset"]


@pytest.mark.parametrize("value", ["beach", [""], ["x" * 101], [["nested"]], ["t"] * 51, None])
def test_patch_manual_tags_rejects_bad_input(api_client, tagged, value):
    response = api_client.patch(f"/api/assets/{tagged.pk}/", {"manual_tags": value}, format="json")
    assert "manual_tags" in assert_error(response, 400, "invalid")["errors"]


# --- retag ------------------------------------------------------------------------------------------


def test_retag_resets_and_goes_to_the_bulk_lane_after_commit(
    api_client, tagged, sent, django_capture_on_commit_callbacks
):
    manual = api_client.post(f"/api/assets/{tagged.pk}/detections/", {"label": "beach"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/assets/{tagged.pk}/retag/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    # No fresh-lane message: a bulk request and one token that tags it when a worker gets to it.
    assert sent == [] and sent.tokens == [[str(BulkToken.objects.get().pk)]]
    assert BulkRequest.objects.filter(asset=tagged, owner=tagged.owner).exists()
    tagged.refresh_from_db()
    assert tagged.tagging_status == TaggingStatus.PENDING
    assert Detection.objects.filter(pk=manual["id"]).exists()


# --- bulk -------------------------------------------------------------------------------------------


def test_bulk_by_ids_reports_counts_and_ignores_other_users_ids(
    api_client, user, tagged, foreign, sent, django_capture_on_commit_callbacks
):
    second = make_asset(user, color=(1, 2, 3), name="second.png")
    ids = [str(tagged.pk), str(second.pk), str(foreign.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/assets/bulk/", {"action": "retag", "ids": ids}, format="json")
    assert response.status_code == 200, response.content
    # ``second`` still waits for its first tagging (fresh lane): it stays there and is tagged once.
    assert response.json() == {"action": "retag", "matched": 2, "changed": 1, "not_found": [str(foreign.pk)]}
    assert list(BulkRequest.objects.values_list("asset_id", flat=True)) == [tagged.pk]
    assert sent == [] and len(sent.tokens) == 1
    foreign.refresh_from_db()
    assert foreign.tagging_status == TaggingStatus.TAGGED  # untouched

    added = api_client.post(
        "/api/assets/bulk/", {"action": "add_tag", "ids": ids, "label": "Holiday"}, format="json"
    ).json()
    assert added["changed"] == 2
    assert not foreign.detections.filter(label__name="holiday").exists()
    again = api_client.post("/api/assets/bulk/", {"action": "add_tag", "ids": ids, "label": "holiday"}, format="json")
    assert again.json()["changed"] == 0  # already there

    removed = api_client.post(
        "/api/assets/bulk/", {"action": "remove_tag", "ids": ids, "label": "dog"}, format="json"
    ).json()
    assert removed == {"action": "remove_tag", "matched": 2, "changed": 1, "not_found": [str(foreign.pk)]}
    assert not AssetTag.objects.filter(asset=tagged, label__name="dog").exists()

    with django_capture_on_commit_callbacks(execute=True):
        deleted = api_client.post("/api/assets/bulk/", {"action": "delete", "ids": ids}, format="json").json()
    assert deleted["changed"] == 2
    assert list(Asset.objects.values_list("pk", flat=True)) == [foreign.pk]


def test_bulk_by_query(api_client, user, tagged, foreign, sent, django_capture_on_commit_callbacks):
    plain = make_asset(user, color=(1, 2, 3), name="plain.png")
    tag(plain, ("tree", 0.9, Box(0, 0, 10, 10)))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/assets/bulk/", {"action": "add_tag", "q": "dog", "label": "pet"}, format="json"
        )
    assert response.json() == {"action": "add_tag", "matched": 1, "changed": 1, "not_found": []}
    assert tagged.tags.filter(label__name="pet").exists() and not plain.tags.filter(label__name="pet").exists()
    # "car" is only on the other user's asset: nothing of theirs is matched.
    response = api_client.post("/api/assets/bulk/", {"action": "delete", "q": "car"}, format="json")
    assert response.json()["matched"] == 0
    assert Asset.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize(
    "body, code",
    [
        ({"action": "retag"}, "invalid"),
        ({"action": "explode", "ids": []}, "invalid"),
        ({"action": "retag", "ids": [], "q": "dog"}, "invalid"),
        ({"action": "retag", "ids": ["not-a-uuid"]}, "invalid"),
        ({"action": "add_tag", "q": "dog"}, "invalid"),
        ({"action": "retag", "q": "(dog"}, "invalid_query"),
        ({"action": "retag", "ids": "abc"}, "invalid"),
    ],
)
def test_bulk_rejects_bad_input(api_client, tagged, body, code):
    assert_error(api_client.post("/api/assets/bulk/", body, format="json"), 400, code)


def test_bulk_caps_the_number_of_assets(api_client, settings, user, tagged):
    settings.BULK_MAX_ASSETS = 1
    make_asset(user, color=(1, 2, 3))
    body = assert_error(api_client.post("/api/assets/bulk/", {"action": "retag", "q": "uploaded:2000..2999"},
                                        format="json"), 400, "too_many_assets")
    assert "more than 1 images" in body["detail"]


# --- who may do what ----------------------------------------------------------------------------------


def foreign_requests(foreign: Asset) -> list[tuple[str, str, dict | None]]:
    detection = foreign.detections.first()
    return [
        ("get", f"/api/assets/{foreign.pk}/detections/", None),
        ("post", f"/api/assets/{foreign.pk}/detections/", {"label": "x"}),
        ("post", f"/api/assets/{foreign.pk}/retag/", None),
        ("get", f"/api/detections/{detection.pk}/", None),
        ("patch", f"/api/detections/{detection.pk}/", {"review": "rejected"}),
        ("delete", f"/api/detections/{detection.pk}/", None),
        ("patch", f"/api/assets/{foreign.pk}/", {"manual_tags": ["x"]}),
    ]


def test_other_users_assets_and_detections_are_404(api_client, foreign, sent):
    before = sorted(Detection.objects.filter(asset=foreign).values_list("pk", "review", "label__name"))
    for method, url, body in foreign_requests(foreign):
        response = getattr(api_client, method)(url, body, format="json")
        assert_error(response, 404, "not_found")
    assert sorted(Detection.objects.filter(asset=foreign).values_list("pk", "review", "label__name")) == before
    assert sent == []


@pytest.mark.parametrize(
    "url", ["/api/assets/not-a-uuid/detections/", "/api/detections/abc/", "/api/detections/0/",
            "/api/detections/99999999999999999999999/", "/api/assets/not-a-uuid/retag/"]
)
def test_malformed_ids_are_json_404(api_client, url):
    assert_error(api_client.get(url) if "retag" not in url else api_client.post(url), 404, "not_found")


def test_anonymous_and_bad_tokens_get_401(foreign):
    anonymous = APIClient()
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    for client in (anonymous, bad):
        for method, url, body in [
            *foreign_requests(foreign),
            ("post", "/api/assets/bulk/", {"action": "retag", "ids": [str(foreign.pk)]}),
        ]:
            response = getattr(client, method)(url, body, format="json")
            assert_error(response, 401)
            assert response["WWW-Authenticate"] == "Token"
    foreign.refresh_from_db()
    assert foreign.tagging_status == TaggingStatus.TAGGED


def test_session_writes_need_csrf(user, tagged):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"/api/assets/{tagged.pk}/detections/").status_code == 200
    response = client.post(f"/api/assets/{tagged.pk}/detections/", {"label": "x"}, format="json")
    assert "CSRF" in assert_error(response, 403)["detail"]


# --- throttling -------------------------------------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min", "bulk": "2/min"})


def test_per_user_throttle_answers_429_in_the_error_format(api_client, low_rates, tagged):
    for _ in range(3):
        assert api_client.get("/api/assets/").status_code == 200
    response = api_client.get(f"/api/assets/{tagged.pk}/detections/")
    body = assert_error(response, 429, "throttled")
    assert "Request was throttled" in body["detail"] and int(response["Retry-After"]) > 0


def test_bulk_has_its_own_lower_rate(api_client, low_rates, tagged, sent):
    body = {"action": "add_tag", "ids": [str(tagged.pk)], "label": "x"}
    assert api_client.post("/api/assets/bulk/", body, format="json").status_code == 200
    assert api_client.post("/api/assets/bulk/", body, format="json").status_code == 200
    assert_error(api_client.post("/api/assets/bulk/", body, format="json"), 429, "throttled")


@pytest.mark.parametrize("url", ["/api/assets/bulk/", "/api/import/coco/", "/api/webhooks/", "DETECTIONS"])
def test_absurdly_nested_json_is_a_400(api_client, tagged, url):
    url = f"/api/assets/{tagged.pk}/detections/" if url == "DETECTIONS" else url
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.post(url, body, content_type="application/json")
    assert "nested too deeply" in assert_error(response, 400, "parse_error")["detail"]


def test_absurdly_nested_json_on_the_asset_is_a_400(api_client, tagged):
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.patch(f"/api/assets/{tagged.pk}/", body, content_type="application/json")
    assert_error(response, 400, "parse_error")
