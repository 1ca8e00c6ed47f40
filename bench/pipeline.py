"""End to end: uploads through the real web server, the broker and one real worker process (-c 1).

    .venv/bin/python bench/pipeline.py --broker file              # the single-machine default (`make run`)
    .venv/bin/python bench/pipeline.py --broker redis --n 200     # Redis + PostgreSQL
    .venv/bin/python bench/pipeline.py --broker redis --database-url postgres://... --redis-url redis://...

``--broker file`` runs what `make run` runs: SQLite and the file queue under a private VAR_DIR, the
site under `manage.py runserver` (DEBUG=1) and the worker with scripts/run.sh's command line and
environment. ``--broker redis`` runs the production setup: gunicorn (DEBUG=0), PostgreSQL and Redis
(private servers started for the run unless given; testkit/stack.py). The detector is the shipped
shapes model unless ``--model`` names another (``TAGGING_MODEL`` syntax; COCO models need their
weights under ``--weights-dir``, nothing is downloaded). Where they are missing, ``--untrained
fasterrcnn_mobilenet_v3_large_fpn`` times the same architecture with random weights: the same
layers and arithmetic per image, so the same cost, but no meaningful detections (random heads score
every class near 1/91, under the threshold, so little is written).

N distinct shapes scenes (JPEG) are made before the clock starts, then uploaded by a few API clients
as fast as the site accepts them while the worker tags. Figures:

- detector time: the sum of the runs' ``duration_ms`` as the pipeline records them (read, decode,
  resize, forward pass), once per task: the runs of a batch (``--batch-size``) share one pass and
  each records its time;
- wall time: from the first upload's start to the last asset's ``tagged_at``;
- efficiency: detector time / wall time, the share of the wall time the worker spent detecting;
- throughput: N / wall time.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from testkit.stack import (  # noqa: E402  (after the path is set)
    PYTHON,
    SHAPES_MODEL,
    Postgres,
    Redis,
    Service,
    free_port,
    missing_server_tools,
    wait_until,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="images to upload and tag")
    parser.add_argument("--broker", choices=("file", "redis"), default="file")
    parser.add_argument("--clients", type=int, default=4, help="concurrent upload clients")
    parser.add_argument("--size", default="640x480", help="image size WxH")
    parser.add_argument("--model", default=str(SHAPES_MODEL), help="TAGGING_MODEL for the worker")
    parser.add_argument("--untrained", default="", metavar="ARCHITECTURE",
                        help="timing stand-in for a COCO model whose weights are not here: an untrained checkpoint "
                             "of this architecture with COCO's 91 classes (same layers and compute; its detections "
                             "are meaningless, usually none); replaces --model")
    parser.add_argument("--device", default="cpu", help="TAGGING_DEVICE (cuda for the GPU figure)")
    parser.add_argument("--batch-size", type=int, default=0, help="TAGGING_BATCH_SIZE (0: the device default)")
    parser.add_argument("--weights-dir", default="", help="TAGGING_WEIGHTS_DIR (COCO weights, never downloaded)")
    parser.add_argument("--database-url", default="", help="redis broker: an existing PostgreSQL database")
    parser.add_argument("--redis-url", default="", help="redis broker: an existing Redis database (it is purged)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the worker only (e.g. DEBUG=1 to compare)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the last tag")
    parser.add_argument("--workdir", type=Path, help="keep the run's files here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def make_jpegs(count: int, size: tuple[int, int]) -> list[bytes]:
    from PIL import Image

    from testkit.shapes import make_scene

    rng = random.Random(20261130)
    images = []
    for _ in range(count):
        buffer = io.BytesIO()
        image: Image.Image = make_scene(rng, size=size).image
        image.save(buffer, "JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def multipart(index: int, data: bytes) -> tuple[bytes, str]:
    boundary = f"assetsite-pipeline-{index:08d}"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scene-{index}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Database:
    """Reads the run's figures straight from SQLite or PostgreSQL (cheap to poll: no Django here)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.conn: object = sqlite3.connect(url[len("sqlite:///"):], timeout=30)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.mark = "%s"

    def rows(self, sql: str, *params: object) -> list[tuple]:
        sql = sql.replace("%s", self.mark)
        cursor = self.conn.execute(sql, params)  # type: ignore[attr-defined]
        return list(cursor.fetchall())

    def close(self) -> None:
        self.conn.close()  # type: ignore[attr-defined]


def untrained_checkpoint(architecture: str, workdir: Path) -> Path:
    """A checkpoint of ``architecture`` with COCO's classes and random weights, for timing only."""
    import torch  # the bench's own process needs torch only here

    from tagging.coco_categories import COCO_CATEGORIES
    from tagging.detector import build_architecture, save_checkpoint

    torch.manual_seed(0)
    path = workdir / f"untrained-{architecture}.pt"
    model = build_architecture(architecture, num_classes=len(COCO_CATEGORIES))
    save_checkpoint(path, model=model, architecture=architecture, categories=COCO_CATEGORIES,
                    metadata={"note": "untrained: bench/pipeline.py --untrained, timing only"})
    return path


def as_utc(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SUCCEEDED = re.compile(
    r"^\[(\S+ \S+): \w+/[^\]]+\] Task tagging\.tasks\.detect_objects\[([^\]]+)\] succeeded in ([\d.]+)s", re.M
)


def where_the_time_went(worker_log: str, durations: dict[str, int], uploads_done: datetime) -> dict:
    """From the worker's log: per task, its run time minus the detector's ``duration_ms`` (the work
    around detection: claim, writes, webhook lookup, Celery's bookkeeping), and the gap from one task's
    end to the next one's start (acknowledgement, next message, hand-over to the pool process); split
    into tasks that ended while uploads were still arriving and those after."""
    ends = []
    for stamp, task_id, seconds in SUCCEEDED.findall(worker_log):
        # Celery logs the worker's local time, which Django sets from TIME_ZONE (UTC in this bench).
        end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
        ends.append((end, float(seconds) * 1000, durations.get(task_id)))
    parts: dict[str, dict[str, list[float]]] = {"during uploads": {"in": [], "gap": []}, "after": {"in": [], "gap": []}}
    for (previous_end, _, _), (end, run_ms, detector_ms) in zip(ends, ends[1:], strict=False):
        if detector_ms is None:
            continue
        part = parts["during uploads" if end <= uploads_done else "after"]
        part["in"].append(run_ms - detector_ms)
        start = end.timestamp() * 1000 - run_ms
        part["gap"].append(start - previous_end.timestamp() * 1000)
    return {
        name: {"tasks": len(values["in"]),
               "in_task_ms": round(statistics.mean(values["in"]), 1) if values["in"] else None,
               "between_tasks_ms": round(statistics.mean(values["gap"]), 1) if values["gap"] else None}
        for name, values in parts.items()
    }  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    width, height = (int(part) for part in args.size.split("x"))
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="assetsite-pipeline-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    var_dir = workdir / "var"
    services: list[Service] = []
    postgres: Postgres | None = None
    redis_server: Redis | None = None
    db: Database | None = None
    if args.untrained:
        args.model = str(untrained_checkpoint(args.untrained, workdir))
    print(f"Generating {args.n} distinct {width}×{height} JPEG scenes ...", flush=True)
    bodies = [multipart(index, data) for index, data in enumerate(make_jpegs(args.n, (width, height)))]
    try:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DJANGO_", "PYTEST_", "CELERY_", "TAGGING_", "DATABASE_", "REDIS_", "DEBUG"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "assetsite.settings",
            "VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(workdir / "media"),
            "SECRET_KEY": "pipeline-" + "k" * 60,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "TIME_ZONE": "UTC",  # the worker's log times are read as UTC
            "TAGGING_MODEL": args.model,
            "TAGGING_DEVICE": args.device,
            "TAGGING_ALLOW_DOWNLOAD": "0",
            "API_THROTTLE_USER": "100000/min",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO),
        })
        if args.batch_size:
            env["TAGGING_BATCH_SIZE"] = str(args.batch_size)
        if args.weights_dir:
            env["TAGGING_WEIGHTS_DIR"] = args.weights_dir
        if args.broker == "file":
            database_url = f"sqlite:///{var_dir / 'db.sqlite3'}"
            site_env = {**env, "DATABASE_URL": database_url, "DEBUG": "1"}  # as scripts/run.sh
        else:
            missing = missing_server_tools() if not (args.database_url and args.redis_url) else []
            if missing:
                sys.exit(f"--broker redis without --database-url/--redis-url needs {', '.join(missing)}")
            database_url = args.database_url
            if not database_url:
                postgres = Postgres(workdir)
                postgres.init()
                postgres.start()
                postgres.create_database("assetsite")
                database_url = postgres.url("assetsite")
            redis_url = args.redis_url
            if not redis_url:
                redis_server = Redis(workdir)
                redis_server.start()
                redis_url = redis_server.url(0)
            site_env = {**env, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DEBUG": "0"}

        def manage(*command: str) -> str:
            done = subprocess.run([PYTHON, "manage.py", *command], cwd=REPO, env=site_env, capture_output=True,
                                  text=True, timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
            return done.stdout

        manage("migrate", "--noinput")
        run_id = f"pipeline{int(time.time())}"
        token = manage("shell", "-c", (
            "from django.contrib.auth import get_user_model\n"
            "from integrations.services import token_create\n"
            f"user = get_user_model().objects.create(username={run_id!r})\n"
            "print(token_create(user=user, name='bench')[1])\n"
        )).strip().splitlines()[-1]
        if args.broker == "redis":
            manage("shell", "-c", "from testkit.worker_process import purge_queues; purge_queues()")

        port = free_port()
        if args.broker == "file":
            site_command = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        else:
            site_command = [PYTHON, "-m", "gunicorn", "assetsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
                            "--workers", "2", "--timeout", "120"]
        site = Service("site", site_command, site_env, workdir)
        services.append(site)
        site.start()

        def site_up() -> bool:
            if not site.running():
                raise RuntimeError(f"the site exited:\n{site.log()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/health/live/")
                return connection.getresponse().status == 200
            except OSError:
                return False

        wait_until(site_up, timeout=120, what="the site")

        # The worker as scripts/run.sh starts it (-B on the single-machine default), one process.
        # scripts/run.sh runs the worker with DEBUG=0 (Django would keep every query in memory).
        worker_env = {**site_env, "DEBUG": "0"}
        worker_env.update(item.split("=", 1) for item in args.worker_env)
        worker_command = [PYTHON, "-m", "celery", "-A", "assetsite", "worker", "-Q", "detection,celery",
                          "--concurrency", "1", "-n", f"{run_id}@%h", "--loglevel", "INFO"]
        if args.broker == "file":
            worker_command.insert(-4, "-B")
        worker = Service("worker", worker_command, worker_env, workdir)
        services.append(worker)
        worker.start()

        def worker_ready() -> bool:
            if not worker.running():
                raise RuntimeError(f"the worker exited:\n{worker.log()}")
            return " ready." in worker.log_since_start()

        wait_until(worker_ready, timeout=300, interval=0.3, what="the worker")
        # "ready" comes before the pool's child has loaded the model; the start-up sweep (sent 5 s after
        # ready) runs in that child, so once it has run the worker is warm. Not part of the figures.
        wait_until(lambda: "sweep_stale_assets" in worker.log_since_start().split(" ready.", 1)[1]
                   and "succeeded" in worker.log_since_start().split(" ready.", 1)[1],
                   timeout=300, interval=0.3, what="the worker's start-up sweep")

        db = Database(database_url)
        lock = threading.Lock()
        next_index = iter(range(args.n))
        failures: list[str] = []

        def uploader() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    connection.close()
                    return
                body, content_type = bodies[index]
                try:
                    connection.request("POST", "/api/assets/", body=body, headers={
                        "Authorization": f"Token {token}", "Content-Type": content_type})
                    response = connection.getresponse()
                    payload = response.read()
                    if response.status != 201:
                        failures.append(f"{response.status} {payload[:200]!r}")
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    failures.append(repr(error))

        print(f"Uploading {args.n} images with {args.clients} clients; one worker process tags them "
              f"({args.broker} broker) ...", flush=True)
        started = datetime.now(UTC)
        clock = time.monotonic()
        threads = [threading.Thread(target=uploader) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        upload_seconds = time.monotonic() - clock
        uploads_done = datetime.now(UTC)
        owner = "(SELECT id FROM auth_user WHERE username = %s)"

        def finished() -> bool:
            done = db.rows(f"SELECT count(*) FROM media_asset WHERE owner_id = {owner} "
                           "AND tagging_status IN ('tagged', 'failed')", run_id)[0][0]
            return done >= args.n - len(failures)

        wait_until(finished, timeout=args.timeout, interval=0.5, what="the last tag")
        statuses = dict(db.rows(f"SELECT tagging_status, count(*) FROM media_asset WHERE owner_id = {owner} "
                                "GROUP BY tagging_status", run_id))
        last_tagged = as_utc(db.rows(f"SELECT max(tagged_at) FROM media_asset WHERE owner_id = {owner}", run_id)[0][0])
        runs = db.rows(
            "SELECT count(*), coalesce(sum(duration_ms), 0), max(batch_size), min(model_name) "
            f"FROM tagging_detectionrun WHERE asset_id IN (SELECT id FROM media_asset WHERE owner_id = {owner})",
            run_id)[0]
        run_count, _, batch, model_name = runs
        durations = dict(db.rows(
            "SELECT task_id, duration_ms FROM tagging_detectionrun WHERE asset_id IN "
            f"(SELECT id FROM media_asset WHERE owner_id = {owner})", run_id))
        # The runs of one batch share its task and its forward pass, and each records that pass's time.
        detector_ms = sum(durations.values())
        breakdown = where_the_time_went(worker.log(tail=50_000_000), durations, uploads_done)
        wall = (last_tagged - started).total_seconds()
        return {
            "load_average": [round(value, 1) for value in os.getloadavg()],
            "cpus": os.cpu_count(),
            "broker": args.broker,
            "database": "sqlite" if database_url.startswith("sqlite") else "postgresql",
            "images": args.n,
            "image": f"{width}x{height} JPEG",
            "model": model_name,
            "device": args.device,
            "batch_size": batch,
            "upload_failures": len(failures),
            "statuses": statuses,
            "runs": run_count,
            "upload_seconds": round(upload_seconds, 2),
            "wall_seconds": round(wall, 2),
            "detector_seconds": round(detector_ms / 1000, 2),
            "detector_ms_per_image": round(detector_ms / max(run_count, 1), 1),
            "throughput": round(args.n / wall, 2),
            "overhead_ms_per_image": round((wall * 1000 - detector_ms) / args.n, 1),
            "efficiency": round(detector_ms / 1000 / wall * 100, 1),
            "not_detecting": breakdown,
        }
    finally:
        if db is not None:
            db.close()
        for service in reversed(services):
            service.stop(timeout=10)
        if redis_server is not None:
            redis_server.service.kill()
        if postgres is not None:
            postgres.destroy()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def print_report(result: dict) -> None:
    print()
    print(f"{result['images']} uploads ({result['image']}), {result['broker']} broker, {result['database']}, "
          f"one worker process, {result['model']} on {result['device']} (batch {result['batch_size']})")
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| throughput | **{result['throughput']} img/s** |")
    print(f"| wall time (first upload → last tagged) | {result['wall_seconds']} s |")
    print(f"| uploads took | {result['upload_seconds']} s |")
    print(f"| detector time (runs' duration_ms, once per task) | {result['detector_seconds']} s "
          f"({result['detector_ms_per_image']} ms per image) |")
    print(f"| wall time not spent detecting, per image | {result['overhead_ms_per_image']} ms |")
    print(f"| **efficiency** (detector / wall) | **{result['efficiency']} %** |")
    print(f"| machine load (1/5/15 min) at the end | {' / '.join(map(str, result['load_average']))} on "
          f"{result['cpus']} CPUs |")
    print(f"| statuses | {result['statuses']} ({result['runs']} runs, {result['upload_failures']} failed uploads) |")
    for name, part in result["not_detecting"].items():
        if part["tasks"]:
            print(f"| not detecting, {name} ({part['tasks']} tasks) | {part['in_task_ms']} ms in the task, "
                  f"{part['between_tasks_ms']} ms between tasks |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = result["upload_failures"] == 0 and result["statuses"].get("tagged", 0) == result["images"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
