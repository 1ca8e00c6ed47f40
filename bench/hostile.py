"""The hostile-input corpus against the live stack; prints one table row per file.

    .venv/bin/python bench/hostile.py
    .venv/bin/python bench/hostile.py --markdown > /tmp/hostile.md

A disposable stack (testkit/stack.py: private PostgreSQL and Redis, gunicorn with DEBUG=0, a Celery
worker with the shipped shapes detector). Every file of testkit/hostile_corpus.py is uploaded through
the API over HTTP. Hostile files must get their 4xx, error code and message, and leave no row and no
file; odd-but-valid images must get 201 and then be tagged (the ones holding the shapes scene with
their three shapes found) by a worker that is still the same process at the end.
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

    from testkit.hostile_corpus import hostile, odd_valid
    from testkit.stack import Stack, wait_until

    args = parse_args(argv)
    samples = [*hostile(), *odd_valid()]
    rows: list[list[str]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="assetsite-hostile-") as workdir:
        stack = Stack(Path(workdir))
        try:
            stack.start_backends()
            stack.start_site()
            worker = stack.add_worker()
            pid = worker.pid
            token = stack.create_users("hostile")["hostile"]
            accepted: dict[str, int] = {}
            for index, sample in enumerate(samples):
                files_before = len(stack.stored_files())
                rows_before = stack.query("SELECT COUNT(*) FROM media_asset")[0][0]
                started = time.perf_counter()
                response = requests.post(stack.url("/api/assets/"),
                                         files={"file": (sample.name, sample.data, "image/jpeg")},
                                         headers={"Authorization": f"Token {token}"}, timeout=120)
                seconds = time.perf_counter() - started
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
                             str(response.status_code), code, message[:110], f"{seconds * 1000:.0f}", outcome,
                             "ok" if ok else f"EXPECTED {sample.status} {sample.code}".strip()])

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
                rows[index][8] = f"{status}: {', '.join(labels) or 'no objects'}"
                if not ok:
                    failures += 1
                    rows[index][9] = "NOT TAGGED AS EXPECTED"
            survived = worker.running() and worker.pid == pid and "exited with" not in worker.log(10_000_000)
        finally:
            stack.close()

    header = ["#", "file", "kind", "size", "status", "code", "message", "ms", "outcome", "check"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
    hostile_count = sum(sample.hostile for sample in samples)
    print(f"\n{hostile_count} hostile files, {len(samples) - hostile_count} odd-but-valid images; "
          f"{failures} not as expected; worker process {'survived' if survived else 'DIED'}.")
    return 1 if failures or not survived else 0


if __name__ == "__main__":
    sys.exit(main())
