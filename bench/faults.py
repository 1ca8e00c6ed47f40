"""Fault runs at full size: worker crashes, a broker outage, a database restart; prints the figures.

    .venv/bin/python bench/faults.py                              # all three, full size
    .venv/bin/python bench/faults.py --only crash --crash-rounds 20 --crash-size 1600x1200

Each scenario runs against its own disposable stack (testkit/stack.py: a private PostgreSQL cluster and
Redis server on free ports, gunicorn with DEBUG=0, a Celery worker with the shipped shapes detector,
celery beat); the shared servers are never touched. The scenarios themselves are testkit/faults.py,
the same code tests/system/test_faults.py runs at CI size. Exit status 1 if any scenario found a problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Recovery windows an operator might choose for a fleet where workers come and go; the defaults are
# longer (CELERY_VISIBILITY_TIMEOUT 3600 s, TAGGING_PROCESSING_TIMEOUT 420 s) and only stretch the wait.
FAULT_ENV = {
    "TAGGING_SWEEP_INTERVAL": "5",
    "TAGGING_UNQUEUED_GRACE": "5",
    "TAGGING_PROCESSING_TIMEOUT": "15",
    "CELERY_VISIBILITY_TIMEOUT": "60",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["crash", "broker", "database"], action="append")
    parser.add_argument("--crash-rounds", type=int, default=20)
    parser.add_argument("--crash-size", default="1600x1200", help="image size of the crash run's uploads")
    parser.add_argument("--main-kills", type=int, default=5, help="rounds that kill the whole worker")
    parser.add_argument("--broker-uploads", type=int, default=60)
    parser.add_argument("--outage-seconds", type=float, default=20.0)
    parser.add_argument("--database-downtime", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the reports here")
    return parser.parse_args(argv)


def with_stack(name: str, scenario):  # type: ignore[no-untyped-def]
    from testkit.stack import Stack

    with tempfile.TemporaryDirectory(prefix=f"assetsite-{name}-") as workdir:
        stack = Stack(Path(workdir), extra_env=FAULT_ENV)
        try:
            stack.start_backends()
            stack.start_site()
            stack.add_worker()
            stack.start_beat()
            return scenario(stack)
        finally:
            stack.close()


def table(rows: list[tuple[str, object]]) -> str:
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from testkit.faults import broker_outage, crash_rounds, database_restart

    args = parse_args(argv)
    wanted = args.only or ["crash", "broker", "database"]
    reports: dict[str, dict] = {}
    failed = False

    if "crash" in wanted:
        width, height = (int(part) for part in args.crash_size.split("x"))
        print(f"Worker crashes: {args.crash_rounds} × kill -9 in the middle of a task ...", flush=True)
        report = with_stack("crash", lambda stack: crash_rounds(
            stack, rounds=args.crash_rounds, extra_assets=args.crash_rounds, image_size=(width, height),
            main_kills=args.main_kills, timeout=900))
        print(table([
            ("kills in the middle of a task", f"{report.child_kills + report.main_kills} ({report.child_kills} pool "
                                              f"child, {report.main_kills} whole worker + restart)"),
            ("kills that came too late (task done, not counted)", report.missed_kills),
            ("assets", f"{report.assets} ({width}×{height} PNG)"),
            ("final states", report.statuses),
            ("attempts per asset", report.attempts),
            ("duplicated detections", report.duplicated_detections),
            ("most successful runs of one asset", report.successful_runs_max),
            ("time: uploads + kills", f"{report.kill_seconds:.0f} s"),
            ("time: until every message was settled", f"{report.seconds:.0f} s"),
            ("problems", report.problems or "none"),
        ]))
        reports["crash"] = asdict(report)
        failed |= bool(report.problems)

    if "broker" in wanted:
        print(f"\nBroker outage: Redis stopped for {args.outage_seconds:.0f} s during {args.broker_uploads} "
              "uploads ...", flush=True)
        report = with_stack("broker", lambda stack: broker_outage(
            stack, uploads=args.broker_uploads, outage_after=10, outage_seconds=args.outage_seconds,
            interval=0.2, timeout=600))
        print(table([
            ("uploads", report.uploads),
            ("accepted (201)", f"{report.accepted} ({report.accepted_during_outage} while Redis was down)"),
            ("refused with a clear 4xx", report.refused),
            ("errors (5xx or no answer)", report.errors),
            ("accepted and then tagged", report.tagged),
            ("slowest upload", f"{report.slowest_upload_s:.2f} s"),
            ("/health/ during / after", f"{report.health_during} / {report.health_after}"),
            ("from Redis back to everything tagged", f"{report.recovered_after_s:.0f} s"),
            ("problems", report.problems or "none"),
        ]))
        reports["broker"] = asdict(report)
        failed |= bool(report.problems)

    if "database" in wanted:
        print(f"\nDatabase restart: PostgreSQL down for {args.database_downtime:.0f} s during uploads ...", flush=True)
        report = with_stack("database", lambda stack: database_restart(
            stack, downtime_seconds=args.database_downtime, uploads_after=20, timeout=600))
        print(table([
            ("uploads accepted", report.accepted),
            ("answers while PostgreSQL was down", report.answers_during_downtime),
            ("first accepted upload after PostgreSQL was back", f"{report.first_success_after_s:.2f} s"),
            ("accepted and then tagged", report.tagged),
            ("slowest upload", f"{report.slowest_upload_s:.2f} s"),
            ("processes restarted by hand", report.restarted_processes),
            ("problems", report.problems or "none"),
        ]))
        reports["database"] = asdict(report)
        failed |= bool(report.problems)

    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, default=str))
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}: {'PROBLEMS FOUND' if failed else 'all scenarios passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
