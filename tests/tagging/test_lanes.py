"""The lanes' bookkeeping in the database and the progress API (the order a real worker follows is in
tests/system/test_lanes_e2e.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from media.models import Asset, TaggingStatus
from tagging import lanes
from tagging.models import BulkRequest, BulkToken, DetectionRun
from tagging.progress import duration_words
from tagging.tasks import bulk_retag, tagging_enqueue, tagging_sweep
from tests.tagged_assets import make_asset

pytestmark = pytest.mark.django_db

_colour = iter(range(1, 250))


def assets(owner, count: int, status: str = TaggingStatus.TAGGED) -> list[Asset]:
    made = [make_asset(owner, color=(next(_colour), 7, 9), name=f"a{i}.png") for i in range(count)]
    Asset.objects.filter(pk__in=[a.pk for a in made]).update(tagging_status=status)
    return made


def test_a_big_retag_is_rows_in_the_database_and_only_a_few_messages(user, sent, settings,
                                                                       django_capture_on_commit_callbacks):
    settings.TAGGING_BULK_IN_FLIGHT = 3
    mine = assets(user, 10)
    with django_capture_on_commit_callbacks(execute=True):
        assert bulk_retag(asset_ids=[a.pk for a in mine]) == 10
    assert BulkRequest.objects.filter(owner=user).count() == 10
    assert sent == [] and len(sent.tokens) == 3 and BulkToken.objects.count() == 3
    statuses = Asset.objects.filter(pk__in=[a.pk for a in mine]).values_list("tagging_status", flat=True)
    assert set(statuses) == {"pending"}
    # Feeding again sends nothing while three are out; the sweeper does not send the bulk assets one by one.
    result = tagging_sweep(now=timezone.now() + timedelta(hours=2))
    assert result.requeued == 0 and sent == []
    # ...but it forgets tokens lost long ago (a broker restart) and sends new ones.
    assert result.tokens == 3 and BulkToken.objects.count() == 3


def test_users_take_turns_and_fresh_work_comes_first(user, other_user):
    alices, bobs = assets(user, 3), assets(other_user, 2)
    lanes.bulk_add(asset_ids=[a.pk for a in alices])
    lanes.bulk_add(asset_ids=[a.pk for a in bobs])
    fresh = make_asset(other_user, color=(250, 250, 1), name="new.png")  # pending, no bulk request
    Asset.objects.filter(pk=fresh.pk).update(tagging_enqueued_at=timezone.now())  # its message was sent

    order = []
    while (job := lanes.next_job()) is not None:
        order.append((job.lane, Asset.objects.get(pk=job.asset_id).owner.username))
        Asset.objects.filter(pk=job.asset_id).update(tagging_status=TaggingStatus.TAGGED)
    assert order == [("fresh", other_user.username)] + [
        ("bulk", name) for name in (user.username, other_user.username, user.username, other_user.username,
                                    user.username)
    ]
    assert fresh.pk not in BulkRequest.objects.values_list("asset_id", flat=True)


def test_moving_lanes(user):
    waiting_fresh = make_asset(user, color=(3, 3, 3), name="fresh.png")  # just uploaded, pending
    old = assets(user, 1)[0]
    assert lanes.bulk_add(asset_ids=[waiting_fresh.pk, old.pk]) == 1  # the fresh one stays fresh
    assert list(BulkRequest.objects.values_list("asset_id", flat=True)) == [old.pk]
    # A different model is a different request: then it does go to the bulk lane.
    assert lanes.bulk_add(asset_ids=[waiting_fresh.pk], model="fasterrcnn_resnet50_fpn_v2") == 1
    # A fresh request takes an asset out of the bulk lane.
    tagging_enqueue(asset_ids=[old.pk, waiting_fresh.pk])
    assert not BulkRequest.objects.exists()


def test_the_end_of_a_run_serves_the_request(user):
    from tagging import services

    asset = assets(user, 1)[0]
    lanes.bulk_add(asset_ids=[asset.pk])
    services.tagging_claim(asset_id=asset.pk, task_id="t")
    services.tagging_fail(asset_id=asset.pk, task_id="t", error="boom")
    assert not BulkRequest.objects.exists()


# --- progress -------------------------------------------------------------------------------------


def record_run(asset: Asset, ms: int, worker: str) -> None:
    DetectionRun.objects.create(asset=asset, model_name="m", started_at=timezone.now(), duration_ms=ms,
                                succeeded=True, worker=worker)


def test_status_counts_the_users_own_work_places_and_estimate(api_client, user, other_user):
    theirs_first = make_asset(other_user, color=(9, 9, 9), name="theirs.png")  # fresh, ahead in the line
    Asset.objects.filter(pk=theirs_first.pk).update(tagging_enqueued_at=timezone.now() - timedelta(minutes=5))
    mine_fresh = [make_asset(user, color=(10 + i, 0, 0), name=f"m{i}.png") for i in range(2)]
    for i, asset in enumerate(mine_fresh):  # sent after the other user's
        Asset.objects.filter(pk=asset.pk).update(tagging_enqueued_at=timezone.now() + timedelta(seconds=i))
    mine_bulk = assets(user, 3)
    lanes.bulk_add(asset_ids=[a.pk for a in mine_bulk])
    lanes.bulk_add(asset_ids=[a.pk for a in assets(other_user, 1)])
    busy = assets(user, 1, status=TaggingStatus.PROCESSING)[0]
    done = assets(other_user, 1)[0]
    for ms in (800, 1000, 3000):  # median 1 s per image, two workers seen lately
        record_run(done, ms, "w1@host")
    record_run(done, 1000, "w2@host")

    body = api_client.get("/api/status/").json()
    assert {k: body[k] for k in ("waiting", "waiting_fresh", "waiting_bulk", "tagging", "workers")} == {
        "waiting": 5, "waiting_fresh": 2, "waiting_bulk": 3, "tagging": 1, "workers": 2
    }
    assert body["seconds_per_image"] == 1.0
    # Places in the fresh line: the other user's upload is first.
    assert body["positions"] == [{"id": str(a.pk), "position": p} for a, p in zip(mine_fresh, (2, 3), strict=True)]
    # Before my last bulk asset: 3 fresh + my 3 + the other user's 1 (turns), plus the one running; 2 workers.
    assert body["estimate_seconds"] == round((3 + 3 + 1 + 1) * 1.0 / 2)
    assert body["summary"] == "5 waiting · 1 being tagged · about 4 s"

    one = api_client.get("/api/status/", {"asset": str(mine_fresh[1].pk)}).json()
    assert one["positions"] == [{"id": str(mine_fresh[1].pk), "position": 3}]
    assert Asset.objects.get(pk=busy.pk).tagging_status == TaggingStatus.PROCESSING  # the "tagging" one


def test_status_with_nothing_waiting_and_no_runs(api_client, user):
    body = api_client.get("/api/status/").json()
    assert body["waiting"] == 0 and body["estimate_seconds"] is None and body["summary"] == ""
    assert body["positions"] == [] and body["seconds_per_image"] is None


def test_status_is_per_user_only(api_client, client, other_user):
    foreign = make_asset(other_user, color=(1, 1, 200), name="x.png")
    assert api_client.get("/api/status/", {"asset": str(foreign.pk)}).status_code == 404
    assert api_client.get("/api/status/", {"asset": "not-an-id"}).status_code == 404
    assert client.get("/api/status/").status_code == 401
    body = api_client.get("/api/status/").json()
    assert body["waiting"] == 0 and body["positions"] == []  # the other user's upload is not mine


def test_status_refuses_too_many_ids(api_client):
    response = api_client.get("/api/status/", {"asset": [str(i) for i in range(201)]})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize(("seconds", "words"), [(0, "1 s"), (40, "40 s"), (90, "2 min"), (3600, "1 h"),
                                               (5400, "1 h 30 min")])
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words
