"""A disposable production-like stack for the fault tests and the benches.

PostgreSQL and Redis instances owned by the caller (never the shared ones on 5432/6379, which other
tests and CI use), the site under gunicorn and real Celery worker and beat processes, all on free
loopback ports and a private directory. Everything can be stopped, killed and started again.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHAPES_MODEL = REPO / "tests" / "fixtures" / "shapes_detector.pt"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc: no psutil needed)."""
    try:  # fast path: the kernel's own list of the main thread's children
        return sorted(int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except (OSError, ValueError):
        pass
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: parse after the last ")".
        fields = text[text.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


class Service:
    """A child process with its output in a log file, in its own process group (so kill -9 takes all)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {self.starts}: {' '.join(self.command)}\n".encode())
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        text = self.log(tail=10_000_000)
        return text[text.rfind("===== start") :]

    def kill(self) -> None:
        """SIGKILL the whole process group: what a crashed machine or OOM-killed container looks like."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        try:  # stragglers of the group (pool children)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Redis:
    """A private redis-server (append-only file on, as in docker-compose.yml) that can be stopped and started."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dir), "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--daemonize", "no",
        ]
        self.service = Service(f"redis-{self.port}", command, dict(os.environ), workdir)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.service.start()
        wait_until(lambda: _port_open(self.port), timeout=20, what=f"redis on {self.port}")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes its append-only file, as `docker compose stop` would."""
        self.service.stop()
        wait_until(lambda: not _port_open(self.port), timeout=20, what="redis to stop")


def _pg_bin(name: str) -> str:
    for pattern in ("/usr/lib/postgresql/*/bin/" + name,):
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL's server binaries")
    return found


def missing_server_tools() -> list[str]:
    """What a Stack needs to start its own servers and this machine lacks (empty when it has all)."""
    missing = [] if shutil.which("redis-server") else ["redis-server"]
    try:
        _pg_bin("initdb")
    except RuntimeError:
        missing.append("initdb (PostgreSQL server binaries)")
    return missing


class Postgres:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a free port, owned by this process.

    As root, initdb refuses to run: the cluster then belongs to the ``postgres`` system user.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        # Under the system temp dir, not ``workdir``: the cluster's owner must reach it, and the socket
        # path must stay short. ``workdir`` only names it.
        self.dir = Path(tempfile.mkdtemp(prefix=f"assetsite-pg-{workdir.name[:20]}-"))
        self.data = self.dir / "data"
        self.log_file = self.dir / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{log}")
        return result

    def url(self, database: str = "postgres") -> str:
        # TCP on loopback with trust auth, as the user that owns the cluster.
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            # A throw-away cluster: durability against OS crashes is not what these tests are about.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        (self.dir / "options").write_text(options)

    def start(self) -> None:
        options = (self.dir / "options").read_text()
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def is_up(self) -> bool:
        return _port_open(self.port)

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Stack:
    """PostgreSQL + Redis + gunicorn + Celery workers + beat, wired together through the environment."""

    def __init__(self, workdir: Path, *, web_workers: int = 2, extra_env: dict[str, str] | None = None,
                 database_url: str = "", redis_url: str = "") -> None:
        """``database_url``/``redis_url``: use these running servers instead of starting private ones."""
        self.workdir = workdir.resolve()
        self.external_database_url = database_url
        self.external_redis_url = redis_url
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres(self.workdir)
        self.redis = Redis(self.workdir)
        self.web_port = free_port()
        self.web_workers = web_workers
        self.media_root = self.workdir / "media"
        self.var_dir = self.workdir / "var"
        self.extra_env = dict(extra_env or {})
        self.site: Service | None = None
        self.workers: list[Service] = []
        self.beat: Service | None = None
        self._conn: Any = None

    # --- environment ----------------------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return self.external_database_url or self.postgres.url("assetsite")

    @property
    def redis_url(self) -> str:
        return self.external_redis_url or self.redis.url(0)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "PYTEST_", "CELERY_", "TAGGING_", "ASSET_", "API_THROTTLE"))
        }
        env.update({
            "DJANGO_SETTINGS_MODULE": "assetsite.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "VAR_DIR": str(self.var_dir),
            "MEDIA_ROOT": str(self.media_root),
            # Production settings, minus HTTPS (loopback has no TLS).
            "DEBUG": "0",
            "SECRET_KEY": "stack-" + "k" * 60,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "TAGGING_MODEL": str(SHAPES_MODEL),
            "TAGGING_DEVICE": "cpu",
            "TAGGING_ALLOW_DOWNLOAD": "0",
            "TAGGING_TORCH_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO),
        })
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=self.env(), capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def python(self, code: str, *args: str, timeout: float = 300) -> str:
        """Run ``code`` in a fresh interpreter with Django set up against this stack."""
        prelude = "import django; django.setup()\n"
        result = subprocess.run([PYTHON, "-c", prelude + code, *args], cwd=REPO, env=self.env(),
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"script failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    # --- lifecycle ------------------------------------------------------------------------------

    def start_backends(self) -> None:
        if not self.external_database_url:
            self.postgres.init()
            self.postgres.start()
            self.postgres.create_database("assetsite")
        if not self.external_redis_url:
            self.redis.start()
        self.manage("migrate", "--noinput")

    def start_site(self) -> None:
        command = [
            PYTHON, "-m", "gunicorn", "assetsite.wsgi:application", "--bind", f"127.0.0.1:{self.web_port}",
            "--workers", str(self.web_workers), "--timeout", "120", "--graceful-timeout", "5",
        ]
        self.site = Service("gunicorn", command, self.env(), self.workdir)
        self.site.start()
        self.wait_site()

    def wait_site(self, timeout: float = 120) -> None:
        import requests

        def live() -> bool:
            assert self.site is not None
            if not self.site.running():
                raise RuntimeError(f"gunicorn exited:\n{self.site.log()}")
            try:
                return requests.get(self.url("/health/live/"), timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(live, timeout=timeout, what="the site")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def add_worker(self, *, queues: str = "detection,detection-bulk,celery,webhooks", concurrency: int = 1,
                   env: dict[str, str] | None = None, wait: bool = True, node: str = "") -> Service:
        """A Celery worker process; ``node`` is its full name (default ``worker<n>-<random>@<host>``)."""
        name = f"worker{len(self.workers) + 1}-{uuid.uuid4().hex[:6]}"
        command = [
            PYTHON, "-m", "celery", "-A", "assetsite", "worker", "-Q", queues, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "-n", node or f"{name}@%h", "--without-mingle", "--without-gossip",
        ]
        worker = Service(name, command, self.env(**(env or {})), self.workdir)
        self.workers.append(worker)
        worker.start()
        if wait:
            self.wait_worker(worker)
        return worker

    def wait_worker(self, worker: Service, timeout: float = 180) -> None:
        def ready() -> bool:
            if not worker.running():
                raise RuntimeError(f"worker exited:\n{worker.log()}")
            return " ready." in worker.log_since_start()

        wait_until(ready, timeout=timeout, interval=0.3, what=f"{worker.name} to be ready")

    def restart(self, service: Service) -> None:
        """Start a killed or stopped service again, as `restart: unless-stopped` would."""
        service.start()
        if service in self.workers:
            self.wait_worker(service)
        elif service is self.site:
            self.wait_site()

    def start_beat(self) -> Service:
        command = [PYTHON, "-m", "celery", "-A", "assetsite", "beat", "--loglevel", "INFO",
                   "--schedule", str(self.var_dir / "beat-schedule")]
        self.beat = Service("beat", command, self.env(), self.workdir)
        self.beat.start()
        return self.beat

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        for service in [*self.workers, self.beat, self.site]:
            if service is not None:
                try:
                    service.stop(timeout=10)
                except Exception:  # teardown goes on with the rest
                    pass
        try:
            self.redis.service.kill()
        except Exception:
            pass
        if not self.external_database_url:
            self.postgres.destroy()
        else:
            shutil.rmtree(self.postgres.dir, ignore_errors=True)

    # --- data -----------------------------------------------------------------------------------

    def create_users(self, *names: str, staff: tuple[str, ...] = ()) -> dict[str, str]:
        """Users with API tokens; returns {username: token}."""
        code = (
            "import json, sys\n"
            "from django.contrib.auth import get_user_model\n"
            "from integrations.services import token_create\n"
            "User = get_user_model(); tokens = {}\n"
            "for name in sys.argv[1].split(','):\n"
            "    user, _ = User.objects.get_or_create(username=name)\n"
            "    user.is_staff = user.is_superuser = name in sys.argv[2].split(',')\n"
            "    user.set_unusable_password(); user.save()\n"
            "    tokens[name] = token_create(user=user, name='stack')[1]\n"
            "print(json.dumps(tokens))\n"
        )
        return json.loads(self.python(code, ",".join(names), ",".join(staff)).strip().splitlines()[-1])

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the stack's database, on one kept connection (reopened after a restart)."""
        import psycopg

        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, connect_timeout=5, autocommit=True)
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except psycopg.OperationalError:
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stored_files(self) -> list[Path]:
        return [path for path in self.media_root.rglob("*") if path.is_file()] if self.media_root.exists() else []


def pool_children(worker: Service) -> list[int]:
    """The prefork pool's child processes of a worker's main process."""
    return [pid for pid in children_of(worker.pid) if _alive(pid)]


def kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
