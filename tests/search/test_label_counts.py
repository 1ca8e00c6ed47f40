"""The per-owner label summaries (LabelCount, LabelPairCount) and the timeline's month summary
(MonthCount) stay exactly equal to a fresh count after every write path: upload, tagging, review, manual
tags, bulk actions, date changes, trash/restore/purge/delete, COCO import, a real worker. PostgreSQL
only (the triggers live there; SQLite counts facets from the tags and groups the timeline's months)."""

from __future__ import annotations

import importlib
import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from integrations.coco import coco_import
from media.models import Asset, TaggingStatus
from media.selectors import assets_visible_to
from media.services import asset_delete, asset_restore, asset_trash, trash_empty, trash_purge
from review.services import (
    asset_manual_tags_set,
    assets_bulk_action,
    detection_add_manual,
    detection_delete,
    detection_review,
)
from search.selectors import label_facets, query_parse
from search.timeline import timeline_months_grouped
from tagging.boxes import Box
from tagging.label_counts import label_counts_compact, label_counts_of, label_pairs_of
from tagging.models import AssetTag, Detection, Label, LabelCount, LabelPairCount, MonthCount
from tagging.month_counts import month_counts_of
from testkit.shapes import three_shapes_scene
from tests.images import upload
from tests.tagged_assets import make_asset, tag

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the label summary is kept by PostgreSQL triggers"
)


def recount() -> dict[int, dict[int, int]]:
    """Owner -> label id -> assets outside the trash with that tag, counted afresh."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.owner_id, t.label_id, count(*) FROM tagging_assettag t JOIN media_asset a ON a.id = t.asset_id"
            " WHERE a.trashed_at IS NULL GROUP BY t.owner_id, t.label_id"
        )
        counted: dict[int, dict[int, int]] = {}
        for owner_id, label_id, count in cursor.fetchall():
            counted.setdefault(owner_id, {})[label_id] = count
    return counted


def recount_pairs() -> dict[tuple[int, int], dict[int, int]]:
    """(owner, label) -> other label -> assets outside the trash with both tags, counted afresh."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.owner_id, x.label_id, y.label_id, count(*) FROM tagging_assettag x"
            " JOIN tagging_assettag y ON y.asset_id = x.asset_id AND y.label_id <> x.label_id"
            " JOIN media_asset a ON a.id = x.asset_id WHERE a.trashed_at IS NULL"
            " GROUP BY a.owner_id, x.label_id, y.label_id"
        )
        counted: dict[tuple[int, int], dict[int, int]] = {}
        for owner_id, label_id, other_id, count in cursor.fetchall():
            counted.setdefault((owner_id, label_id), {})[other_id] = count
    return counted


def pair_summary() -> dict[tuple[int, int], dict[int, int]]:
    keys = set(LabelPairCount.objects.values_list("owner_id", "label_id"))
    found = {(owner, label): label_pairs_of(owner_id=owner, label_id=label) for owner, label in keys}
    return {key: pairs for key, pairs in found.items() if pairs}


def summary() -> dict[int, dict[int, int]]:
    owners = set(LabelCount.objects.values_list("owner_id", flat=True))
    return {owner: counts for owner in owners if (counts := label_counts_of(owner_id=owner))}


def recount_months() -> dict[tuple[int, int | None], dict[date, int]]:
    """(owner, label or None for every asset) -> month -> live assets, grouped afresh by Django's TruncMonth."""
    counted: dict[tuple[int, int | None], dict[date, int]] = {}
    for owner_id in set(Asset.objects.values_list("owner_id", flat=True)):
        assets = Asset.objects.filter(owner_id=owner_id)
        counted[(owner_id, None)] = {m.month: m.count for m in timeline_months_grouped(assets=assets)}
        for label_id in set(AssetTag.objects.filter(asset__in=assets).values_list("label_id", flat=True)):
            found = timeline_months_grouped(assets=assets.filter(tags__label_id=label_id))
            counted[(owner_id, label_id)] = {m.month: m.count for m in found}
    return {key: months for key, months in counted.items() if months}


def month_summary() -> dict[tuple[int, int | None], dict[date, int]]:
    keys = set(MonthCount.objects.values_list("owner_id", "label_id"))
    found = {(owner, label): month_counts_of(owner_id=owner, label_id=label) for owner, label in keys}
    return {key: months for key, months in found.items() if months}


def assert_exact(step: str) -> None:
    expected = recount()
    assert summary() == expected, f"after {step}"
    assert pair_summary() == recount_pairs(), f"pairs after {step}"
    assert month_summary() == recount_months(), f"months after {step}"
    assert expected, f"after {step}: nothing counted, the check would prove nothing"


@pytest.mark.django_db
def test_summary_equals_a_recount_after_every_write_path(user, other_user):
    box = Box(10, 10, 50, 40)
    first = make_asset(user, color=(1, 2, 3), name="first.png")
    second = make_asset(user, color=(4, 5, 6), name="second.png")
    theirs = make_asset(other_user, color=(7, 8, 9), name="theirs.png")
    tag(first, ("dog", 0.9, box), ("cat", 0.7, Box(100, 20, 30, 30)), ("dog", 0.8, Box(60, 50, 20, 20)))
    tag(second, ("dog", 0.6, box), ("car", 0.95, box))
    tag(theirs, ("car", 0.9, box))
    assert_exact("tagging")
    assert recount_pairs(), "no pairs to compare: the pair check would prove nothing"
    tag(first, ("horse", 0.9, box))  # re-tagging replaces the automatic detections
    assert_exact("re-tagging")

    horse = Detection.objects.get(asset=first, label__name="horse")
    detection_review(detection=horse, accept=True)
    assert_exact("accept")
    detection_review(detection=horse, accept=True, label="zebra")
    assert_exact("relabel")
    car = Detection.objects.get(asset=second, label__name="car")
    detection_review(detection=car, accept=False)
    assert_exact("reject")
    detection_review(detection=car, accept=True)
    assert_exact("accept after reject")

    manual = detection_add_manual(asset=second, label="bicycle", box=box)
    assert_exact("manual tag added")
    detection_delete(detection=manual)
    assert_exact("manual tag removed")
    asset_manual_tags_set(asset=first, labels=["tree", "sky"])
    assert_exact("manual tags set")
    asset_manual_tags_set(asset=first, labels=["sky"])
    assert_exact("manual tags replaced")

    # Dates: one picture's camera date set, then a bulk change of several (both move their labels too).
    Asset.objects.filter(pk=first.pk).update(taken_at=datetime(2019, 3, 31, 23, 30, tzinfo=UTC))
    assert_exact("date taken set")
    Asset.objects.filter(owner=user).update(created_at=datetime(2021, 7, 1, tzinfo=UTC))
    assert_exact("upload dates changed in bulk")
    Asset.objects.filter(pk=first.pk).update(taken_at=None)
    assert_exact("date taken cleared")
    assert len(recount_months()[(user.pk, None)]) == 1

    mine = Asset.objects.filter(owner=user)
    assets_bulk_action(assets=mine, action="add_tag", label="holiday")
    assert_exact("bulk add tag")
    assets_bulk_action(assets=mine, action="remove_tag", label="dog")
    assert_exact("bulk remove tag")
    assets_bulk_action(assets=mine, action="retag")
    assert_exact("bulk retag (reset)")
    assets_bulk_action(assets=Asset.objects.filter(pk=second.pk), action="delete")
    assert_exact("bulk delete (to the trash)")
    asset_restore(asset=Asset.all_objects.get(pk=second.pk))
    assert_exact("restore")

    # Tagging or tag changes while in the trash do not count, and restoring brings them in.
    asset_trash(asset=second)
    tag(second, ("giraffe", 0.9, box))
    detection_add_manual(asset=Asset.all_objects.get(pk=second.pk), label="zoo")
    assert_exact("tagged while in the trash")
    asset_restore(asset=Asset.all_objects.get(pk=second.pk))
    assert_exact("restored after tagging in the trash")

    document = {
        "images": [{"id": 1, "file_name": "theirs.png", "width": 200, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 20]}],
        "categories": [{"id": 1, "name": "kite"}],
    }
    coco_import(
        assets=Asset.objects.filter(owner=other_user), document=document, max_annotations=100, max_boxes_per_asset=100
    )
    assert_exact("COCO import")

    asset_trash(asset=first)
    trash_empty(assets=Asset.all_objects.filter(pk=first.pk))
    assert_exact("trash emptied")
    asset_trash(asset=second)
    assert trash_purge(now=Asset.all_objects.get(pk=second.pk).trashed_at + timedelta(days=999)) == 1
    assert_exact("trash purged")
    asset_delete(asset=theirs)  # deleted for good without the trash (admin, tests)
    third = make_asset(user, color=(3, 3, 3), name="third.png")
    tag(third, ("dog", 0.9, box))
    assert_exact("deleted outside the trash")

    label_counts_compact(min_rows=1)
    assert LabelCount.objects.filter(owner_id=user.pk).count() == 1
    assert MonthCount.objects.filter(owner_id=user.pk).count() == 2  # third: every asset, and its dog
    assert LabelPairCount.objects.filter(owner_id=user.pk).count() == 0  # third's one tag pairs with nothing
    assert_exact("compaction")
    get_user_model().objects.filter(pk=other_user.pk).delete()
    assert_exact("user deleted")


@pytest.mark.django_db
def test_whole_library_facets_come_from_the_summary_and_match_the_live_count(user, tagged, foreign):
    trashed = make_asset(user, color=(50, 60, 70), name="gone.png")
    tag(trashed, ("dog", 0.9, Box(1, 1, 10, 10)), ("zebra", 0.9, Box(1, 1, 10, 10)))
    asset_trash(asset=trashed)
    queries: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        facets = label_facets(user=user, query=None)
    assert [(f.label, f.count) for f in facets] == [("cat", 1), ("dog", 1)]
    assert any("tagging_labelcount" in sql for sql in queries) and not any("tagging_assettag" in sql for sql in queries)
    assert [f.label for f in label_facets(user=user, query=None, prefix="do")] == ["dog"]
    # A corrupted summary shows: the facets really are read from it.
    LabelCount.objects.create(owner_id=user.pk, label_id=Detection.objects.filter(asset=tagged)[0].label_id, assets=5)
    assert max(f.count for f in label_facets(user=user, query=None)) == 6


@pytest.mark.django_db
def test_the_migration_backfill_counts_existing_tags(user, tagged, foreign):
    expected = recount()
    LabelCount.objects.all().delete()
    migration = importlib.import_module("tagging.migrations.0005_label_counts")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert summary() == expected and expected
    pairs = recount_pairs()
    LabelPairCount.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(importlib.import_module("tagging.migrations.0009_label_pair_counts").BACKFILL)
    assert pair_summary() == pairs and pairs


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_summary_stays_exact_while_a_real_worker_tags_uploads(api_client, user, worker, settings, worker_media):
    settings.MEDIA_ROOT = worker_media
    ids = []
    for background in ((250, 250, 250), (200, 220, 240)):
        buffer = io.BytesIO()
        three_shapes_scene(background=background).image.save(buffer, "PNG")
        response = api_client.post("/api/assets/", {"file": upload(buffer.getvalue(), "s.png")}, format="multipart")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    deadline = time.monotonic() + 120
    while Asset.objects.filter(pk__in=ids, tagging_status=TaggingStatus.TAGGED).count() < len(ids):
        assert time.monotonic() < deadline, worker.log
        time.sleep(0.3)
    assert_exact("tagging by the worker")
    facets = label_facets(user=user, query=None)
    assert sorted(f.count for f in facets) == sorted(recount()[user.pk].values()) and len(facets) >= 2


@pytest.mark.django_db
def test_one_label_facets_come_from_the_pair_summary_and_match_the_live_count(user, tagged, foreign):
    box = Box(1, 1, 10, 10)
    tag(make_asset(user, color=(11, 12, 13), name="b.png"), ("dog", 0.8, box), ("car", 0.9, box))
    tag(make_asset(user, color=(14, 15, 16), name="c.png"), ("dog", 0.8, box), ("cat", 0.6, box))
    tag(make_asset(user, color=(17, 18, 19), name="d.png"), ("cat", 0.8, box), ("car", 0.9, box))
    gone = make_asset(user, color=(20, 21, 22), name="gone.png")
    tag(gone, ("dog", 0.9, box), ("zebra", 0.9, box))
    asset_trash(asset=gone)
    dog = query_parse("dog", assets=assets_visible_to(user), owner=user)
    queries: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        facets = label_facets(user=user, query=dog)
    assert [(f.label, f.count) for f in facets] == [("dog", 3), ("cat", 2), ("car", 1)]
    assert any("tagging_labelpaircount" in sql for sql in queries)
    assert not any("tagging_assettag" in sql for sql in queries)
    # The same numbers as counting the matching pictures' tags (a condition takes that path).
    counted = label_facets(user=user, query=query_parse("dog@0", assets=assets_visible_to(user), owner=user))
    assert counted == facets
    assert [(f.label, f.count) for f in label_facets(user=user, query=dog, prefix="ca")] == [("cat", 2), ("car", 1)]
    unknown = query_parse("giraffe", assets=assets_visible_to(user), owner=user)
    assert label_facets(user=user, query=unknown) == []
    # A corrupted summary shows: the facets really are read from it.
    cat_id = Detection.objects.filter(label__name="cat")[0].label_id
    dog_id = Detection.objects.filter(label__name="dog")[0].label_id
    LabelPairCount.objects.create(owner_id=user.pk, label_id=dog_id, other_id=cat_id, assets=5)
    assert ("cat", 7) in [(f.label, f.count) for f in label_facets(user=user, query=dog)]


@pytest.mark.django_db(transaction=True)
def test_pairs_stay_exact_when_two_transactions_tag_one_asset_at_once(user):
    """Each side's trigger cannot see the other's uncommitted tag; the asset lock makes the later one
    wait and then count the pair (with FOR SHARE both would miss it)."""
    asset = make_asset(user)
    dog, cat = (Label.objects.get_or_create(name=name)[0] for name in ("dog", "cat"))
    first_inserted, second_started = threading.Event(), threading.Event()
    finished: dict[str, float] = {}
    errors: list[BaseException] = []

    def add(label: Label, *, before_commit: Callable[[], None]) -> None:
        try:
            with transaction.atomic():
                AssetTag.objects.create(asset=asset, owner=user, label=label, confidence=0.9, count=1)
                before_commit()
            finished[label.name] = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    def hold() -> None:
        first_inserted.set()
        second_started.wait(10)
        time.sleep(0.5)  # the second insert is now waiting in its trigger

    first = threading.Thread(target=add, args=(dog,), kwargs={"before_commit": hold})
    first.start()
    assert first_inserted.wait(10)
    second = threading.Thread(target=add, args=(cat,), kwargs={"before_commit": lambda: None})
    second_started.set()
    second.start()
    first.join(20)
    second.join(20)
    assert not errors
    assert finished["cat"] >= finished["dog"], "the second tag writer did not wait for the first"
    assert recount_pairs() == {(user.pk, dog.pk): {cat.pk: 1}, (user.pk, cat.pk): {dog.pk: 1}}
    assert pair_summary() == recount_pairs()


@pytest.mark.django_db
def test_pair_triggers_use_an_anti_join_not_a_not_in_subquery():
    """Migration 0010: ``NOT IN (SELECT …)`` is hashed only within work_mem and rescanned per row past it
    (one 339,000-row statement ran for minutes); every write path above runs through these functions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname IN "
            "('tagging_label_count_tags', 'tagging_label_count_tags_updated')"
        )
        bodies = [row[0] for row in cursor.fetchall()]
    assert len(bodies) == 2
    assert all("NOT EXISTS" in body and "NOT IN" not in body for body in bodies)
