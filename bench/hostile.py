"""The hostile-input corpus and the hostile requests against the live stack; prints one table row each.

    .venv/bin/python bench/hostile.py
    .venv/bin/python bench/hostile.py --markdown > /tmp/hostile.md

A disposable stack (testkit/stack.py: private PostgreSQL and Redis, gunicorn with DEBUG=0 and one web
process, a Celery worker with the shipped shapes detector). Every file of testkit/hostile_corpus.py is
uploaded through the API over HTTP. Hostile files must get their 4xx, error code and message, and leave
no row and no file; odd-but-valid images must get 201 and then be tagged (the ones holding the shapes
scene with their three shapes found) by a worker that is still the same process at the end. Then the
requests of testkit/server_limits.py: the largest legal images, decodes beyond the machine's slots,
oversized and chunked JSON bodies, /health/ for strangers and monitors, webhook URLs that tunnel to
private hosts. Each row has its time and what it added to the web process's peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (default: aligned text)")
    return parser.parse_args(argv)


def human(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def shown_name(name: str) -> str:
    printable = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)
    return printable if len(printable) <= 34 else printable[:16] + "…" + printable[-10:] + f" ({len(name)} ch)"


def main(argv: list[str] | None = None) -> int:
    import requests

    from testkit import server_limits
    from testkit.hostile_corpus import hostile, odd_valid
    from testkit.stack import Stack, wait_until

    args = parse_args(argv)
    samples = [*hostile(), *odd_valid()]
    rows: list[list[str]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="assetsite-hostile-") as workdir:
        # One web process, so that its peak memory is the request's.
        stack = Stack(Path(workdir), web_workers=1, extra_env=server_limits.SERVER_LIMITS_ENV)
        try:
            stack.start_backends()
            stack.start_site()
            worker = stack.add_worker()
            pid = worker.pid
            web = server_limits.web_worker_pid(stack)
            token = stack.create_users("hostile")["hostile"]
            accepted: dict[str, int] = {}
            for index, sample in enumerate(samples):
                files_before = len(stack.stored_files())
                rows_before = stack.query("SELECT COUNT(*) FROM media_asset")[0][0]
                rss_before = server_limits.reset_peak(web)
                started = time.perf_counter()
                response = requests.post(stack.url("/api/assets/"),
                                         files={"file": (sample.name, sample.data, "image/jpeg")},
                                         headers={"Authorization": f"Token {token}"}, timeout=120)
                seconds = time.perf_counter() - started
                peak = server_limits.peak_added_mb(web, rss_before)
                body = response.json()
                code = str(body.get("code", ""))
                message = str(body.get("detail", ""))
                ok = response.status_code == sample.status
                if sample.hostile:
                    ok = ok and code == sample.code and sample.phrase in message.lower()
                    stored = len(stack.stored_files()) - files_before
                    new_rows = stack.query("SELECT COUNT(*) FROM media_asset")[0][0] - rows_before
                    ok = ok and stored == 0 and new_rows == 0
                    outcome = "refused, nothing stored" if ok else f"{new_rows} rows, {stored} files"
                else:
                    message = f"{body.get('width')}×{body.get('height')} {body.get('format')}, " \
                              f"name kept as {shown_name(str(body.get('filename')))}"
                    outcome = "accepted"
                    if response.status_code == 201:
                        accepted[body["id"]] = index
                failures += not ok
                rows.append([str(index + 1), shown_name(sample.name), sample.category, human(len(sample.data)),
                             str(response.status_code), code, message[:110], f"{seconds * 1000:.0f}",
                             f"{peak:.0f}", outcome, "ok" if ok else f"EXPECTED {sample.status} {sample.code}".strip()])

            def settled() -> bool:
                statuses = stack.query("SELECT tagging_status FROM media_asset WHERE id::text = ANY(%s)",
                                       (list(accepted),))
                return all(status in ("tagged", "failed") for (status,) in statuses)

            wait_until(settled, timeout=300, interval=0.5, what="the valid images to be tagged")
            for asset_id, index in accepted.items():
                status = stack.query("SELECT tagging_status FROM media_asset WHERE id::text = %s", (asset_id,))[0][0]
                labels = sorted(label for (label,) in stack.query(
                    "SELECT l.name FROM tagging_assettag t JOIN tagging_label l ON l.id = t.label_id "
                    "WHERE t.asset_id::text = %s", (asset_id,)))
                wanted = {"circle", "square", "triangle"} if "shapes" in samples[index].note else set()
                ok = status == "tagged" and wanted <= set(labels)
                rows[index][9] = f"{status}: {', '.join(labels) or 'no objects'}"
                if not ok:
                    failures += 1
                    rows[index][10] = "NOT TAGGED AS EXPECTED"
            survived = worker.running() and worker.pid == pid and "exited with" not in worker.log(10_000_000)

            cases = [
                *server_limits.worst_legal_images(stack, token),
                *server_limits.decode_slots_full(stack, token),
                *server_limits.json_bodies(stack, token, next(iter(accepted))),
                server_limits.health_for_strangers(stack),
                server_limits.health_for_monitors(stack, kind="monitor, first call (counts the workers)"),
            ]
            time.sleep(float(server_limits.SERVER_LIMITS_ENV["HEALTH_WORKER_CACHE_SECONDS"]) + 0.5)
            cases += [
                server_limits.health_for_monitors(stack, kind="monitor, after the cache expired"),
                *server_limits.webhook_targets(stack, token),
            ]
            failures += sum(not case.ok for case in cases)
        finally:
            stack.close()

    header = ["#", "file", "kind", "size", "status", "code", "message", "ms", "peak MB", "outcome", "check"]
    print_table(header, rows, markdown=args.markdown)
    hostile_count = sum(sample.hostile for sample in samples)
    print(f"\n{hostile_count} hostile files, {len(samples) - hostile_count} odd-but-valid images; worker process "
          f"{'survived' if survived else 'DIED'}.\n")
    case_rows = [[str(number), case.name, case.kind, case.expected, str(case.status), case.code, case.detail[:90],
                  f"{case.ms:.0f}", "" if case.peak_mb is None else f"{case.peak_mb:.0f}",
                  "ok" if case.ok else "NOT AS EXPECTED"] for number, case in enumerate(cases, 1)]
    print_table(["#", "request", "kind", "expected", "status", "code", "detail", "ms", "peak MB", "check"], case_rows,
                markdown=args.markdown)
    print(f"\n{len(cases)} hostile requests; {failures} not as expected in all (files and requests). \"peak MB\": "
          "what one request added to the web process's peak RSS, above the RSS it started with.")
    return 1 if failures or not survived else 0


def print_table(header: list[str], rows: list[list[str]], *, markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))


if __name__ == "__main__":
    sys.exit(main())
