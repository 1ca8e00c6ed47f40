"""Fault scenarios against a disposable stack (testkit/stack.py): worker crashes, a broker outage, a
database restart. Each returns a report with its figures and the problems it found; the pytest
tests (tests/system/test_faults.py, small sizes) assert ``problems == []`` and bench/faults.py (full
sizes) prints the figures.

The checks are made on the database and the media folder themselves, not on what the API says.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from testkit.stack import Service, Stack, kill_pid, pool_children, wait_until

FINAL = ("tagged", "failed")


def scene_png(index: int, size: tuple[int, int] = (480, 320)) -> bytes:
    """A distinct PNG with shapes in it (the test detector finds them), ``size`` pixels."""
    from PIL import Image

    from testkit.shapes import make_scene

    rng = random.Random(10_000 + index)
    small = (max(size[0] // 4, 160), max(size[1] // 4, 120))
    image = make_scene(rng, size=small, labels=["circle", "square", "triangle"]).image
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class Upload:
    index: int
    started: float
    seconds: float
    status: int  # 0: no HTTP answer at all
    code: str = ""
    detail: str = ""
    asset_id: str = ""
    phase: str = ""


def upload(stack: Stack, token: str, index: int, data: bytes, *, phase: str = "", timeout: float = 60) -> Upload:
    started = time.monotonic()
    try:
        response = requests.post(stack.url("/api/assets/"), files={"file": (f"scene-{index}.png", data)},
                                 headers={"Authorization": f"Token {token}"}, timeout=timeout)
    except requests.RequestException as error:
        return Upload(index, started, time.monotonic() - started, 0, "no_response", str(error)[:200], phase=phase)
    seconds = time.monotonic() - started
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"detail": response.text[:200], "code": "not_json"}
    return Upload(index, started, seconds, response.status_code, str(body.get("code", "")),
                  str(body.get("detail", ""))[:300], str(body.get("id", "")) if response.status_code in (200, 201)
                  else "", phase)


class Uploader(threading.Thread):
    """Uploads distinct scenes one after another until ``count`` are sent or ``stop`` is set."""

    def __init__(self, stack: Stack, token: str, count: int, *, interval: float = 0.0, first: int = 0,
                 phase: Any = None) -> None:
        super().__init__(daemon=True)
        self.stack, self.token, self.count, self.interval, self.first = stack, token, count, interval, first
        self.phase = phase or (lambda: "")
        self.results: list[Upload] = []
        self.stop = threading.Event()

    def run(self) -> None:
        for index in range(self.first, self.first + self.count):
            if self.stop.is_set():
                break
            self.results.append(upload(self.stack, self.token, index, scene_png(index), phase=self.phase()))
            time.sleep(self.interval)


def owner_assets(stack: Stack, username: str) -> dict[str, tuple[str, int, str, str, str]]:
    rows = stack.query(
        "SELECT a.id::text, a.tagging_status, a.tagging_attempts, a.file, a.thumbnail_small, a.thumbnail_large "
        "FROM media_asset a JOIN auth_user u ON u.id = a.owner_id WHERE u.username = %s", (username,))
    return {row[0]: (row[1], row[2], row[3], row[4], row[5]) for row in rows}


def wait_final(stack: Stack, username: str, *, timeout: float) -> dict[str, tuple[str, int, str, str, str]]:
    def done() -> dict[str, Any] | None:
        assets = owner_assets(stack, username)
        return assets if all(status in FINAL for status, *_ in assets.values()) else None

    try:
        return wait_until(done, timeout=timeout, interval=0.5, what="every asset tagged or failed")
    except TimeoutError:
        return owner_assets(stack, username)


def broker_idle(stack: Stack) -> bool:
    """No message queued, none held unacknowledged by a worker (Redis transport keys)."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    return client.llen("detection") == 0 and client.llen("celery") == 0 and client.hlen("unacked") == 0


def detection_problems(stack: Stack, asset_ids: list[str]) -> list[str]:
    """Every asset tagged once: its automatic detections come from one run, none duplicated, summary right."""
    if not asset_ids:
        return []
    problems = []
    runs = stack.query(
        "SELECT d.asset_id::text, COUNT(DISTINCT d.run_id), COUNT(*) FROM tagging_detection d "
        "WHERE d.source = 'auto' AND d.asset_id::text = ANY(%s) GROUP BY 1", (asset_ids,))
    for asset_id, distinct_runs, _count in runs:
        if distinct_runs != 1:
            problems.append(f"{asset_id}: automatic detections from {distinct_runs} runs")
    duplicates = stack.query(
        "SELECT asset_id::text, label_id, x, y, width, height, COUNT(*) FROM tagging_detection "
        "WHERE source = 'auto' AND asset_id::text = ANY(%s) GROUP BY 1, 2, 3, 4, 5, 6 HAVING COUNT(*) > 1",
        (asset_ids,))
    problems += [f"{row[0]}: detection {row[1:6]} stored {row[6]} times" for row in duplicates]
    counts = stack.query(
        "SELECT r.asset_id::text, r.detection_count, COUNT(d.id) FROM tagging_detectionrun r "
        "JOIN tagging_detection d ON d.run_id = r.id WHERE r.asset_id::text = ANY(%s) GROUP BY r.id", (asset_ids,))
    problems += [f"{row[0]}: run says {row[1]} detections, {row[2]} stored" for row in counts if row[1] != row[2]]
    tags = stack.query(
        "SELECT t.asset_id::text, t.label_id, t.count, (SELECT COUNT(*) FROM tagging_detection d WHERE "
        "d.asset_id = t.asset_id AND d.label_id = t.label_id) FROM tagging_assettag t WHERE t.asset_id::text = "
        "ANY(%s)", (asset_ids,))
    problems += [f"{row[0]}: tag summary counts {row[2]}, {row[3]} detections" for row in tags if row[2] != row[3]]
    succeeded = {row[0] for row in stack.query(
        "SELECT DISTINCT asset_id::text FROM tagging_detectionrun WHERE succeeded AND asset_id::text = ANY(%s)",
        (asset_ids,))}
    problems += [f"{asset_id}: tagged without a successful run" for asset_id in asset_ids if asset_id not in succeeded]
    return problems


def storage_problems(stack: Stack) -> list[str]:
    """Files on disk and files the database names must be the same sets: nothing lost, nothing orphaned."""
    named = set()
    for row in stack.query("SELECT file, thumbnail_small, thumbnail_large FROM media_asset"):
        named.update(name for name in row if name)
    on_disk = {str(path.relative_to(stack.media_root)) for path in stack.stored_files()}
    problems = [f"file missing for a row: {name}" for name in sorted(named - on_disk)]
    problems += [f"orphan file without a row: {name}" for name in sorted(on_disk - named)]
    return problems


# --- worker crashes ----------------------------------------------------------------------------


@dataclass
class CrashReport:
    rounds: int
    assets: int
    image_size: tuple[int, int]
    child_kills: int = 0
    main_kills: int = 0
    missed_kills: int = 0  # kills that landed after the task had finished (not counted as rounds)
    seconds: float = 0.0  # uploads, kills and recovery, until the broker is idle
    kill_seconds: float = 0.0  # until the last kill
    statuses: dict[str, int] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    successful_runs_max: int = 0
    duplicated_detections: int = 0
    problems: list[str] = field(default_factory=list)


def crash_rounds(stack: Stack, *, rounds: int = 20, extra_assets: int = 20, image_size: tuple[int, int] = (1600, 1200),
                 main_kills: int = 4, timeout: float = 600, seed: int = 1) -> CrashReport:
    """``kill -9`` a worker in the middle of a task ``rounds`` times, then check every asset ended tagged once.

    Most rounds kill the prefork child running the task (the main process requeues its message at once:
    reject_on_worker_lost); ``main_kills`` of the early rounds kill the whole worker, main process
    included (its message waits in Redis until the visibility timeout, its claim until the sweeper
    frees it), and start a new one, as a container restart policy would. They come early so that the
    wait for their messages overlaps the later rounds.
    """
    rng = random.Random(seed)
    report = CrashReport(rounds=rounds, assets=rounds + extra_assets, image_size=image_size)
    token = stack.create_users("crash")["crash"]
    started = time.monotonic()
    for running in stack.workers:  # the backlog first, with no worker taking it, so kills find busy workers
        running.stop()
    for index in range(report.assets):
        result = upload(stack, token, index, scene_png(index, image_size))
        if result.status != 201:
            report.problems.append(f"upload {index}: {result.status} {result.detail}")
    worker = stack.workers[0] if stack.workers else stack.add_worker()
    for running in stack.workers:
        stack.restart(running)
    killed: set[str] = set()
    kills = 0
    deadline = time.monotonic() + timeout
    while kills < rounds and time.monotonic() < deadline:
        busy = stack.query(
            "SELECT a.id::text, a.tagging_task_id FROM media_asset a JOIN auth_user u ON u.id = a.owner_id "
            "WHERE u.username = 'crash' AND a.tagging_status = 'processing' AND a.tagging_attempts = 1")
        busy = [row for row in busy if row[0] not in killed]
        if not busy:
            if all(status in FINAL for status, *_ in owner_assets(stack, "crash").values()):
                report.problems.append(f"ran out of assets after {kills} kills; upload more (extra_assets)")
                break
            time.sleep(0.002)
            continue
        asset_id, task_id = busy[0]
        time.sleep(rng.uniform(0, 0.03))  # land at different points: decoding, inference, writing
        whole = report.main_kills < main_kills and kills % 2 == 1
        if whole:
            worker.kill()
        else:
            children = pool_children(worker)
            if not children:
                continue
            kill_pid(children[0])
        state = stack.query("SELECT tagging_status, tagging_task_id FROM media_asset WHERE id::text = %s",
                            (asset_id,))[0]
        if state == ("processing", task_id):
            kills += 1
            killed.add(asset_id)
            if whole:
                report.main_kills += 1
            else:
                report.child_kills += 1
        else:
            report.missed_kills += 1
        if whole:
            stack.restart(worker)
        else:
            # The main process forks a new child; wait for it so the next round can find it.
            wait_until(lambda: pool_children(worker), timeout=60, what="a new pool child")
    report.kill_seconds = time.monotonic() - started
    if kills < rounds:
        report.problems.append(f"only {kills} of {rounds} kills landed in the middle of a task")
    final = wait_final(stack, "crash", timeout=max(deadline - time.monotonic(), 120))
    # Messages a killed main process held come back after the visibility timeout: wait for them too,
    # so their (no-op) second run is part of what is checked.
    try:
        wait_until(lambda: broker_idle(stack), timeout=max(deadline - time.monotonic(), 120), interval=1,
                   what="the broker to be idle")
    except TimeoutError as error:
        report.problems.append(str(error))
    final = owner_assets(stack, "crash")
    report.seconds = time.monotonic() - started
    report.statuses = dict(Counter(status for status, *_ in final.values()))
    report.attempts = dict(sorted(Counter(attempts for _, attempts, *_ in final.values()).items()))
    report.problems += [f"{asset_id}: {status}" for asset_id, (status, *_) in final.items() if status != "tagged"]
    report.problems += [f"{asset_id} was killed but shows 1 attempt" for asset_id in killed if final[asset_id][1] < 2]
    problems = detection_problems(stack, list(final))
    report.duplicated_detections = sum("stored" in problem for problem in problems)
    report.problems += problems
    runs = stack.query("SELECT asset_id::text, COUNT(*) FROM tagging_detectionrun WHERE succeeded AND "
                       "asset_id::text = ANY(%s) GROUP BY 1", (list(final),))
    report.successful_runs_max = max((count for _, count in runs), default=0)
    report.problems += storage_problems(stack)
    if not worker.running():
        report.problems.append("the worker is not running at the end")
    return report


# --- broker outage -----------------------------------------------------------------------------


@dataclass
class OutageReport:
    uploads: int
    outage_seconds: float
    accepted: int = 0
    accepted_during_outage: int = 0
    refused: int = 0
    errors: int = 0  # 5xx or no answer: neither accepted nor clearly refused
    tagged: int = 0
    slowest_upload_s: float = 0.0
    health_during: int = 0
    health_after: int = 0
    recovered_after_s: float = 0.0  # from the broker's return until every accepted upload was tagged
    problems: list[str] = field(default_factory=list)


def _clear_refusal(result: Upload) -> bool:
    return 400 <= result.status < 500 and bool(result.code) and len(result.detail) > 10


def broker_outage(stack: Stack, *, uploads: int = 30, outage_after: int = 5, outage_seconds: float = 8.0,
                  interval: float = 0.2, timeout: float = 300) -> OutageReport:
    """Stop Redis while uploads continue, start it again; every upload must be accepted and tagged, or
    refused with a clear message, and the database, the files and the responses must agree."""
    report = OutageReport(uploads=uploads, outage_seconds=outage_seconds)
    token = stack.create_users("outage")["outage"]
    phase = {"now": "before"}
    uploader = Uploader(stack, token, uploads, interval=interval, phase=lambda: phase["now"])
    worker_pids = [worker.pid for worker in stack.workers]
    uploader.start()
    wait_until(lambda: len(uploader.results) >= outage_after, timeout=120, what="uploads before the outage")
    stack.redis.stop()
    phase["now"] = "outage"
    time.sleep(outage_seconds / 2)
    report.health_during = requests.get(stack.url("/health/"), timeout=30).status_code
    time.sleep(outage_seconds / 2)
    stack.redis.start()
    back = time.monotonic()
    phase["now"] = "after"
    uploader.join(timeout=timeout)
    results = uploader.results
    for result in results:
        if result.status == 201:
            report.accepted += 1
            report.accepted_during_outage += result.phase == "outage"
        elif _clear_refusal(result):
            report.refused += 1
        else:
            report.errors += 1
            report.problems.append(f"upload {result.index} ({result.phase}): {result.status} {result.code} "
                                   f"{result.detail[:100]}")
    report.slowest_upload_s = max((result.seconds for result in results), default=0.0)
    accepted = {result.asset_id for result in results if result.status == 201}
    final = wait_final(stack, "outage", timeout=timeout)
    report.recovered_after_s = time.monotonic() - back
    report.tagged = sum(status == "tagged" for status, *_ in final.values())
    if set(final) != accepted:
        report.problems.append(f"rows {len(final)} ≠ accepted uploads {len(accepted)}: lost "
                               f"{sorted(accepted - set(final))}, unexpected {sorted(set(final) - accepted)}")
    report.problems += [f"{asset_id}: {status}" for asset_id, (status, *_) in final.items() if status != "tagged"]
    report.problems += detection_problems(stack, list(final))
    report.problems += storage_problems(stack)
    report.health_after = requests.get(stack.url("/health/"), timeout=30).status_code
    if report.health_during != 503:
        report.problems.append(f"/health/ answered {report.health_during} while Redis was down (503 expected)")
    if report.health_after != 200:
        report.problems.append(f"/health/ answered {report.health_after} after Redis came back")
    for worker, pid in zip(stack.workers, worker_pids, strict=True):
        if not worker.running() or worker.pid != pid:
            report.problems.append(f"{worker.name} did not survive the outage")
    if report.accepted_during_outage == 0:
        report.problems.append("no upload was made while Redis was down: the outage proved nothing")
    return report


# --- database restart --------------------------------------------------------------------------


@dataclass
class RestartReport:
    downtime_seconds: float
    accepted: int = 0
    failed_during_downtime: int = 0
    answers_during_downtime: dict[str, int] = field(default_factory=dict)
    first_success_after_s: float = 0.0  # from PostgreSQL accepting connections to the next accepted upload
    tagged: int = 0
    slowest_upload_s: float = 0.0
    restarted_processes: int = 0
    problems: list[str] = field(default_factory=list)


def database_restart(stack: Stack, *, downtime_seconds: float = 5.0, uploads_after: int = 10,
                     interval: float = 0.2, timeout: float = 300) -> RestartReport:
    """Stop PostgreSQL while uploads continue and a worker is busy, start it again; the site and the
    workers must carry on without anyone restarting them, and every accepted upload must be tagged."""
    report = RestartReport(downtime_seconds=downtime_seconds)
    token = stack.create_users("restart")["restart"]
    processes: list[Service] = [service for service in (stack.site, *stack.workers, stack.beat) if service]
    pids = [service.pid for service in processes]
    phase = {"now": "before"}
    uploader = Uploader(stack, token, 10_000, interval=interval, phase=lambda: phase["now"])
    uploader.start()
    wait_until(lambda: len(uploader.results) >= 5, timeout=120, what="uploads before the restart")
    stack.postgres.stop(mode="fast")
    phase["now"] = "down"
    time.sleep(downtime_seconds)
    stack.postgres.start()
    back = time.monotonic()
    phase["now"] = "after"
    wait_until(lambda: sum(r.status == 201 and r.phase == "after" for r in uploader.results) >= uploads_after,
               timeout=timeout, what="uploads after the restart")
    uploader.stop.set()
    uploader.join(timeout=120)
    results = uploader.results
    successes_after = [r for r in results if r.status == 201 and r.started >= back]
    report.first_success_after_s = (min(r.started + r.seconds for r in successes_after) - back) if successes_after \
        else float("inf")
    down = [r for r in results if r.phase == "down"]
    report.failed_during_downtime = sum(r.status != 201 for r in down)
    report.answers_during_downtime = dict(Counter(f"{r.status} {r.code}" for r in down))
    report.slowest_upload_s = max((r.seconds for r in results), default=0.0)
    if any(r.status == 0 for r in results):
        report.problems.append("some uploads got no HTTP answer at all")
    unclear = Counter(f"{r.status} {r.code}" for r in results if r.status not in (201, 503))
    if unclear:
        report.problems.append(f"answers other than 201 or 503 database_unavailable: {dict(unclear)}")
    accepted = {r.asset_id for r in results if r.status == 201}
    report.accepted = len(accepted)
    final = wait_final(stack, "restart", timeout=timeout)
    report.tagged = sum(status == "tagged" for status, *_ in final.values())
    if set(final) != accepted:
        report.problems.append(f"rows {len(final)} ≠ accepted uploads {len(accepted)}")
    report.problems += [f"{asset_id}: {status}" for asset_id, (status, *_) in final.items() if status != "tagged"]
    report.problems += detection_problems(stack, list(final))
    report.problems += storage_problems(stack)
    for service, pid in zip(processes, pids, strict=True):
        if not service.running() or service.pid != pid:
            report.restarted_processes += 1
            report.problems.append(f"{service.name} had to be restarted")
    health = requests.get(stack.url("/health/"), timeout=30)
    if health.status_code != 200:
        report.problems.append(f"/health/ answers {health.status_code} after the restart: {health.text[:200]}")
    if not down:
        report.problems.append("no upload was made while PostgreSQL was down: the restart proved nothing")
    return report
