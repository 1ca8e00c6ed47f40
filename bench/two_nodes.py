"""Stateless nodes at a larger size: two web nodes and two workers with no shared disk, sharing a private
PostgreSQL, Redis and a SeaweedFS S3 server; one web node and one worker killed half-way. Prints the figures.

    .venv/bin/python bench/two_nodes.py --uploads 100

The scenario is testkit/two_nodes.py, the same code tests/system/test_two_nodes.py runs at CI size.
Exit status 1 if it found a problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)

    from testkit.s3 import S3Server, weed_unusable_reason
    from testkit.two_nodes import two_node_run

    with tempfile.TemporaryDirectory(prefix="two-nodes-") as tmp:
        workdir = Path(tmp)
        reason = weed_unusable_reason(workdir)
        if reason:
            print(f"cannot run: {reason}")
            return 1
        (workdir / "weed").mkdir()
        s3 = S3Server(workdir / "weed")
        s3.start()
        try:
            report = two_node_run(workdir / "stack", s3, uploads=args.uploads, timeout=args.timeout)
        finally:
            s3.stop()
    figures = {key: value for key, value in asdict(report).items() if key != "problems"}
    figures["upload_seconds"] = round(report.upload_seconds, 1)
    figures["tag_seconds"] = round(report.tag_seconds, 1)
    print(json.dumps(figures, indent=2))
    for problem in report.problems[:20]:
        print("PROBLEM:", problem[:2000])
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
