"""DATABASE_PARALLEL_WORKERS: searches run without PostgreSQL parallel workers unless told otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from testkit.worker_process import REPO


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_the_site_connection_runs_without_parallel_workers():
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_a_bad_value_is_a_clear_configuration_error(tmp_path):
    env = {**os.environ, "DATABASE_PARALLEL_WORKERS": "two", "DATABASE_URL": "postgres://u@127.0.0.1:1/x",
           "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "assetsite.settings"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "DATABASE_PARALLEL_WORKERS must be a whole number or empty, not 'two'" in result.stderr
