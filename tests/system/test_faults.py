"""The production stack survives faults: worker crashes mid-task, a broker outage, a database restart.

A disposable stack per module (testkit/stack.py): its own PostgreSQL cluster and Redis server on free
ports (never the shared ones, which other tests use), the site under gunicorn with DEBUG=0 and JSON
logs, a real Celery worker with the shipped shapes detector and celery beat. The scenarios live in
testkit/faults.py; bench/faults.py runs them at full size and prints the figures docs/operations.md
records. Sizes here are smaller so the module fits CI (about 3-4 minutes on 2 cores).

Recovery windows are shortened through the environment, as an operator could: a message held by a
worker that vanished comes back after CELERY_VISIBILITY_TIMEOUT (60 s here, 3600 s by default) and a
stuck claim is freed after TAGGING_PROCESSING_TIMEOUT (15 s here, 420 s by default).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testkit.faults import broker_outage, crash_rounds, database_restart
from testkit.stack import REPO, Stack, missing_server_tools

pytestmark = [pytest.mark.faults, pytest.mark.worker]

FAULT_ENV = {
    "TAGGING_SWEEP_INTERVAL": "5",
    "TAGGING_UNQUEUED_GRACE": "5",
    "TAGGING_PROCESSING_TIMEOUT": "15",
    "CELERY_VISIBILITY_TIMEOUT": "60",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = missing_server_tools()
    if missing:
        pytest.skip(f"the fault tests start their own servers and need {', '.join(missing)}")
    stack = Stack(tmp_path_factory.mktemp("faults"), extra_env=FAULT_ENV)
    try:
        stack.start_backends()
        stack.start_site()
        stack.add_worker()
        stack.start_beat()
        yield stack
    finally:
        stack.close()


def _explain(report: object, stack: Stack) -> str:
    logs = "\n".join(f"--- {service.name}\n{service.log(3000)}" for service in stack.workers)
    return f"{report}\n{logs}"


def test_worker_killed_mid_task_20_times_every_asset_ends_tagged_once(stack):
    # Kills that land after the task ended use an asset up: 20 spare ones keep a loaded machine from running out.
    report = crash_rounds(stack, rounds=20, extra_assets=20, image_size=(960, 720), main_kills=4, timeout=400)
    assert report.child_kills + report.main_kills == 20
    assert report.statuses == {"tagged": report.assets}
    assert report.duplicated_detections == 0
    assert not report.problems, _explain(report, stack)


def test_broker_outage_every_upload_accepted_and_tagged_or_clearly_refused(stack):
    report = broker_outage(stack, uploads=24, outage_after=4, outage_seconds=8.0, interval=0.2, timeout=240)
    assert report.errors == 0 and report.accepted_during_outage > 0
    assert report.accepted + report.refused == report.uploads
    assert report.tagged == report.accepted
    assert not report.problems, _explain(report, stack)


def test_database_restart_site_and_workers_recover_on_their_own(stack):
    report = database_restart(stack, downtime_seconds=5.0, uploads_after=8, timeout=240)
    assert report.restarted_processes == 0
    assert report.first_success_after_s < 15
    assert report.tagged == report.accepted > 0
    assert not report.problems, _explain(report, stack)


def test_compose_worker_healthcheck_pings_the_worker_by_its_container_name(stack):
    """The exact healthcheck command of docker-compose.yml, against a worker named as compose names it."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["healthcheck"]["test"][1].replace("$$", "$")
    host = "container-4f2a"
    worker = stack.add_worker(node=f"celery@{host}")
    try:
        # The image has celery on PATH; here it is next to this interpreter.
        env = {**stack.env(), "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        healthy = subprocess.run(["sh", "-c", command], env={**env, "HOSTNAME": host}, cwd=REPO,
                                 capture_output=True, text=True, timeout=60)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        sick = subprocess.run(["sh", "-c", command], env={**env, "HOSTNAME": "no-such-container"}, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert sick.returncode != 0
    finally:
        worker.stop()
        stack.workers.remove(worker)
