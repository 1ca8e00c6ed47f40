"""Load: many clients upload while others search, against the production setup on loopback.

    .venv/bin/python bench/load.py                                   # 2,000 uploads, 50 clients, 4 searchers
    .venv/bin/python bench/load.py --uploads 200 --clients 20       # a quick run
    .venv/bin/python bench/load.py --database-url postgres://... --redis-url redis://...   # existing servers

The site runs under gunicorn with DEBUG=0 (``--web-workers``, default 2 × cores + 1) against
PostgreSQL and Redis: by default a private PostgreSQL cluster and Redis server started for the run
(testkit/stack.py; the shared ones are never touched), or the servers given. SQLite or a file broker
is refused: those are not what production runs. No tagging worker runs (tagging is excluded from
the figures): every accepted upload leaves one message waiting in Redis, which is counted.

Each upload client has its own user and token (so API throttling, 6000/min per user, is not what is
measured) and uploads distinct 640×480 JPEG scenes generated before the clock starts. Searchers use
uploaders' tokens and cycle through ``/api/assets/?q=...``, ``/api/labels/`` and ``/api/assets/``
while the uploads run. Afterwards every 201 is checked against the database (exactly one row per
accepted upload, no other rows) and the media folder (each row's original and two thumbnails, no
orphan files), and the queue length against the accepted uploads.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEARCHES = [
    ("search q", "/api/assets/?q=circle"),
    ("search q", "/api/assets/?q=(square OR triangle) -circle"),
    ("search q", "/api/assets/?q=format:jpeg uploaded:2020.."),
    ("labels", "/api/labels/"),
    ("list", "/api/assets/?page_size=50"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50, help="concurrent upload clients")
    parser.add_argument("--searchers", type=int, default=4, help="concurrent search clients")
    parser.add_argument("--size", default="640x480", help="image size WxH")
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--database-url", default="", help="an existing PostgreSQL database (default: a private one)")
    parser.add_argument("--redis-url", default="", help="an existing Redis database (default: a private one)")
    parser.add_argument("--workdir", type=Path, help="keep the run's files here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


@dataclass
class Sample:
    kind: str
    seconds: float
    status: int
    asset_id: str = ""


def make_jpegs(count: int, size: tuple[int, int]) -> list[bytes]:
    """Distinct photo-like JPEGs: shapes on textured backgrounds, a little noise, quality 85."""
    from PIL import Image

    from testkit.shapes import make_scene

    rng = random.Random(2024)
    noise = Image.effect_noise(size, 10).convert("RGB")
    images = []
    for _ in range(count):
        scene = make_scene(rng, size=size).image
        buffer = io.BytesIO()
        Image.blend(scene, noise, 0.06).save(buffer, "JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def multipart(index: int, data: bytes) -> tuple[bytes, str]:
    """The request body a browser or curl would send, built before the clock starts (a cheap client)."""
    boundary = f"assetsite-load-{index:08d}"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo-{index}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def check_servers(database_url: str, redis_url: str) -> None:
    if database_url and not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"--database-url must be PostgreSQL (got {database_url.split(':')[0]}): the load test measures "
                 "the production setup, not SQLite.")
    if bool(database_url) != bool(redis_url):
        sys.exit("Give both --database-url and --redis-url, or neither (then private servers are started).")
    if not database_url:
        from testkit.stack import missing_server_tools

        missing = missing_server_tools()
        if missing:
            sys.exit(f"No --database-url/--redis-url given and cannot start private servers: {', '.join(missing)} "
                     "not installed. Install PostgreSQL and Redis, or point the script at running ones.")


def run(args: argparse.Namespace) -> dict:
    import requests

    from testkit.stack import Stack

    check_servers(args.database_url, args.redis_url)
    width, height = (int(part) for part in args.size.split("x"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="assetsite-load-"))
    stack = Stack(workdir, web_workers=args.web_workers, database_url=args.database_url, redis_url=args.redis_url)
    print(f"Generating {args.uploads} distinct {width}×{height} JPEGs ...", flush=True)
    images = make_jpegs(args.uploads, (width, height))
    print(f"  {sum(map(len, images)) / len(images) / 1024:.0f} KB each on average", flush=True)
    try:
        stack.start_backends()
        stack.start_site()
        run_id = f"load{int(time.time())}"  # this run's users, apart from any earlier run's in the same database
        names = [f"{run_id}-{index}" for index in range(args.clients)]
        tokens = stack.create_users(*names)
        import redis

        queue = redis.Redis.from_url(stack.redis_url)
        queued_before = queue.llen("detection")

        samples: list[Sample] = []
        lock = threading.Lock()
        next_image = iter(range(args.uploads))
        uploads_done = threading.Event()

        bodies = [multipart(index, data) for index, data in enumerate(images)]

        def uploader(token: str) -> None:
            # http.client with prepared bodies: the load generator shares the machine, so it must be light.
            connection = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=120)
            while True:
                with lock:
                    index = next(next_image, None)
                if index is None:
                    connection.close()
                    return
                body, content_type = bodies[index]
                started = time.perf_counter()
                try:
                    connection.request("POST", "/api/assets/", body=body, headers={
                        "Authorization": f"Token {token}", "Content-Type": content_type})
                    response = connection.getresponse()
                    payload = response.read()
                    status = response.status
                    asset_id = json.loads(payload)["id"] if status == 201 else ""
                except (OSError, http.client.HTTPException, ValueError, KeyError):
                    connection.close()
                    status, asset_id = 0, ""
                with lock:
                    samples.append(Sample("upload", time.perf_counter() - started, status, asset_id))

        def searcher(token: str, seed: int) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            rng = random.Random(seed)
            while not uploads_done.is_set():
                kind, path = rng.choice(SEARCHES)
                started = time.perf_counter()
                try:
                    status = session.get(stack.url(path), timeout=120).status_code
                except requests.RequestException:
                    status = 0
                with lock:
                    samples.append(Sample(kind, time.perf_counter() - started, status))

        upload_threads = [threading.Thread(target=uploader, args=(tokens[name],)) for name in names]
        search_threads = [threading.Thread(target=searcher, args=(tokens[names[index % len(names)]], index))
                          for index in range(args.searchers)]
        print(f"Uploading with {args.clients} clients while {args.searchers} search, against gunicorn with "
              f"{args.web_workers} workers ...", flush=True)
        from testkit.stack import children_of

        assert stack.site is not None
        server_pids = [stack.site.pid, *children_of(stack.site.pid)]
        server_cpu, client_cpu, machine = cpu_seconds(server_pids), time.process_time(), machine_busy()
        started = time.perf_counter()
        for thread in upload_threads + search_threads:
            thread.start()
        for thread in upload_threads:
            thread.join()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server_pids) - server_cpu
        client_cpu = time.process_time() - client_cpu
        machine = tuple(after - before for after, before in zip(machine_busy(), machine, strict=True))
        uploads_done.set()
        for thread in search_threads:
            thread.join()

        # --- verification: the database, the files and the queue against the answers ---
        accepted = [sample.asset_id for sample in samples if sample.kind == "upload" and sample.status == 201]
        rows = {row[0]: row[1:] for row in stack.query(
            "SELECT a.id::text, a.file, a.thumbnail_small, a.thumbnail_large FROM media_asset a "
            "JOIN auth_user u ON u.id = a.owner_id WHERE u.username LIKE %s", (f"{run_id}-%",))}
        missing_rows = [asset_id for asset_id in accepted if asset_id not in rows]
        extra_rows = sorted(set(rows) - set(accepted))
        duplicate_answers = len(accepted) - len(set(accepted))
        media_root = stack.media_root  # this run's own folder, whatever the database
        missing_files = [name for files in rows.values() for name in files if not (media_root / name).is_file()]
        named = {name for files in rows.values() for name in files}
        on_disk = {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()}
        orphans = sorted(on_disk - named)
        queued = queue.llen("detection") - queued_before

        by_kind: dict[str, list[Sample]] = defaultdict(list)
        for sample in samples:
            by_kind[sample.kind].append(sample)
        upload_samples = by_kind["upload"]
        errors = Counter(sample.status for sample in samples if sample.status not in (200, 201))
        lost = len(missing_rows) + len(missing_files)
        result = {
            "uploads": args.uploads,
            "clients": args.clients,
            "searchers": args.searchers,
            "web_workers": args.web_workers,
            "image": f"{width}x{height} JPEG, {sum(map(len, images)) / len(images) / 1024:.0f} KB",
            "seconds": round(elapsed, 2),
            "uploads_per_second": round(len(upload_samples) / elapsed, 1),
            "accepted": len(accepted),
            "errors": dict(errors),
            "lost": lost,
            "extra_rows": len(extra_rows),
            "orphan_files": len(orphans),
            "duplicate_answers": duplicate_answers,
            "queued_tasks": queued,
            "cpu_ms_per_upload": {
                "gunicorn": round(server_cpu / args.uploads * 1000, 1),
                "load clients": round(client_cpu / args.uploads * 1000, 1),
                "whole machine": round(machine[0] / args.uploads * 1000, 1),
            },
            "machine_busy_percent": round(machine[0] / machine[1] * 100, 1),
            "latency_ms": {
                kind: {
                    "count": len(items),
                    "p50": round(percentile([s.seconds for s in items], 0.50) * 1000, 1),
                    "p95": round(percentile([s.seconds for s in items], 0.95) * 1000, 1),
                    "p99": round(percentile([s.seconds for s in items], 0.99) * 1000, 1),
                    "mean": round(statistics.fmean(s.seconds for s in items) * 1000, 1),
                }
                for kind, items in sorted(by_kind.items())
            },
        }
        return result
    finally:
        stack.close()
        if not args.workdir:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def print_report(result: dict) -> None:
    print()
    print(f"{result['uploads']} uploads ({result['image']}) by {result['clients']} clients, {result['searchers']} "
          f"searchers, gunicorn × {result['web_workers']}, tagging excluded")
    print()
    print("| requests | count | p50 ms | p95 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|---|")
    for kind, figures in result["latency_ms"].items():
        print(f"| {kind} | {figures['count']} | {figures['p50']} | {figures['p95']} | {figures['p99']} | "
              f"{figures['mean']} |")
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| ingest throughput | **{result['uploads_per_second']} uploads/s** ({result['seconds']} s) |")
    print(f"| accepted (201) | {result['accepted']} of {result['uploads']} |")
    print(f"| errors (any other status) | {sum(result['errors'].values())} {result['errors'] or ''} |")
    print(f"| lost (201 without its row or files) | {result['lost']} |")
    print(f"| rows or files nobody was told about | {result['extra_rows'] + result['orphan_files']} |")
    print(f"| detection tasks waiting in Redis | {result['queued_tasks']} |")
    cpu = result["cpu_ms_per_upload"]
    print(f"| CPU per upload (gunicorn / load clients / whole machine) | {cpu['gunicorn']} / {cpu['load clients']} / "
          f"{cpu['whole machine']} ms |")
    print(f"| machine busy during the run | {result['machine_busy_percent']} % of {os.cpu_count()} cores |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = (not result["errors"] and result["lost"] == 0 and result["extra_rows"] == 0 and result["orphan_files"] == 0
          and result["queued_tasks"] == result["accepted"] == result["uploads"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
