"""Database round trips per tagged image stay few: next to a busy detector each one waits for a CPU.

The counts include the transaction's BEGIN/COMMIT where the backend reports them, and the webhook
lookup that runs after the commit.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import Webhook, WebhookDelivery, WebhookEvent
from media.models import TaggingStatus
from review import services as review_services
from tagging.models import AssetTag, Detection, ReviewState
from tagging.pipeline import run_detection
from testkit.shapes import three_shapes_scene
from tests.tagging.test_pipeline import assert_found_all, upload_scene

pytestmark = pytest.mark.django_db(transaction=True)

FRESH_UPLOAD_QUERIES = 10  # claim (UPDATE … RETURNING), BEGIN, status (with the lock and the checks), labels, run,
# detections, summary, bulk-lane row, COMMIT,
# webhooks
RETAG_QUERIES = 16  # and: the fresh-image UPDATE that finds boxes, the lock, delete the old automatic boxes,
# read what stays, clear the old summary
EVENT = str(WebhookEvent.ASSET_TAGGED)


def tag_counting(asset, task_id: str) -> list[dict]:
    with CaptureQueriesContext(connection) as queries:
        outcomes = run_detection(asset_id=str(asset.pk), task_id=task_id, worker="test@host")
    assert [outcome.status for outcome in outcomes] == ["tagged"]
    return queries.captured_queries


def test_a_fresh_upload_is_tagged_in_a_bounded_number_of_queries(user):
    # The labels exist after the first images (the first use of a label creates it: a few more queries).
    run_detection(asset_id=str(upload_scene(user, three_shapes_scene(background=(30, 30, 30))).pk), task_id="q-0")
    scene = three_shapes_scene()
    asset = upload_scene(user, scene)
    queries = tag_counting(asset, "q-1")
    assert len(queries) <= FRESH_UPLOAD_QUERIES, "\n".join(query["sql"][:120] for query in queries)
    # Fewer queries, the same result: every shape found, the summary and the count right.
    asset.refresh_from_db()
    assert asset.tagging_status == TaggingStatus.TAGGED
    assert_found_all(asset, scene)
    assert asset.object_count == Detection.objects.filter(asset=asset).count() >= 3
    assert {tag.label.name: tag.count for tag in AssetTag.objects.filter(asset=asset).select_related("label")} == {
        name: Detection.objects.filter(asset=asset, label__name=name).count()
        for name in {"circle", "square", "triangle"}
    }


def test_retagging_keeps_reviews_and_manual_tags_in_a_bounded_number_of_queries(user):
    scene = three_shapes_scene(background=(220, 200, 240))
    asset = upload_scene(user, scene)
    run_detection(asset_id=str(asset.pk), task_id="q-first")
    rejected = Detection.objects.filter(asset=asset).select_related("label").first()
    review_services.detection_review(detection=rejected, accept=False)
    review_services.detection_add_manual(asset=asset, label="favourite")
    asset.refresh_from_db()
    services_reset(asset)

    queries = tag_counting(asset, "q-second")
    assert len(queries) <= RETAG_QUERIES, "\n".join(query["sql"][:120] for query in queries)
    asset.refresh_from_db()
    labels = {tag.label.name: tag for tag in AssetTag.objects.filter(asset=asset).select_related("label")}
    assert labels["favourite"].has_manual
    # The rejected box stays rejected and does not come back as a new automatic one.
    assert Detection.objects.get(pk=rejected.pk).review == ReviewState.REJECTED
    assert not Detection.objects.filter(
        asset=asset, label=rejected.label, review=ReviewState.UNREVIEWED, x=rejected.x, y=rejected.y
    ).exists()
    visible = Detection.objects.filter(asset=asset).exclude(review=ReviewState.REJECTED)
    assert asset.object_count == visible.count()
    assert sum(tag.count for tag in labels.values()) == visible.count()


def test_an_owner_with_a_webhook_still_gets_the_event(user, other_user):
    """The webhook lookup skips reading the asset when nobody listens; a listener still gets its event."""
    hook = Webhook.objects.create(owner=user, url="https://hooks.example.com/in", secret="s" * 32,
                                  events=[EVENT])
    Webhook.objects.create(owner=other_user, url="https://hooks.example.com/other", secret="t" * 32, events=[EVENT])
    asset = upload_scene(user, three_shapes_scene(background=(250, 250, 250)))
    run_detection(asset_id=str(asset.pk), task_id="q-hook")
    assert list(hook.deliveries.values_list("event", flat=True)) == [EVENT]
    assert WebhookDelivery.objects.count() == 1  # the other user's hook heard nothing


def test_an_owner_whose_hooks_are_all_off_gets_nothing(user):
    """The worker's quick "does anyone listen" check honours ``active``."""
    from integrations.selectors import owner_has_active_webhooks

    hook = Webhook.objects.create(owner=user, url="https://hooks.example.com/in", secret="s" * 32,
                                  events=[EVENT], active=False)
    assert not owner_has_active_webhooks(user.pk)
    asset = upload_scene(user, three_shapes_scene(background=(240, 240, 240)))
    run_detection(asset_id=str(asset.pk), task_id="q-off")
    assert WebhookDelivery.objects.count() == 0
    Webhook.objects.filter(pk=hook.pk).update(active=True)
    assert owner_has_active_webhooks(user.pk)


def services_reset(asset) -> None:
    from media.models import Asset
    from tagging.services import tagging_reset

    tagging_reset(assets=Asset.objects.filter(pk=asset.pk))
