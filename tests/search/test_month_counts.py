"""The timeline's months read from the month summary (MonthCount) for the whole library and one label,
grouped live for other searches; the same answer either way, and a changed TIME_ZONE is followed.

That the summary stays equal to a recount after every write path is tests/search/test_label_counts.py
(its ``assert_exact`` checks the months too)."""

from __future__ import annotations

import importlib
import threading
import time
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction

from media.models import Asset
from media.selectors import assets_visible_to
from media.services import asset_trash
from search.months import timeline_months
from search.selectors import assets_filter, query_parse
from search.timeline import timeline_months_grouped
from tagging.boxes import Box
from tagging.label_counts import label_counts_compact
from tagging.models import AssetTag, Label, MonthCount
from tagging.month_counts import (
    month_counts_available,
    month_counts_of,
    month_counts_rebuild,
    month_counts_zone,
    month_counts_zone_follow,
)
from tagging.tasks import sweep_stale_assets
from tests.search.test_label_counts import month_summary, recount_months
from tests.tagged_assets import make_asset, tag

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the month summary is kept by PostgreSQL triggers"
)
BOX = Box(1, 1, 10, 10)


@pytest.fixture
def dated(user, other_user, sent):
    def make(owner, name: str, taken: datetime | None, *labels: str) -> Asset:
        # A distinct picture per name: equal pixels would be one upload (dedupe). Not hash(): it changes
        # per process, and two names sharing hash % 250 made one picture vanish now and then.
        asset = make_asset(owner, color=(len(name), sum(name.encode()) % 250, 7), name=name)
        Asset.objects.filter(pk=asset.pk).update(taken_at=taken, created_at=datetime(2026, 11, 1, 12, tzinfo=UTC))
        if labels:
            tag(asset, *((label, 0.9, BOX) for label in labels))
        return asset

    # 23:30 UTC on the last day of a month: the next month in Auckland (UTC+13 in December).
    make(user, "a.png", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), "dog", "cat")
    make(user, "b.png", datetime(2024, 12, 2, tzinfo=UTC), "dog")
    make(user, "c.png", datetime(2023, 6, 1, tzinfo=UTC), "cat")
    make(user, "d.png", None)  # no camera date: its upload, November 2026
    asset_trash(asset=make(user, "gone.png", datetime(2022, 1, 1, tzinfo=UTC), "dog"))
    make(other_user, "theirs.png", datetime(2020, 2, 2, tzinfo=UTC), "dog")


def months(user, q: str) -> list[tuple[str, int]]:
    query = query_parse(q, assets=assets_visible_to(user), owner=user) if q else None
    return [(item.key, item.count) for item in timeline_months(user=user, query=query)]


def grouped(user, q: str) -> list[tuple[str, int]]:
    query = query_parse(q, assets=assets_visible_to(user), owner=user) if q else None
    found = timeline_months_grouped(assets=assets_filter(assets=assets_visible_to(user), query=query))
    return [(item.key, item.count) for item in found]


def sql_of(call) -> list[str]:
    queries: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        call()
    return queries


def test_months_of_the_library_of_a_label_and_of_other_searches(user, dated):
    assert months(user, "") == [("2026-11", 1), ("2024-12", 2), ("2023-06", 1)]
    assert months(user, "dog") == [("2024-12", 2)]
    assert months(user, "cat") == [("2024-12", 1), ("2023-06", 1)]
    assert months(user, "dog cat") == [("2024-12", 1)]
    assert months(user, "giraffe") == []
    for q in ("", "dog", "cat", "dog cat", "-dog", "dog@0.5"):
        assert months(user, q) == grouped(user, q), q


@postgres_only
def test_the_library_and_one_label_read_the_summary_others_group(user, dated):
    dog = query_parse("dog", assets=assets_visible_to(user), owner=user)
    for query in (None, dog):
        queries = sql_of(lambda query=query: timeline_months(user=user, query=query))
        assert any("tagging_monthcount" in sql for sql in queries)
        assert not any("media_asset" in sql for sql in queries), queries
    both = query_parse("dog cat", assets=assets_visible_to(user), owner=user)
    queries = sql_of(lambda: timeline_months(user=user, query=both))
    assert not any("tagging_monthcount" in sql for sql in queries)
    # A corrupted summary shows: the months really are read from it.
    MonthCount.objects.create(owner_id=user.pk, label_id=None, month=date(2001, 1, 1), assets=4)
    assert months(user, "")[-1] == ("2001-01", 4)
    assert ("2001-01", 4) not in months(user, "dog")


@postgres_only
def test_a_changed_time_zone_groups_live_until_the_sweeper_rebuilds(user, dated, settings):
    assert month_counts_zone() == "UTC" and month_counts_available()
    settings.TIME_ZONE = "Pacific/Auckland"
    assert not month_counts_available()
    expected = [("2026-11", 1), ("2025-01", 1), ("2024-12", 1), ("2023-06", 1)]
    assert months(user, "") == expected == grouped(user, "")  # grouped live, in Auckland
    assert not any("tagging_monthcount" in sql for sql in sql_of(lambda: months(user, "")))
    sweep_stale_assets()  # the periodic sweep notices the new zone and recounts
    assert month_counts_zone() == "Pacific/Auckland" and month_counts_available()
    assert any("tagging_monthcount" in sql for sql in sql_of(lambda: months(user, "")))
    assert months(user, "") == expected
    assert months(user, "dog") == [("2025-01", 1), ("2024-12", 1)] == grouped(user, "dog")
    # The triggers count new pictures in the new zone too.
    make_asset(user, color=(200, 1, 1), name="new.png")
    Asset.objects.filter(original_filename="new.png").update(taken_at=datetime(2024, 12, 31, 12, tzinfo=UTC))
    assert months(user, "") == grouped(user, "") == [("2026-11", 1), ("2025-01", 2), ("2024-12", 1), ("2023-06", 1)]
    assert month_counts_zone_follow() is False
    assert month_counts_rebuild(zone="Pacific/Auckland") is None  # a second rebuild finds it done
    assert months(user, "") == grouped(user, "")


@postgres_only
def test_compaction_and_the_migration_backfill_keep_the_counts(user, other_user, dated):
    dog = Label.objects.get(name="dog").pk
    before = {owner: month_counts_of(owner_id=owner) for owner in (user.pk, other_user.pk)}
    dog_before = month_counts_of(owner_id=user.pk, label_id=dog)
    assert dog_before == {date(2024, 12, 1): 2}
    # The triggers' deltas (uploads, date changes, the trash's -1) fold into one row per (label, month).
    assert MonthCount.objects.filter(owner_id=user.pk).count() > 6
    label_counts_compact(min_rows=1)
    assert MonthCount.objects.filter(owner_id=user.pk).count() == 6  # 3 months; dog in 1, cat in 2
    assert {owner: month_counts_of(owner_id=owner) for owner in (user.pk, other_user.pk)} == before
    MonthCount.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(importlib.import_module("tagging.migrations.0011_month_counts").BACKFILL)
    assert {owner: month_counts_of(owner_id=owner) for owner in (user.pk, other_user.pk)} == before
    assert month_counts_of(owner_id=user.pk, label_id=dog) == dog_before


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["tag", "date"])
def test_a_tag_and_a_date_change_of_one_picture_at_once_count_it_once_in_its_new_month(user, first):
    """The tag triggers lock the picture before counting (the label summary's trigger fires first), so
    whichever side comes second waits and then sees the other's committed change."""
    asset = make_asset(user)
    Asset.objects.filter(pk=asset.pk).update(taken_at=datetime(2024, 1, 15, tzinfo=UTC))
    dog = Label.objects.get_or_create(name="dog")[0]
    first_done, second_started = threading.Event(), threading.Event()
    finished: dict[str, float] = {}
    errors: list[BaseException] = []

    def change(name: str, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                if name == "tag":
                    AssetTag.objects.create(asset=asset, owner=user, label=dog, confidence=0.9, count=1)
                else:
                    Asset.objects.filter(pk=asset.pk).update(taken_at=datetime(2020, 5, 1, tzinfo=UTC))
                if hold:
                    first_done.set()
                    second_started.wait(10)
                    time.sleep(0.5)  # the other side is now waiting for the picture's lock
            finished[name] = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    second = "date" if first == "tag" else "tag"
    one = threading.Thread(target=change, args=(first,), kwargs={"hold": True})
    one.start()
    assert first_done.wait(10)
    other = threading.Thread(target=change, args=(second,), kwargs={"hold": False})
    second_started.set()
    other.start()
    one.join(20)
    other.join(20)
    assert not errors
    assert finished[second] >= finished[first], "the second writer did not wait for the first"
    assert month_counts_of(owner_id=user.pk, label_id=dog.pk) == {date(2020, 5, 1): 1}
    assert month_summary() == recount_months()
