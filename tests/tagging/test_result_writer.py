"""A worker writes an image's result in a background thread, during the next forward pass
(tagging.result_writer). The writer has its own database connection: these tests commit."""

from __future__ import annotations

import pytest
from celery.app.task import Context
from django.db import OperationalError, connections

from media.models import Asset, TaggingStatus
from tagging import result_writer, services, tasks
from tagging.models import DetectionRun
from tagging.pipeline import run_detection
from testkit.shapes import three_shapes_scene
from tests.tagging.test_pipeline import assert_found_all, upload_scene

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def writer_done(monkeypatch):
    # Without a next forward pass, a write would start after 50 ms: here only an event starts it.
    monkeypatch.setattr(result_writer, "START_AFTER_SECONDS", 60)
    yield
    result_writer.flush()
    # The writer thread's connection would keep the test database from being dropped.
    result_writer.submit(connections.close_all, asset_ids=[])
    result_writer.flush()


def status(asset: Asset) -> str:
    asset.refresh_from_db()
    return asset.tagging_status


def test_a_result_is_written_during_the_next_forward_pass_and_in_order(user, monkeypatch):
    first_scene, second_scene = three_shapes_scene(), three_shapes_scene(background=(90, 120, 150))
    first, second = upload_scene(user, first_scene, name="1.png"), upload_scene(user, second_scene, name="2.png")
    events: list[str] = []
    names = {first.pk: "first", second.pk: "second"}
    real_start, real_replace = result_writer.forward_pass_starting, services.detections_replace

    def forward_pass_starting() -> None:
        events.append("forward pass")
        real_start()

    def detections_replace(**kwargs):
        events.append(f"write {names[kwargs['asset_id']]}")
        return real_replace(**kwargs)

    monkeypatch.setattr(result_writer, "forward_pass_starting", forward_pass_starting)
    monkeypatch.setattr(services, "detections_replace", detections_replace)

    outcomes = run_detection(asset_id=str(first.pk), task_id="t-1", write_behind=True)
    assert [(o.status, o.asset_id) for o in outcomes] == [("writing", str(first.pk))]
    assert status(first) == TaggingStatus.PROCESSING  # claimed, its result not written yet

    # The next image's forward pass lets the first write start; handing over the second waits for it.
    run_detection(asset_id=str(second.pk), task_id="t-2", write_behind=True)
    assert events == ["forward pass", "forward pass", "write first"]
    assert status(first) == TaggingStatus.TAGGED
    assert_found_all(first, first_scene)
    assert status(second) == TaggingStatus.PROCESSING

    result_writer.flush()  # what a pool process does when it exits
    assert events[-1] == "write second"
    assert status(second) == TaggingStatus.TAGGED
    assert_found_all(second, second_scene)
    assert DetectionRun.objects.filter(asset=second, task_id="t-2", succeeded=True).count() == 1


def tag_with_a_failing_write(asset: Asset, monkeypatch, error: Exception) -> Asset:
    """Tag ``asset`` writing behind while storing the result raises ``error``; the asset afterwards."""

    def failing(**kwargs):
        raise error

    monkeypatch.setattr(services, "detections_replace", failing)
    run_detection(asset_id=str(asset.pk), task_id="t-1", write_behind=True)
    result_writer.flush()
    asset.refresh_from_db()
    return asset


def test_a_database_error_while_writing_hands_the_asset_back_and_sends_it_again(user, monkeypatch, sent):
    asset = upload_scene(user, three_shapes_scene())
    sent.clear()
    asset = tag_with_a_failing_write(asset, monkeypatch, OperationalError("server closed the connection unexpectedly"))
    assert asset.tagging_status == TaggingStatus.PENDING and "server closed the connection" in asset.tagging_error
    assert sent == [[str(asset.pk)]]  # its message was acknowledged: it goes on the queue again

    monkeypatch.undo()
    monkeypatch.setattr(result_writer, "START_AFTER_SECONDS", 60)
    assert [o.status for o in run_detection(asset_id=str(asset.pk), task_id="t-2")] == ["tagged"]
    assert status(asset) == TaggingStatus.TAGGED and asset.tagging_attempts == 2


def test_a_write_that_fails_for_good_ends_the_asset_failed_with_a_message(user, monkeypatch):
    asset = tag_with_a_failing_write(upload_scene(user, three_shapes_scene()), monkeypatch,
                                     ValueError("box outside the image"))
    assert asset.tagging_status == TaggingStatus.FAILED
    assert "Saving the detections failed (ValueError: box outside the image)" in asset.tagging_error
    assert DetectionRun.objects.filter(asset=asset, succeeded=False).exists()


def test_only_a_worker_writes_behind(user, eager, settings):
    in_worker = Context(is_eager=False, called_directly=False)
    assert result_writer.enabled(in_worker)
    assert not result_writer.enabled(Context(is_eager=True, called_directly=False))
    assert not result_writer.enabled(Context())  # a task function called directly
    settings.TAGGING_WRITE_BEHIND = False
    assert not result_writer.enabled(in_worker)
    settings.TAGGING_WRITE_BEHIND = True

    # An eager task (tests, `retag --now`) has its result written when it returns.
    asset = upload_scene(user, three_shapes_scene())
    tasks.detect_objects.apply(args=[str(asset.pk)])
    assert status(asset) == TaggingStatus.TAGGED
