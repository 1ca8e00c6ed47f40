"""Start a real Celery worker process against the test database and the configured broker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def current_database_url() -> str:
    """A DATABASE_URL for the database the tests are using right now."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = f"{credentials}@" if credentials else ""
        return f"postgres://{host}{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
    raise RuntimeError(f"no URL form for {db['ENGINE']}")


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[str], media_root: Path) -> None:
        self.process = process
        self.media_root = media_root
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines[-200:])

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log}")
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout} s:\n{self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def celery_worker(
    media_root: Path, *, extra_env: dict[str, str] | None = None,
    queues: str = "detection,detection-bulk,celery,webhooks",
) -> Iterator[WorkerProcess]:
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "VAR_DIR": str(settings.VAR_DIR),
        "MEDIA_ROOT": str(media_root),
        "TAGGING_MODEL": str(REPO / "tests" / "fixtures" / "shapes_detector.pt"),
        "TAGGING_DEVICE": "cpu",
        "TAGGING_ALLOW_DOWNLOAD": "0",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "assetsite", "worker",
        "-Q", queues, "--concurrency", "1", "--loglevel", "INFO",
        "-n", f"e2e-{uuid.uuid4().hex[:8]}@%h", "--without-mingle", "--without-gossip",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    worker = WorkerProcess(process, media_root)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def purge_queues() -> None:
    """Drop messages left over from earlier runs so they cannot confuse this one."""
    from assetsite.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("detection", "detection-bulk", "celery", "webhooks"):
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue that was never declared
                pass
