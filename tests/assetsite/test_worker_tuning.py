"""What makes tagging run at the detector's speed end to end (bench/pipeline.py measures it): the
single-machine broker's layout, polling and atomic writes, and worker database connections that live
across tasks. No timings here: each test checks that the tuning is in effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from queue import Empty

import pytest
from celery.fixups.django import DjangoWorkerFixup
from kombu import Connection

from assetsite.celery import app, keep_database_connections, recycle_database_connections
from assetsite.filequeue import Transport, adopt_legacy_messages, queue_folder_name
from testkit.stack import REPO

PRINT_BROKER = """
import json
import django
django.setup()
from assetsite.celery import app
with app.connection_for_read() as connection:
    transport = connection.transport
    print(json.dumps({
        "transport": f"{type(transport).__module__}:{type(transport).__name__}",
        "polling_interval": transport.polling_interval,
        "busy_polling_interval": transport.busy_polling_interval,
        "options": connection.transport_options,
        "prefetch": app.conf.worker_prefetch_multiplier,
        "db_reuse_max": app.conf.get("CELERY_DB_REUSE_MAX"),
    }))
"""


def test_without_redis_workers_get_the_per_queue_file_broker_with_fast_polling(tmp_path):
    """What `make run` configures: a fresh interpreter with nothing set, as a worker starts."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "DJANGO_SETTINGS"))}
    env.update(VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(REPO), DJANGO_SETTINGS_MODULE="assetsite.settings")
    done = subprocess.run([sys.executable, "-c", PRINT_BROKER], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout.strip().splitlines()[-1])
    assert config["transport"] == "assetsite.filequeue:Transport"
    assert config["polling_interval"] == 0.05  # kombu's default is 1 s: one image per second at best
    assert config["busy_polling_interval"] == 0.005
    assert config["options"]["data_folder"] == str(tmp_path / "var" / "celery" / "queues")
    assert config["prefetch"] == 1
    assert config["db_reuse_max"] >= 100  # Celery's fixup would close the connection around every task


def file_connection(root: Path, **options: object) -> Connection:
    return Connection(
        "filesystem://",
        transport=Transport,
        transport_options={"data_folder": str(root / "queues"), "control_folder": str(root / "control"), **options},
    )


def test_each_queue_has_its_own_folder_and_messages_appear_whole(tmp_path):
    with file_connection(tmp_path) as connection:
        detection = connection.SimpleQueue("detection")
        other = connection.SimpleQueue("celery")
        for index in range(5):
            detection.put({"n": index})
        other.put({"n": "sweep"})
        queues = tmp_path / "queues"
        assert len(list((queues / "detection").glob("*.msg"))) == 5
        assert len(list((queues / "celery").glob("*.msg"))) == 1
        assert list((queues / ".incoming").iterdir()) == []  # written aside, then renamed in
        # First in, first out within a queue; the other queue's message is not in the way.
        received = []
        for _ in range(5):
            message = detection.get(timeout=2)
            received.append(message.payload["n"])
            message.ack()
        assert received == [0, 1, 2, 3, 4]
        assert other.get(timeout=2).payload == {"n": "sweep"}
        assert list((queues / "detection").glob("*.msg")) == []
        assert list((queues / ".claimed").iterdir()) == []  # read and removed, not left behind
        detection.close()
        other.close()


def test_two_consumers_never_get_the_same_message(tmp_path):
    with file_connection(tmp_path) as first, file_connection(tmp_path) as second:
        producer = first.SimpleQueue("detection")
        for index in range(40):
            producer.put({"n": index})
        channels = [first.default_channel, second.default_channel]
        bodies: list[str] = []
        while True:
            try:
                bodies.append(channels[len(bodies) % 2]._get("detection")["body"])
            except Empty:
                break
        assert len(bodies) == len(set(bodies)) == 40
        producer.close()


def test_unsafe_queue_names_stay_inside_the_data_folder():
    assert queue_folder_name("detection") == "detection"
    assert queue_folder_name("detection@host.celery.pidbox") == "detection@host.celery.pidbox"
    for name in ("../escape", "..", "a/b", "", "x" * 300):
        folder = queue_folder_name(name)
        assert "/" not in folder and folder.strip(".") and len(folder) <= 200


def test_messages_left_by_kombus_own_transport_are_adopted(tmp_path):
    legacy = tmp_path / "queue"
    legacy.mkdir()
    with Connection("filesystem://", transport_options={
        "data_folder_in": str(legacy), "data_folder_out": str(legacy), "control_folder": str(tmp_path / "control"),
    }) as old:
        queue = old.SimpleQueue("detection")
        queue.put({"asset": "left over"})
        queue.close()
    assert len(list(legacy.glob("*.detection.msg"))) == 1
    with file_connection(tmp_path, legacy_folder=str(legacy)) as connection:
        queue = connection.SimpleQueue("detection")
        assert queue.get(timeout=2).payload == {"asset": "left over"}
        queue.close()
    assert list(legacy.iterdir()) == []
    assert adopt_legacy_messages(tmp_path / "missing", tmp_path / "queues") == 0


@pytest.mark.django_db(transaction=True)
def test_worker_database_connections_live_across_tasks(settings):
    """Celery's fixup around each task, then ours: the connection is the same one afterwards."""
    from django.db import connection

    settings.WORKER_CONN_MAX_AGE = 600
    saved = connection.settings_dict["CONN_MAX_AGE"]
    fixup = DjangoWorkerFixup(app)
    task = app.tasks["tagging.tasks.sweep_stale_assets"]
    try:
        keep_database_connections()
        assert connection.settings_dict["CONN_MAX_AGE"] == 600
        connection.close()
        connection.ensure_connection()
        opened = connection.connection
        for _ in range(3):  # three tasks' worth of signals
            fixup.on_task_prerun(sender=task)
            recycle_database_connections(sender=task)
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            fixup.on_task_postrun(sender=task)
            recycle_database_connections(sender=task)
        assert connection.connection is opened

        # Without CELERY_DB_REUSE_MAX, Celery closes it around every task: what this tuning prevents.
        fixup.db_reuse_max = None
        fixup.on_task_postrun(sender=task)
        assert connection.connection is None
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved


@pytest.mark.django_db(transaction=True)
def test_a_broken_worker_connection_is_replaced_before_the_next_task(settings):
    """A database server that restarted: the kept connection is dropped and a new one made."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a SQLite file has no server to lose (Django treats its connection as always usable)")
    saved = connection.settings_dict["CONN_MAX_AGE"]
    task = app.tasks["tagging.tasks.sweep_stale_assets"]
    try:
        keep_database_connections()
        connection.ensure_connection()
        broken = connection.connection
        connection.errors_occurred = True
        broken.close()  # as if the database had restarted
        recycle_database_connections(sender=task)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert connection.connection is not broken
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = saved


@pytest.mark.django_db(transaction=True)
def test_back_to_back_work_skips_the_health_check_and_work_after_a_pause_gets_it(monkeypatch):
    """The health check is a round trip per task; a connection used a moment ago needs none."""
    from types import SimpleNamespace

    from django.db import connection

    from assetsite import db_reuse

    if connection.vendor != "postgresql":
        pytest.skip("a SQLite file has no server to lose (Django does not health-check it)")
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(db_reuse, "time", SimpleNamespace(monotonic=lambda: clock.now))
    checks = []
    real_is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(clock.now) or real_is_usable())
    recycler = db_reuse.ConnectionRecycler()
    connection.ensure_connection()

    def one_task() -> None:
        recycler.recycle()  # task_prerun
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        clock.now += 0.05
        recycler.recycle()  # task_postrun
        clock.now += 0.002

    one_task()  # the first task after a long pause: checked
    assert checks == [1000.0]
    for _ in range(5):
        one_task()
    assert len(checks) == 1
    clock.now += 30  # idle: the server may have dropped the connection meanwhile
    one_task()
    assert len(checks) == 2
