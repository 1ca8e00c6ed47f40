"""Search benchmark: seed 100,000 assets with ~1,000,000 detections in PostgreSQL, time typical searches.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/assetsite .venv/bin/python bench/search.py
    ... bench/search.py --assets 1000000          # ~10M detections
    ... REDIS_URL=redis://127.0.0.1:6379/0 bench/search.py --reuse --while-tagging

The data goes into its own database (``--database``, default ``assetsite_bench``, on the same server,
dropped and created again unless ``--reuse``), seeded with COPY; the seeding time and the table and
index sizes per million detections are printed. ``--while-tagging`` times everything twice: idle,
then while a real Celery worker process (testkit/worker_process.py, the shapes detector) tags a
backlog of uploaded shapes images for another user of the same database, and prints both with the
worker's throughput during the timed run. Label frequencies follow a Zipf-like curve like COCO's (person in about
half the pictures, the rarest labels in under 1%). Each query runs through the real FilterSet,
selectors and keyset pager (``q`` parsed, labels looked up, first page of 50 fetched) for the
largest user; facets go through ``label_facets`` ("sampled": counted in the newest matches only), the
"count" column through ``results_count`` (the library page's bounded "N images"). ``--explain`` prints
the PostgreSQL plans.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DATABASE = "assetsite_bench"
USERS = (("bench_big", 0.50), ("bench_mid", 0.30), ("bench_small", 0.15), ("bench_tiny", 0.05))
# Most common first, roughly as in COCO's training images.
LABELS_BY_FREQUENCY = (
    "person", "car", "chair", "cup", "bottle", "dining table", "dog", "handbag", "truck", "bench", "book",
    "cell phone", "bowl", "traffic light", "backpack", "umbrella", "clock", "potted plant", "cat", "bicycle",
    "couch", "sink", "tv", "bird", "boat", "motorcycle", "laptop", "bus", "knife", "vase", "spoon", "remote",
    "fork", "sports ball", "horse", "wine glass", "tie", "bed", "train", "suitcase", "oven", "cake",
    "skateboard", "airplane", "keyboard", "surfboard", "refrigerator", "pizza", "kite", "tennis racket",
    "cow", "sheep", "elephant", "skis", "zebra", "giraffe", "banana", "frisbee", "donut", "sandwich",
    "toilet", "carrot", "mouse", "apple", "teddy bear", "broccoli", "orange", "baseball glove", "stop sign",
    "baseball bat", "snowboard", "microwave", "fire hydrant", "hot dog", "scissors", "toothbrush",
    "parking meter", "bear", "toaster", "hair drier",
)  # fmt: skip
FORMATS = (("JPEG", "image/jpeg", "jpg", 0.80), ("HEIF", "image/heif", "heic", 0.10),
           ("PNG", "image/png", "png", 0.07), ("WEBP", "image/webp", "webp", 0.03))  # fmt: skip

QUERIES: list[tuple[str, dict[str, str]]] = [
    ("everything, newest", {}),
    ("one common label", {"q": "person"}),
    ("one label", {"q": "dog"}),
    ("one rare label", {"q": "giraffe"}),
    ("rarest label", {"q": "hair drier"}),
    ("AND of two", {"q": "dog frisbee"}),
    ("AND of three, common", {"q": "person car chair"}),
    ("AND of three, rare", {"q": "dog frisbee person"}),
    ("OR with NOT", {"q": "(cat OR dog) -person"}),
    ("NOT only", {"q": "-person"}),
    ("label minus two", {"q": "person -car -chair"}),
    ("OR of five", {"q": "cat OR dog OR horse OR sheep OR cow"}),
    ("count >=", {"q": "person>=3"}),
    ("count =0", {"q": "car=0 dog"}),
    ("count <", {"q": "dog<2"}),
    ("confidence", {"q": "dog@0.9"}),
    ("two confidences", {"q": "person@0.95 car@0.9"}),
    ("box size", {"q": "dog:big"}),
    ("box size, common label", {"q": "person:huge"}),
    ("date plus label", {"q": "dog uploaded:2024"}),
    ("taken range plus label", {"q": "person taken:2023-06..2023-12"}),
    ("filters mixed", {"q": "cat status:tagged format:jpeg"}),
    ("structured label+confidence", {"label": "dog", "min_confidence": "0.8"}),
    ("sort by confidence", {"q": "dog", "sort": "confidence"}),
    ("sort by confidence under OR", {"q": "(cat OR dog) -person", "sort": "confidence"}),
    ("sort by objects", {"q": "cat", "sort": "objects"}),
    ("sort by objects, everything", {"sort": "objects"}),
    ("page 2 (cursor)", {"q": "person", "_page": "2"}),
    ("timeline, everything", {"sort": "taken"}),
    ("timeline, one label", {"q": "dog", "sort": "taken"}),
    ("timeline, page 2 (cursor)", {"sort": "taken", "_page": "2"}),
]
# The timeline's jump-to control: the months of the search with their counts (search/months.py): the
# summary answers the first two, the third groups its matches.
MONTHS: list[tuple[str, dict[str, str]]] = [
    ("timeline months, everything", {"sort": "taken"}),
    ("timeline months, one label", {"q": "dog", "sort": "taken"}),
    ("timeline months, two labels", {"q": "person car", "sort": "taken"}),
]
FACETS: list[tuple[str, dict[str, str]]] = [
    ("facets, whole library", {}),
    ("facets, one label", {"q": "dog"}),
    ("facets, common label", {"q": "person"}),
    ("facets, OR with NOT", {"q": "(cat OR dog) -person"}),
    ("facets, rare AND", {"q": "dog frisbee"}),
    ("autocomplete 'do'", {"prefix": "do"}),
    ("autocomplete 'c' within person", {"q": "person", "prefix": "c"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--detections-per-asset", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded benchmark database")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE for each query")
    parser.add_argument("--only", default="", help="run only queries whose name contains this")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", BENCH_DATABASE),
                        help="the benchmark's own database on the DATABASE_URL server (dropped unless --reuse)")
    parser.add_argument("--while-tagging", action="store_true",
                        help="also time everything while a real worker tags images (needs a broker: REDIS_URL)")
    parser.add_argument("--tagging-images", type=int, default=600, help="backlog uploaded for --while-tagging")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit(
            "bench/search.py needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/dbname (the benchmark "
            f"creates its own database {args.database!r} on that server). SQLite is not measured."
        )
    bench_url = urlunsplit(urlsplit(url)._replace(path=f"/{args.database}"))
    fresh = prepare_database(url, name=args.database, reuse=args.reuse)

    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("MEDIA_ROOT", str(Path(os.environ["VAR_DIR"]) / f"media-{args.database}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from media.models import Asset

    if fresh or not Asset.objects.exists():
        seed(assets=args.assets, per_asset=args.detections_per_asset)
    print_sizes()
    idle = run_benchmarks(runs=args.runs, explain=args.explain, only=args.only)
    if args.while_tagging:
        from bench.search_tagging import while_tagging

        busy = while_tagging(lambda: run_benchmarks(runs=args.runs, explain=False, only=args.only),
                             images=args.tagging_images)  # fmt: skip
        print_comparison(idle, busy)


def prepare_database(url: str, *, name: str, reuse: bool) -> bool:
    """Create the benchmark database; True when it is new."""
    import psycopg

    if not name.replace("_", "").isalnum():
        sys.exit(f"--database {name!r}: letters, digits and _ only")
    with psycopg.connect(url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            return False
        if exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


SIZED_TABLES = (
    "media_asset", "tagging_detection", "tagging_assettag", "tagging_labelcount", "tagging_labelpaircount",
    "tagging_monthcount",
)


def print_sizes() -> None:
    """Table and index sizes, in total and per million detections."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tagging_detection")
        millions = max(cursor.fetchone()[0], 1) / 1_000_000
        print(f"\n{'table':<22} {'rows':>12} {'heap MB':>9} {'indexes MB':>10} {'total MB':>9} {'MB per 1M det.':>15}")
        grand = 0
        for table in SIZED_TABLES:
            cursor.execute(
                f"SELECT count(*), pg_relation_size('{table}'), pg_indexes_size('{table}'),"
                f" pg_total_relation_size('{table}') FROM {table}"
            )
            rows, heap, indexes, total = cursor.fetchone()
            grand += total
            print(f"{table:<22} {rows:>12,} {heap / 2**20:>9.1f} {indexes / 2**20:>10.1f} {total / 2**20:>9.1f}"
                  f" {total / 2**20 / millions:>15.1f}")  # fmt: skip
        print(f"{'these tables':<22} {'':>12} {'':>9} {'':>10} {grand / 2**20:>9.1f} {grand / 2**20 / millions:>15.1f}")
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
            " WHERE indrelid IN ('tagging_detection'::regclass, 'tagging_assettag'::regclass, 'media_asset'::regclass)"
            " ORDER BY 2 DESC"
        )
        print("indexes: " + ", ".join(f"{name} {size / 2**20:.0f} MB" for name, size in cursor.fetchall()))
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0] / 2**20
        print(f"database {size:,.0f} MB = {size / millions:,.0f} MB per million detections", flush=True)


# --- seeding ------------------------------------------------------------------------------------


def seed(*, assets: int, per_asset: float) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tagging.models import Label

    started = time.monotonic()
    rng = random.Random(42)
    users = [get_user_model().objects.create_user(username=name, password=None) for name, _ in USERS]
    label_ids = [Label.objects.get_or_create(name=name)[0].pk for name in LABELS_BY_FREQUENCY]
    weights = [1 / (rank + 1) ** 1.0 for rank in range(len(label_ids))]
    # Labels per picture and objects per label chosen so the mean is ``per_asset`` detections.
    labels_mean = 3.5
    count_mean = per_asset / labels_mean
    now = datetime(2025, 6, 1, tzinfo=UTC)
    span = timedelta(days=3 * 365).total_seconds()

    asset_rows: list[tuple] = []
    detection_count = 0
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor() as copy_cursor:
            with copy_cursor.copy(
                "COPY media_asset (id, owner_id, file, original_filename, title, sha256, format, mime_type, width,"
                " height, byte_size, taken_at, camera, thumbnail_small, thumbnail_large, created_at, updated_at,"
                " tagging_status, tagging_error, tagging_attempts, tagging_task_id, tagged_at, object_count, kind,"
                " video_codec, video_proxy, video_proxy_error, favorite, trashed_at)"
                " FROM STDIN"
            ) as copy:
                for number in range(assets):
                    owner = rng.choices(users, weights=[share for _, share in USERS])[0]
                    fmt, mime, extension, _ = rng.choices(FORMATS, weights=[f[3] for f in FORMATS])[0]
                    width, height = rng.choice(((4032, 3024), (3024, 4032), (1920, 1080), (1080, 1920)))
                    created = now - timedelta(seconds=rng.random() * span)
                    taken = created - timedelta(days=rng.random() * 400) if rng.random() < 0.8 else None
                    status = rng.choices(("tagged", "pending", "failed"), weights=(0.97, 0.02, 0.01))[0]
                    asset_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                    prefix = rng.choice(("IMG_", "DSC", "PXL_", "photo-"))
                    copy.write_row((
                        asset_id, owner.pk, f"originals/{asset_id.hex[:2]}/{asset_id.hex}.{extension}",
                        f"{prefix}{number:06d}.{extension}", "", f"{rng.getrandbits(256):064x}", fmt, mime, width,
                        height, rng.randint(200_000, 8_000_000), taken, "", "", "", created, created, status, "",
                        1, "", created if status == "tagged" else None, 0, "image", "", "", "", rng.random() < 0.03,
                        now if rng.random() < 0.02 else None,  # 2% in the trash
                    ))  # fmt: skip
                    asset_rows.append((asset_id, width, height, status == "tagged"))
            with copy_cursor.copy(
                "COPY tagging_detection (asset_id, label_id, confidence, x, y, width, height, source, review,"
                " created_at) FROM STDIN"
            ) as copy:
                for asset_id, width, height, tagged in asset_rows:
                    if not tagged:
                        continue
                    for label_id in _labels_for_picture(rng, label_ids, weights, labels_mean):
                        for _ in range(_poisson_at_least_one(rng, count_mean)):
                            share = math.exp(rng.uniform(math.log(0.0005), math.log(0.8)))
                            box_w = max(1, min(width, round(math.sqrt(share) * width)))
                            box_h = max(1, min(height, round(math.sqrt(share) * height)))
                            manual = rng.random() < 0.01
                            copy.write_row((
                                asset_id, label_id, 1.0 if manual else round(rng.betavariate(5, 2), 4),
                                rng.randint(0, width - box_w), rng.randint(0, height - box_h), box_w, box_h,
                                "manual" if manual else "auto", "accepted" if manual else "unreviewed", now,
                            ))  # fmt: skip
                            detection_count += 1
        copied = time.monotonic()
        print(f"COPY of {assets:,} assets and {detection_count:,} detections: {copied - started:.0f} s", flush=True)
    summarise()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        # Flush the seeding's dirty pages now: a checkpoint during the timed runs made them 1.5-2× slower.
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT count(*) FROM tagging_assettag")
        tags = cursor.fetchone()[0]
    print(
        f"seeded {assets:,} assets, {detection_count:,} detections, {tags:,} tag rows for {len(users)} users "
        f"in {time.monotonic() - started:.0f} s",
        flush=True,
    )


def summarise() -> None:
    """The tag summary exactly as tagging.services.tags_rebuild computes it, the assets' object counts, and
    the label, pair and month summaries as migrations tagging 0005, 0009 and 0011 backfill them.

    The summaries' triggers are off for these two statements: one statement of 3.4M tag rows through the
    pair trigger ran for over 20 minutes (its ``NOT IN (SELECT id FROM added)`` over the whole statement
    is not hashed past work_mem), where the backfill takes seconds.
    """
    import importlib

    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign keys checked per statement: ALTER TABLE refuses while deferred checks are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tagging_assettag DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE media_asset DISABLE TRIGGER USER")
        cursor.execute(
            """
            INSERT INTO tagging_assettag (asset_id, owner_id, label_id, confidence, count, max_area, has_manual)
            SELECT d.asset_id, a.owner_id, d.label_id, max(d.confidence), count(*),
                   max(d.width::float * d.height / (a.width * a.height)), bool_or(d.source = 'manual')
            FROM tagging_detection d JOIN media_asset a ON a.id = d.asset_id
            WHERE d.review <> 'rejected'
            GROUP BY d.asset_id, a.owner_id, d.label_id
            """
        )
        cursor.execute(
            """
            UPDATE media_asset a SET object_count = s.total
            FROM (SELECT asset_id, sum(count) AS total FROM tagging_assettag GROUP BY asset_id) s
            WHERE a.id = s.asset_id
            """
        )
        cursor.execute("ALTER TABLE tagging_assettag ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE media_asset ENABLE TRIGGER USER")
        cursor.execute("DELETE FROM tagging_labelcount")
        cursor.execute("DELETE FROM tagging_labelpaircount")
        cursor.execute(importlib.import_module("tagging.migrations.0005_label_counts").BACKFILL)
        cursor.execute(importlib.import_module("tagging.migrations.0009_label_pair_counts").BACKFILL)
        cursor.execute("DELETE FROM tagging_monthcount")
        cursor.execute(importlib.import_module("tagging.migrations.0011_month_counts").BACKFILL)


def _labels_for_picture(rng: random.Random, label_ids: list[int], weights: list[float], mean: float) -> set[int]:
    wanted = min(_poisson_at_least_one(rng, mean), 12)
    chosen: set[int] = set()
    while len(chosen) < wanted:
        chosen.add(rng.choices(label_ids, weights=weights)[0])
    return chosen


def _poisson_at_least_one(rng: random.Random, mean: float) -> int:
    # 1 + Poisson(mean - 1), by counting exponential gaps (Knuth): small means only.
    limit, product, count = math.exp(-(mean - 1)), rng.random(), 1
    while product > limit:
        product *= rng.random()
        count += 1
    return count


# --- timing -------------------------------------------------------------------------------------


def _time(function: Callable[[], object], runs: int) -> tuple[list[float], object]:
    result = None
    for _ in range(2):  # warm the caches and the connection
        result = function()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    return timings, result


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


Results = dict[str, tuple[float, float]]


def run_benchmarks(*, runs: int, explain: bool, only: str) -> Results:
    """Time the query mix and the facets; name -> (p50, p95) in ms."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.http import QueryDict

    from assetsite.pagination import keyset_page
    from media.models import Asset
    from media.selectors import assets_visible_to
    from search.filters import AssetFilter
    from search.selectors import label_facets, results_count

    user = get_user_model().objects.get(username=USERS[0][0])
    total_assets = Asset.objects.count()
    library = assets_visible_to(user).count()
    print(f"\nuser {user.username}: {library:,} of {total_assets:,} assets; {runs} runs per query after 2 warm-ups")
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}; {_cpu()}; load {_load()}\n")

    def filtered(params: dict[str, str]) -> AssetFilter:
        data = QueryDict(mutable=True)
        data.update({key: value for key, value in params.items() if not key.startswith("_")})
        filterset = AssetFilter(data=data, queryset=assets_visible_to(user))
        if not filterset.is_valid():
            raise SystemExit(f"benchmark query {params} is invalid: {filterset.errors.as_text()}")
        return filterset

    def page(params: dict[str, str]) -> Callable[[], object]:
        pages = int(params.get("_page", "1"))

        def fetch() -> object:
            cursor = None
            for _ in range(pages):
                result = keyset_page(queryset=filtered(params).qs, cursor=cursor, size=50)
                cursor = result.next_cursor
            return result

        return fetch

    results: Results = {}
    worst_query = worst_facet = 0.0
    print(f"{'query':<30} {'q / parameters':<42} {'matches':>8} {'p50 ms':>7} {'p95 ms':>7} {'count p50':>9}")
    for name, params in QUERIES:
        if only and only not in name:
            continue
        timings, _ = _time(page(params), runs)
        # What the library page shows for "N images": exact up to COUNT_LIMIT (results_count); the
        # matches column is the exact count, run once.
        count_timings, _ = _time(
            lambda params=params: results_count(user=user, query=filtered(params).search_query), max(5, runs // 3)
        )
        matches = filtered(params).qs.count()
        p50, p95 = _percentiles(timings)
        results[name] = (p50, p95)
        worst_query = max(worst_query, p95)
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        print(f"{name:<30} {shown:<42} {matches:>8,} {p50:>7.1f} {p95:>7.1f} {_percentiles(count_timings)[0]:>9.1f}",
              flush=True)  # fmt: skip
        if explain:
            print(filtered(params).qs[:51].explain(analyze=True, buffers=True), "\n", flush=True)
    print(f"\n{'facets':<30} {'q / parameters':<42} {'labels':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for name, params in FACETS:
        if only and only not in name:
            continue

        def facets(params: dict[str, str] = params) -> object:
            filterset = filtered({k: v for k, v in params.items() if k != "prefix"})
            return label_facets(user=user, query=filterset.search_query, prefix=params.get("prefix", ""), limit=30)

        timings, result = _time(facets, runs)
        p50, p95 = _percentiles(timings)
        results[name] = (p50, p95)
        worst_facet = max(worst_facet, p95)
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        sampled = "" if all(facet.exact for facet in result) else " sampled"  # type: ignore[attr-defined]
        print(f"{name:<30} {shown:<42} {len(result):>8} {p50:>7.1f} {p95:>7.1f}{sampled}", flush=True)  # type: ignore[arg-type]
        if explain:
            _explain_facets(user, filtered(params).search_query, params.get("prefix", ""))
    from search.months import timeline_months

    for name, params in MONTHS:
        if only and only not in name:
            continue
        timings, result = _time(
            lambda params=params: timeline_months(user=user, query=filtered(params).search_query), runs
        )
        p50, p95 = _percentiles(timings)
        worst_facet = max(worst_facet, p95)
        results[name] = (p50, p95)
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        print(f"{name:<30} {shown:<42} {len(result):>8} {p50:>7.1f} {p95:>7.1f}", flush=True)  # type: ignore[arg-type]
    print(f"\nworst p95: queries {worst_query:.1f} ms (target 50), facets {worst_facet:.1f} ms (target 100)")
    print(f"load average at the end: {_load()}")
    return results


def print_comparison(idle: Results, busy: Results) -> None:
    print(f"\n{'':<30} {'idle p50':>9} {'idle p95':>9} {'tagging p50':>12} {'tagging p95':>12}")
    for name, (p50, p95) in idle.items():
        busy_p50, busy_p95 = busy.get(name, (float("nan"), float("nan")))
        print(f"{name:<30} {p50:>9.1f} {p95:>9.1f} {busy_p50:>12.1f} {busy_p95:>12.1f}")
    facets = {name for name in idle if name.startswith(("facets", "autocomplete", "timeline months"))}
    for label, results in (("idle", idle), ("while tagging", busy)):
        queries = max((p95 for name, (_, p95) in results.items() if name not in facets), default=0.0)
        worst_facets = max((p95 for name, (_, p95) in results.items() if name in facets), default=0.0)
        print(f"worst p95 {label}: queries {queries:.1f} ms, facets {worst_facets:.1f} ms")


def _cpu() -> str:
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    except OSError:
        names = []
    return f"{os.cpu_count()} CPUs" + (f" ({names[0]})" if names else "")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _explain_facets(user, query, prefix: str) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from search import selectors as search

    captured: list[str] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "GROUP BY" in sql or "LIMIT" in sql:  # the counts, and the sample of matches they count
            captured.append(connection.ops.compose_sql(sql, params) if hasattr(connection.ops, "compose_sql")
                            else sql % tuple(params))  # fmt: skip
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        search.label_facets(user=user, query=query, prefix=prefix, limit=30)
    with connection.cursor() as cursor:
        for sql in captured:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            # The sample's ids are inlined in the plan: keep each line short.
            print("\n".join(row[0][:300] for row in cursor.fetchall()), "\n", flush=True)


if __name__ == "__main__":
    main()
