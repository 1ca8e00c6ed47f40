"""What a waiting task costs: Redis memory per fresh-lane message, PostgreSQL bytes per bulk-lane row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/assetsite_queue REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/queue_memory.py --messages 20000 --bulk-rows 20000

Fresh lane: N detection messages go through the real ``tagging.tasks``
``tagging_enqueue`` (Celery's ``apply_async`` to ``TAGGING_QUEUE`` on the Redis broker, the same
payload a real upload sends: the asset id, for assets that exist). ``INFO memory``'s
``used_memory`` is read before and after (server-wide: other clients of the same Redis add noise, so
N should be large), and ``MEMORY USAGE`` of the queue's list (this key only). The Redis database in
REDIS_URL must hold nothing else of value: its queue is emptied before and after.

Bulk lane: re-tags are rows (``tagging.BulkRequest``, no message per asset). N assets are put in the
bulk lane through the real ``lanes.bulk_add`` and ``pg_total_relation_size`` (heap, indexes, TOAST)
of the table is read before and after. The assets are throw-away rows of a user this script creates
and deletes; use a database of its own (it is migrated).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER = "bench_queue_memory"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="fresh-lane messages put on Redis")
    parser.add_argument("--bulk-rows", type=int, default=20_000, help="assets put in the bulk lane")
    parser.add_argument("--chunk", type=int, default=1_000, help="assets per enqueue / bulk_add call")
    return parser.parse_args(argv)


def per_item(before: int, after: int, count: int) -> float:
    """Bytes per item from a before/after reading; refuses a count of zero."""
    if count <= 0:
        raise ValueError("count must be positive")
    return (after - before) / count


def check_environment() -> None:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit("bench/queue_memory.py needs DATABASE_URL=postgres://... (pg_total_relation_size is measured)")
    if urlsplit(redis_url).scheme not in {"redis", "rediss"}:
        sys.exit("bench/queue_memory.py needs REDIS_URL=redis://host:port/db (the broker whose memory is measured)")


def make_assets(owner, count: int) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    """Asset rows (no files: only the queue's bookkeeping is measured), created with COPY."""
    from django.db import connection
    from django.utils import timezone

    ids = [uuid.uuid4() for _ in range(count)]
    now = timezone.now()
    with connection.cursor() as cursor, cursor.connection.cursor() as raw:
        with raw.copy(
            "COPY media_asset (id, owner_id, file, original_filename, title, sha256, format, mime_type, width,"
            " height, byte_size, camera, thumbnail_small, thumbnail_large, created_at, updated_at,"
            " tagging_status, tagging_error, tagging_attempts, tagging_task_id, object_count, kind,"
            " video_codec, favorite) FROM STDIN"
        ) as copy:
            for asset_id in ids:
                copy.write_row((
                    asset_id, owner.pk, f"originals/{asset_id.hex[:2]}/{asset_id.hex}.jpg", "IMG_0001.jpg", "",
                    uuid.uuid4().hex * 2, "JPEG", "image/jpeg", 4032, 3024, 3_000_000, "", "", "", now, now,
                    "tagged", "", 1, "", 0, "image", "", False,
                ))  # fmt: skip
    return ids


def measure_fresh(ids: list[uuid.UUID], chunk: int) -> dict[str, float]:
    import redis
    from django.conf import settings

    from tagging.tasks import tagging_enqueue

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.TAGGING_QUEUE
    client.delete(queue)
    before = int(client.info("memory")["used_memory"])
    started = time.monotonic()
    sent = 0
    for start in range(0, len(ids), chunk):
        sent += tagging_enqueue(asset_ids=ids[start : start + chunk])
    seconds = time.monotonic() - started
    after = int(client.info("memory")["used_memory"])
    length = int(client.llen(queue))
    key_bytes = int(client.memory_usage(queue, samples=0) or 0)
    sample = client.lindex(queue, 0) or b""
    client.delete(queue)
    if length != sent:
        sys.exit(f"expected {sent} messages on {queue!r}, found {length}: is a worker consuming this Redis db?")
    return {
        "messages": sent,
        "used_memory_per_message": per_item(before, after, sent),
        "key_bytes_per_message": per_item(0, key_bytes, sent),
        "message_json_bytes": len(sample),
        "enqueue_per_second": sent / seconds,
    }


def measure_bulk(ids: list[uuid.UUID], chunk: int) -> dict[str, float]:
    from django.db import connection

    from tagging import lanes
    from tagging.models import BulkRequest

    BulkRequest.objects.all().delete()

    def table_bytes() -> tuple[int, int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_total_relation_size('tagging_bulkrequest'), pg_relation_size('tagging_bulkrequest'),"
                " pg_indexes_size('tagging_bulkrequest')"
            )
            return cursor.fetchone()

    before = table_bytes()
    started = time.monotonic()
    for start in range(0, len(ids), chunk):
        lanes.bulk_add(asset_ids=ids[start : start + chunk])
    seconds = time.monotonic() - started
    after = table_bytes()
    rows = BulkRequest.objects.count()
    if rows != len(ids):
        sys.exit(f"expected {len(ids)} bulk-lane rows, found {rows}")
    return {
        "rows": rows,
        "total_per_row": per_item(before[0], after[0], rows),
        "heap_per_row": per_item(before[1], after[1], rows),
        "indexes_per_row": per_item(before[2], after[2], rows),
        "bulk_add_per_second": rows / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_environment()
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from media.models import Asset

    call_command("migrate", verbosity=0)
    get_user_model().objects.filter(username=USER).delete()
    owner = get_user_model().objects.create_user(username=USER, password=None)
    try:
        fresh = measure_fresh(make_assets(owner, args.messages), args.chunk) if args.messages else None
        Asset.objects.filter(owner=owner).delete()
        bulk = measure_bulk(make_assets(owner, args.bulk_rows), args.chunk) if args.bulk_rows else None
    finally:
        Asset.objects.filter(owner=owner).delete()
        owner.delete()
    if fresh:
        print(f"fresh lane (Redis, {fresh['messages']:,} messages via tagging_enqueue):")
        print(f"  used_memory delta   {fresh['used_memory_per_message']:,.0f} bytes per message (server-wide)")
        print(f"  MEMORY USAGE queue  {fresh['key_bytes_per_message']:,.0f} bytes per message (the list only)")
        print(f"  one message body    {fresh['message_json_bytes']:,} bytes of JSON")
        print(f"  enqueued at         {fresh['enqueue_per_second']:,.0f} messages/s")
    if bulk:
        print(f"bulk lane (PostgreSQL, {bulk['rows']:,} BulkRequest rows via lanes.bulk_add):")
        print(f"  total               {bulk['total_per_row']:,.0f} bytes per row"
              f" (heap {bulk['heap_per_row']:,.0f}, indexes {bulk['indexes_per_row']:,.0f})")  # fmt: skip
        print(f"  added at            {bulk['bulk_add_per_second']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
