"""bench/load.py at CI size: concurrent uploads and searches lose nothing and answer no errors.

The same code as the full benchmark (2,000 uploads from 50 clients, figures in docs/operations.md),
against its own disposable stack: a private PostgreSQL cluster and Redis server, gunicorn with
DEBUG=0. Throughput is printed by the benchmark, not asserted here (the CI machine is shared); what
must hold on any machine is that every answer is a 2xx and every 201 left exactly its row, its
three files and one queued detection task, and nothing else.
"""

from __future__ import annotations

import pytest

from bench import load
from testkit.stack import missing_server_tools

pytestmark = [pytest.mark.faults]


def test_concurrent_uploads_and_searches_lose_nothing(tmp_path):
    missing = missing_server_tools()
    if missing:
        pytest.skip(f"the load test starts its own servers and needs {', '.join(missing)}")
    result = load.run(load.parse_args(["--uploads", "240", "--clients", "24", "--searchers", "3",
                                       "--web-workers", "3", "--workdir", str(tmp_path)]))
    load.print_report(result)

    assert result["errors"] == {}, result["errors"]
    assert result["accepted"] == result["uploads"] == 240
    assert (result["lost"], result["extra_rows"], result["orphan_files"], result["duplicate_answers"]) == (0, 0, 0, 0)
    assert result["queued_tasks"] == 240
    # The searchers ran while the uploads did, and were answered.
    assert result["latency_ms"]["search q"]["count"] > 0 and result["latency_ms"]["labels"]["count"] > 0
