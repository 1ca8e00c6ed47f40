"""Stateless nodes: two web nodes and two workers with no shared disk, sharing PostgreSQL, Redis and an
S3 server (SeaweedFS); one web node and one worker killed mid-run. testkit/two_nodes.py does the work;
bench/two_nodes.py runs it at a larger size."""

from __future__ import annotations

import pytest

from testkit.stack import missing_server_tools
from testkit.two_nodes import two_node_run

pytestmark = [pytest.mark.stack, pytest.mark.worker]


def test_two_web_nodes_and_two_workers_share_nothing_but_the_services(s3_server, tmp_path):
    missing = missing_server_tools()
    if missing:
        pytest.skip(f"this test starts its own servers and needs {', '.join(missing)}")
    report = two_node_run(tmp_path, s3_server, uploads=8, timeout=240)
    assert not report.problems, "\n".join(report.problems)
    assert report.accepted == report.tagged == report.fetched_identical == 8
    assert report.failovers == 2  # the uploads meant for the dead node went to the other one
    assert report.local_files == [] and report.objects == 24
