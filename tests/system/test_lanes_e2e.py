"""Priority lanes through the real parts: work is queued while no worker runs, then a real Celery worker
process (-c 1, the shapes detector) starts and the order of its runs (DetectionRun.started_at) is checked.

Nothing here is timed: the order comes from the runs the worker recorded, one at a time.
"""

from __future__ import annotations

import io
import time

import pytest
from django.contrib.auth import get_user_model

from media.models import Asset, TaggingStatus
from media.services import asset_create, asset_restore, asset_trash
from tagging.models import BulkRequest, BulkToken, DetectionRun
from tagging.tasks import bulk_retag
from testkit.shapes import three_shapes_scene
from testkit.worker_process import celery_worker, purge_queues
from tests.images import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

_shade = iter(range(5, 250, 3))


@pytest.fixture
def media(settings, worker_media):
    settings.MEDIA_ROOT = worker_media
    purge_queues()
    return worker_media


def person(name: str):
    return get_user_model().objects.create_user(username=name, password="x" * 12)


def new_asset(owner) -> Asset:
    """A fresh upload: created and sent on the fresh lane (to a broker no worker reads yet)."""
    buffer = io.BytesIO()
    three_shapes_scene(background=(next(_shade), 200, 180)).image.save(buffer, "PNG")
    return asset_create(owner=owner, file=upload(buffer.getvalue(), "scene.png"), filename="scene.png").asset


def tagged_assets(owner, count: int) -> list[Asset]:
    """Assets as if tagged long ago: their upload messages are dropped so only a re-tag can run them."""
    assets = [new_asset(owner) for _ in range(count)]
    purge_queues()
    Asset.objects.filter(pk__in=[a.pk for a in assets]).update(tagging_status=TaggingStatus.TAGGED)
    return assets


def wait_all_done(ids, worker, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = Asset.objects.filter(pk__in=ids).exclude(tagging_status=TaggingStatus.TAGGED).count()
        if not left and not BulkToken.objects.exists():
            return
        time.sleep(0.3)
    raise TimeoutError(f"still waiting: {left} assets, {BulkToken.objects.count()} tokens\n{worker.log}")


def run_order(ids) -> list[Asset]:
    runs = DetectionRun.objects.filter(asset_id__in=ids).order_by("started_at", "id").select_related("asset")
    return [run.asset for run in runs]


def test_fresh_uploads_go_before_bulk_and_users_take_turns_in_bulk(media):
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    alices = tagged_assets(alice, 3)
    bobs = tagged_assets(bob, 4)
    bulk_retag(asset_ids=[a.pk for a in alices])  # Alice asks first...
    bulk_retag(asset_ids=[a.pk for a in bobs])  # ...then Bob
    fresh = [new_asset(carol), new_asset(carol)]  # then Carol uploads
    assert BulkRequest.objects.count() == 7 and BulkToken.objects.count() == 4  # not a message per asset
    everything = [a.pk for a in alices + bobs + fresh]

    with celery_worker(media) as worker:
        wait_all_done(everything, worker)

    order = run_order(everything)
    assert len(order) == len(everything)  # each tagged exactly once
    # Carol's uploads first, though four bulk messages were on the broker before them...
    assert {a.pk for a in order[:2]} == {a.pk for a in fresh}, [a.owner.username for a in order]
    # ...then Alice and Bob take turns (Alice asked first), and Bob's last one comes after Alice ran out.
    assert [a.owner.username for a in order[2:]] == ["alice", "bob", "alice", "bob", "alice", "bob", "bob"]
    # Within a user's line, the order of the request.
    assert [a.pk for a in order if a.owner == alice] == [a.pk for a in alices]
    assert not BulkRequest.objects.exists()


def test_an_asset_moved_between_lanes_is_tagged_exactly_once(media):
    dave = person("dave")
    moved, stays = tagged_assets(dave, 2)
    bulk_retag(asset_ids=[moved.pk, stays.pk])
    # Moved to the fresh lane while it waits in the bulk lane: trashed, then restored (sent fresh).
    asset_trash(asset=moved)
    asset_restore(asset=moved)
    assert not BulkRequest.objects.filter(asset=moved).exists()
    # The other way: a fresh upload still waiting is asked to be re-tagged: it stays fresh, runs once.
    waiting = new_asset(dave)
    assert bulk_retag(asset_ids=[waiting.pk]) == 0
    ids = [moved.pk, stays.pk, waiting.pk]

    with celery_worker(media) as worker:
        wait_all_done(ids, worker)

    assert {asset_id: DetectionRun.objects.filter(asset_id=asset_id).count() for asset_id in ids} == {
        moved.pk: 1, stays.pk: 1, waiting.pk: 1
    }, worker.log
    assert [a.pk for a in run_order(ids)][-1] == stays.pk  # the fresh ones first
    assert not BulkRequest.objects.exists()


def test_one_token_keeps_a_dedicated_bulk_worker_busy_until_the_line_is_empty(media, settings):
    """No worker sits idle while bulk work waits: with one message in flight, each run sends the next."""
    settings.TAGGING_BULK_IN_FLIGHT = 1
    erin = person("erin")
    assets = tagged_assets(erin, 4)
    bulk_retag(asset_ids=[a.pk for a in assets])
    assert BulkToken.objects.count() == 1

    with celery_worker(media, queues="detection-bulk", extra_env={"TAGGING_BULK_IN_FLIGHT": "1"}) as worker:
        wait_all_done([a.pk for a in assets], worker)

    assert [a.pk for a in run_order([a.pk for a in assets])] == [a.pk for a in assets]
    assert "(bulk lane): writing" in worker.log  # the result is written during the next forward pass
    assert all(f"tagging {a.pk}: tagged" in worker.log for a in assets)
