"""What the priority lanes' bookkeeping costs per image, with a big bulk line waiting.

    .venv/bin/python bench/lanes.py --database-url postgres://…/db --assets 100000 --users 20

Creates asset rows (no files: only the database work is measured), puts them all in the bulk lane
(``bulk_add`` in chunks of 1000, as ``manage.py retag`` does), then times what each bulk message
does besides detection: ``next_job`` (pick the next user's asset) with the asset marked tagged, and
the progress reads (``GET /api/status/`` and the pages' line) for one user. Prints medians and p95.
The rows are deleted at the end. Without --database-url: SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--assets", type=int, default=20000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--picks", type=int, default=200)
    parser.add_argument("--queries", action="store_true", help="print one pick's queries with their times")
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-lanes-"))
    os.environ["VAR_DIR"] = str(var_dir)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from media.models import Asset, TaggingStatus
    from tagging import lanes
    from tagging.models import BulkRequest
    from tagging.progress import tagging_progress

    call_command("migrate", verbosity=0)
    prefix = f"bench-lanes-{uuid.uuid4().hex[:6]}"
    users = [get_user_model().objects.create_user(username=f"{prefix}-{i}") for i in range(args.users)]
    try:
        started = time.perf_counter()
        rows = [
            Asset(owner=users[i % len(users)], file=f"bench/{i}.jpg", original_filename=f"{i}.jpg",
                  sha256=uuid.uuid4().hex * 2, format="JPEG", mime_type="image/jpeg", width=640, height=480,
                  byte_size=1, tagging_status=TaggingStatus.TAGGED)
            for i in range(args.assets)
        ]
        Asset.objects.bulk_create(rows, batch_size=2000)
        ids = [row.pk for row in rows]
        created = time.perf_counter() - started

        chunk_times = []
        for start in range(0, len(ids), 1000):
            begin = time.perf_counter()
            lanes.bulk_add(asset_ids=ids[start : start + 1000])
            chunk_times.append(time.perf_counter() - begin)

        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            lanes.next_job()
        if args.queries:
            for query in captured.captured_queries:
                print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
        picks = []
        for _ in range(args.picks):
            begin = time.perf_counter()
            job = lanes.next_job()
            picks.append(time.perf_counter() - begin)
            assert job is not None
            # What the end of the run does: the asset tagged, its request served.
            Asset.objects.filter(pk=job.asset_id).update(tagging_status=TaggingStatus.TAGGED)
            BulkRequest.objects.filter(asset_id=job.asset_id).delete()

        with CaptureQueriesContext(connection) as captured:
            tagging_progress(user=users[0], with_positions=False)
        if args.queries:
            for query in captured.captured_queries:
                print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:200]}")
        status, line = [], []
        for _ in range(20):
            begin = time.perf_counter()
            tagging_progress(user=users[0])
            status.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            tagging_progress(user=users[0], with_positions=False)
            line.append(time.perf_counter() - begin)

        print(f"lanes bookkeeping, {connection.vendor}, {args.assets} assets in the bulk lane, {args.users} users")
        print(f"  rows created in {created:.1f} s")
        print(f"  bulk_add per 1000 assets: {ms(chunk_times)}")
        print(f"  next_job (one bulk message's pick): {ms(picks)}")
        print(f"  GET /api/status/ reads: {ms(status)}")
        print(f"  the pages' line: {ms(line)}")
    finally:
        Asset.all_objects.filter(owner__in=users).delete()
        get_user_model().objects.filter(username__startswith=prefix).delete()


if __name__ == "__main__":
    main()
