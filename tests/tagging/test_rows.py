"""The worker's hand-written statements (tagging.rows) store and claim exactly what the ORM would."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.utils import timezone

from media.models import Asset, AssetKind, TaggingStatus
from media.services import asset_trash
from review import services as review_services
from tagging import rows, services
from tagging.boxes import Box, DetectedObject
from tagging.models import AssetTag, BulkRequest, Detection, DetectionRun, DetectionSource, Label
from testkit.shapes import three_shapes_scene
from tests.tagging.test_pipeline import upload_scene

pytestmark = pytest.mark.django_db

RUN = services.RunInfo(
    model_name="shapes", weights="w sha256:1", device="cpu", score_threshold=0.5, label_thresholds={"circle": 0.7},
    max_detections=100, min_box_size=4, batch_size=1, started_at=timezone.now(), duration_ms=42, task_id="task-1",
    worker="w@h",
)  # fmt: skip
FOUND = [
    DetectedObject(label="Circle", confidence=0.91, box=Box(x=10, y=20, width=30, height=40)),
    DetectedObject(label="circle", confidence=0.62, box=Box(x=100, y=20, width=10, height=10)),
    DetectedObject(label="square", confidence=1.2, box=Box(x=600, y=400, width=900, height=900)),  # clamped
]


def columns(obj: object) -> dict[str, object]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields if not f.primary_key}


@pytest.fixture
def asset(user) -> Asset:
    return upload_scene(user, three_shapes_scene())


def test_insert_rows_stores_what_bulk_create_stores(asset):
    label = Label.objects.create(name="circle")
    run = DetectionRun.objects.create(asset=asset, model_name="m", started_at=timezone.now())
    made = dict(asset=asset, label=label, confidence=0.5, x=1, y=2, width=3, height=4, run=run)
    by_orm = Detection.objects.bulk_create([Detection(**made)])[0]
    by_rows = rows.insert_rows([Detection(**made)], returning_pk=True)[0]
    assert by_rows.pk and by_rows.pk != by_orm.pk and not by_rows._state.adding
    stored_orm, stored_rows = Detection.objects.get(pk=by_orm.pk), Detection.objects.get(pk=by_rows.pk)
    differing = {k for k, v in columns(stored_orm).items() if columns(stored_rows)[k] != v}
    assert differing <= {"created_at"}  # auto_now_add: two moments
    assert isinstance(stored_rows.created_at, datetime) and stored_rows.created_at.tzinfo is not None
    # JSON and defaults too (the run carries both).
    rows.insert_rows([DetectionRun(asset=asset, model_name="n", started_at=timezone.now(), label_thresholds={"a": 1})])
    stored = DetectionRun.objects.get(model_name="n")
    assert stored.label_thresholds == {"a": 1} and stored.video == {} and stored.batch_size == 1


def test_asset_claim_counts_the_attempt_and_returns_the_row(asset):
    claimed = rows.asset_claim(asset_id=asset.pk, task_id="t-1", now=timezone.now())
    assert isinstance(claimed, Asset) and claimed.pk == asset.pk and isinstance(claimed.pk, uuid.UUID)
    assert (claimed.tagging_status, claimed.tagging_task_id, claimed.tagging_attempts) == ("processing", "t-1", 1)
    assert claimed.owner_id == asset.owner_id and claimed.file.name == asset.file.name
    assert claimed.tagging_started_at is not None and claimed.tagging_started_at.tzinfo is not None
    assert rows.asset_claim(asset_id=asset.pk, task_id="t-2", now=timezone.now()) is None  # another task's claim
    again = rows.asset_claim(asset_id=str(asset.pk), task_id="t-1", now=timezone.now())  # redelivered message
    assert again is not None and again.tagging_attempts == 2
    asset.refresh_from_db()
    assert asset.tagging_attempts == 2


def test_trashed_done_or_missing_assets_are_not_claimed(user, asset):
    other = upload_scene(user, three_shapes_scene(background=(10, 90, 10)))
    asset_trash(asset=asset)
    Asset.objects.filter(pk=other.pk).update(tagging_status=TaggingStatus.TAGGED)
    assert rows.asset_claim(asset_id=asset.pk, task_id="t", now=timezone.now()) is None
    assert rows.asset_claim(asset_id=other.pk, task_id="t", now=timezone.now()) is None
    assert rows.asset_claim(asset_id=uuid.uuid4(), task_id="t", now=timezone.now()) is None
    assert Asset.all_objects.get(pk=asset.pk).tagging_attempts == 0


def test_a_fresh_image_gets_the_same_result_as_the_general_path(user, asset):
    """Fast path (no detections yet) and general path (a manual tag to keep) store the same boxes."""
    kept = upload_scene(user, three_shapes_scene(background=(200, 10, 10)))
    review_services.detection_add_manual(asset=kept, label="favourite")
    results = {}
    for item in (asset, kept):
        services.tagging_claim(asset_id=item.pk, task_id="task-1")
        run = services.detections_replace(asset_id=item.pk, objects=FOUND, info=RUN)
        item.refresh_from_db()
        assert run is not None and item.tagging_status == TaggingStatus.TAGGED and item.tagged_at
        automatic = Detection.objects.filter(asset=item, source=DetectionSource.AUTO).order_by("-confidence")
        results[item.pk] = (
            [(d.label.name, d.confidence, d.box, d.run_id == run.pk) for d in automatic],
            {t.label.name: (t.count, t.confidence, round(t.max_area, 6)) for t in AssetTag.objects.filter(asset=item)
             if t.label.name != "favourite"},
            columns(DetectionRun.objects.get(pk=run.pk)) | {"asset_id": None},
        )
        assert item.object_count == Detection.objects.filter(asset=item).count()
    assert results[asset.pk] == results[kept.pk]
    boxes, tags, _ = results[asset.pk]
    assert boxes[0] == ("square", 1.0, FOUND[2].box.clamped(asset.width, asset.height), True)  # both clamped
    assert tags["circle"][0] == 2 and tags["circle"][1] == 0.91


def test_fresh_path_leaves_a_superseded_trashed_or_video_asset_to_the_general_path(user, asset):
    services.tagging_claim(asset_id=asset.pk, task_id="task-1")
    assert rows.fresh_image_finish(asset_id=asset.pk, task_id="task-other", object_count=0, now=timezone.now()) is None
    Asset.objects.filter(pk=asset.pk).update(kind=AssetKind.VIDEO)
    assert rows.fresh_image_finish(asset_id=asset.pk, task_id="task-1", object_count=0, now=timezone.now()) is None
    Asset.objects.filter(pk=asset.pk).update(kind=AssetKind.IMAGE)
    asset_trash(asset=Asset.objects.get(pk=asset.pk))
    assert rows.fresh_image_finish(asset_id=asset.pk, task_id="task-1", object_count=0, now=timezone.now()) is None
    # A trashed asset's result is dropped, as before: no half-written rows.
    assert services.detections_replace(asset_id=asset.pk, objects=FOUND, info=RUN) is None
    assert not Detection.objects.filter(asset_id=asset.pk).exists()
    assert not DetectionRun.objects.filter(asset_id=asset.pk).exists()


def test_the_fast_path_serves_the_bulk_request_and_creates_new_labels(user, asset):
    BulkRequest.objects.create(asset=asset, owner=user, requested_at=timezone.now())
    services.tagging_claim(asset_id=asset.pk, task_id="task-1")
    found = [DetectedObject(label="Brand New Thing", confidence=0.8, box=Box(x=1, y=1, width=5, height=5))]
    assert services.detections_replace(asset_id=asset.pk, objects=found, info=RUN) is not None
    assert not BulkRequest.objects.filter(asset=asset).exists()
    assert list(AssetTag.objects.filter(asset=asset).values_list("label__name", flat=True)) == ["brand new thing"]
