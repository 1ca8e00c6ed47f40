"""Stateless nodes, proven: two gunicorn web nodes and two Celery workers, each with its own empty local
directories (MEDIA_ROOT, VAR_DIR), sharing only PostgreSQL, Redis and an S3 server.

Uploads go round-robin to both web nodes; half-way one web node and one worker are killed (SIGKILL, whole
process group) and the client sends to the surviving node. The killed web node comes back (as
``restart: unless-stopped`` would); the killed worker does not. Then every asset must be tagged exactly
once (testkit.faults.detection_problems) and its original fetched, byte for byte, from the web node it was
not uploaded to; and no node may have written a file of its own. Used by tests/system/test_two_nodes.py
and bench/two_nodes.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from testkit.faults import detection_problems, scene_png, wait_final
from testkit.s3 import S3Server
from testkit.stack import PYTHON, Service, Stack, free_port, wait_until

NODE_ENV = {
    # Short sweeps so a killed worker's asset is sent again within seconds, not an hour.
    "TAGGING_SWEEP_INTERVAL": "5",
    "TAGGING_UNQUEUED_GRACE": "5",
    "TAGGING_PROCESSING_TIMEOUT": "15",
    "CELERY_VISIBILITY_TIMEOUT": "60",  # the least the settings allow
}


@dataclass
class WebNode:
    name: str
    port: int
    root: Path
    service: Service

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def alive(self) -> bool:
        try:
            return requests.get(self.url("/health/live/"), timeout=2).status_code == 200
        except requests.RequestException:
            return False


@dataclass
class TwoNodeReport:
    uploads: int = 0
    accepted: int = 0
    failovers: int = 0  # uploads aimed at the dead node, sent to the other one
    tagged: int = 0
    failed: int = 0
    fetched_identical: int = 0
    upload_seconds: float = 0.0
    tag_seconds: float = 0.0
    objects: int = 0
    local_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _own_dirs(base: Path, name: str) -> dict[str, str]:
    root = base / name
    (root / "media").mkdir(parents=True, exist_ok=True)
    (root / "var").mkdir(parents=True, exist_ok=True)
    return {"MEDIA_ROOT": str(root / "media"), "VAR_DIR": str(root / "var")}


def _web_node(stack: Stack, base: Path, name: str) -> WebNode:
    port = free_port()
    command = [PYTHON, "-m", "gunicorn", "assetsite.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", "1", "--timeout", "120", "--graceful-timeout", "5"]
    service = Service(name, command, stack.env(**_own_dirs(base, name)), stack.workdir)
    node = WebNode(name, port, base / name, service)
    service.start()
    wait_until(node.alive, timeout=120, what=name)
    return node


def _local_files(roots: list[Path]) -> list[str]:
    # Uploaded bytes would land under media/; var/ holds only locks and the beat schedule.
    return [str(path) for root in roots for path in (root / "media").rglob("*") if path.is_file()]


def two_node_run(workdir: Path, s3: S3Server, *, uploads: int = 12, timeout: float = 300) -> TwoNodeReport:
    report = TwoNodeReport(uploads=uploads)
    base = workdir / "nodes"
    stack = Stack(workdir, web_workers=1, extra_env={**s3.env(), "AWS_LOCATION": "two-nodes", **NODE_ENV})
    nodes: list[WebNode] = []
    try:
        stack.start_backends()
        nodes = [_web_node(stack, base, "web-a"), _web_node(stack, base, "web-b")]
        workers = [stack.add_worker(queues="detection,celery", env=_own_dirs(base, name))
                   for name in ("worker-1", "worker-2")]
        stack.beat = Service("beat", [PYTHON, "-m", "celery", "-A", "assetsite", "beat", "--loglevel", "INFO",
                                      "--schedule", str(base / "beat" / "schedule")],
                             stack.env(**_own_dirs(base, "beat")), stack.workdir)
        stack.beat.start()
        token = stack.create_users("alice")["alice"]
        sent: dict[str, tuple[bytes, int]] = {}  # asset id -> (bytes, index of the node that took it)
        started = time.monotonic()
        for index in range(uploads):
            if index == uploads // 2:  # mid-run: a web node and a worker die
                nodes[1].service.kill()
                workers[1].kill()
            data = scene_png(index)
            target = index % 2
            if not nodes[target].service.running():
                target, report.failovers = 1 - target, report.failovers + 1
            response = requests.post(nodes[target].url("/api/assets/"), files={"file": (f"s-{index}.png", data)},
                                     headers={"Authorization": f"Token {token}"}, timeout=60)
            if response.status_code != 201:
                report.problems.append(f"upload {index} to {nodes[target].name}: {response.status_code} "
                                       f"{response.text[:200]}")
                continue
            sent[response.json()["id"]] = (data, target)
        report.upload_seconds = time.monotonic() - started
        report.accepted = len(sent)
        nodes[1].service.start()  # the web node comes back; the worker stays dead
        wait_until(nodes[1].alive, timeout=120, what="web-b again")
        final = wait_final(stack, "alice", timeout=timeout)
        report.tag_seconds = time.monotonic() - started
        report.tagged = sum(1 for status, *_ in final.values() if status == "tagged")
        report.failed = sum(1 for status, *_ in final.values() if status == "failed")
        if set(final) != set(sent):
            report.problems.append(f"assets in the database {len(final)}, accepted uploads {len(sent)}")
        report.problems += [f"{key}: {status}" for key, (status, *_rest) in final.items() if status != "tagged"]
        report.problems += detection_problems(stack, list(sent))
        for asset_id, (data, took) in sent.items():
            other = nodes[1 - took]
            fetched = requests.get(other.url(f"/api/assets/{asset_id}/original/"),
                                   headers={"Authorization": f"Token {token}"}, timeout=60)
            if fetched.status_code == 200 and fetched.content == data:
                report.fetched_identical += 1
            else:
                report.problems.append(f"{asset_id} from {other.name}: {fetched.status_code}, "
                                       f"{len(fetched.content)} bytes, sent {len(data)}")
        report.objects = len(s3.keys("two-nodes/"))
        expected = 3 * len(sent)  # original and two thumbnails each
        if report.objects != expected:
            report.problems.append(f"{report.objects} objects in the bucket, expected {expected}")
        report.local_files = _local_files([base / name for name in ("web-a", "web-b", "worker-1", "worker-2")])
        report.problems += [f"local file {path}" for path in report.local_files]
        if report.problems:
            logs = "\n".join(f"--- {service.name}\n{service.log(2000)}"
                             for service in [*workers, *(node.service for node in nodes)])
            report.problems.append(logs)
        return report
    finally:
        for node in nodes:
            try:
                node.service.stop(timeout=10)
            except Exception:  # teardown goes on
                pass
        stack.close()
