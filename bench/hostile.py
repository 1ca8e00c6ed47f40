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

Then the attacks of issue 13 that are about people, not files (``--attacks only`` runs just these,
``--attacks skip`` leaves them out): guessing a password and the cost of a refused guess, dodging
limits with a forged X-Forwarded-For, reading API keys out of the database, a webhook ping to a
receiver that never answers, and the Content-Security-Policy of the pages. Workers run as
docker-compose.yml runs them: one for detection, one for webhooks.

Then the attempts to stall the site for everyone (testkit/stall_attacks.py; ``--attacks stall`` runs
only these): a backtracking file-name pattern, a COCO import of 6,000 boxes on one asset (and one over
the per-asset cap), page actions repeated past their API twin's limit.
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
    parser.add_argument("--attacks", choices=("run", "only", "skip", "stall"), default="run",
                        help="the attacks after the corpus and requests (default), only them, or none; "
                        "stall: only the attempts to stall the site (testkit/stall_attacks.py)")
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


# --- attacks on people rather than files (issue 13: login guessing, proxies, tokens, webhooks, CSP) ----------

ATTACK_ENV = {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOK_TIMEOUT": "10"}
ATTACK_PASSWORD = "a-long-unusual-passphrase-42"


def _login(stack, username: str, password: str, forwarded: str = "") -> tuple[int, float, str]:
    """One login through the form; (status, seconds for the POST, page text)."""
    import re

    import requests

    session = requests.Session()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    form = session.get(stack.url("/accounts/login/"), headers=headers, timeout=30).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    started = time.perf_counter()
    answer = session.post(stack.url("/accounts/login/"), headers=headers, allow_redirects=False, timeout=60,
                          data={"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    return answer.status_code, time.perf_counter() - started, answer.text


def attacks(stack, detection_worker, webhook_worker, silent_port: int) -> tuple[list[list[str]], int]:
    """Runs each attack against the stack (its workers: detection only, webhooks only); returns the table's
    rows and how many attacks were not held off as expected. ``silent_port``: a free port the stack's
    WEBHOOK_ALLOWED_PORTS admits, for the receiver that never answers."""
    import glob
    import io
    import shutil
    import socket
    import statistics
    import subprocess

    import requests

    from testkit.shapes import three_shapes_scene
    from testkit.stack import wait_until

    rows: list[list[str]] = []
    failures = 0

    def row(name: str, outcome: str, figures: str, ok: bool) -> None:
        nonlocal failures
        failures += not ok
        rows.append([name, outcome, figures, "ok" if ok else "NOT AS EXPECTED"])

    stack.python(
        "from django.contrib.auth import get_user_model\n"
        "for name in ('victim', 'bystander'):\n"
        "    user, _ = get_user_model().objects.get_or_create(username=name)\n"
        f"    user.set_password({ATTACK_PASSWORD!r}); user.save()\n"
    )
    limit = 5  # LOGIN_FAILURE_LIMIT's default
    # 1. Guessing one user's password.
    tries = [_login(stack, "victim", f"guess{n}") for n in range(12)]
    statuses = [status for status, _, _ in tries]
    checked = [seconds for status, seconds, _ in tries if status == 200]
    refused = [seconds for status, seconds, _ in tries if status == 429]
    right, _, page = _login(stack, "victim", ATTACK_PASSWORD)
    ok = statuses == [200] * (limit - 1) + [429] * (12 - limit + 1) and right == 429 and "Try again after" in page
    row("12 password guesses for one user", f"{statuses.count(200)} checked, then 429 with the time to retry; "
        f"the right password too", f"checked guess {statistics.median(checked) * 1000:.0f} ms, refused "
        f"{statistics.median(refused) * 1000:.0f} ms (median)", ok)
    stack.manage("axes_reset_username", "victim")
    unlocked, _, _ = _login(stack, "victim", ATTACK_PASSWORD)
    row("staff unlock (manage.py axes_reset_username)", f"login answers {unlocked}", "", unlocked == 302)
    stack.manage("axes_reset")

    # 2. One address, many usernames, a new X-Forwarded-For each time.
    statuses = [_login(stack, f"nobody{n}", "guess", forwarded=f"10.{n}.0.1")[0] for n in range(22)]
    bystander, _, _ = _login(stack, "bystander", ATTACK_PASSWORD, forwarded="10.200.0.1")
    ok = statuses == [200] * 19 + [429] * 3 and bystander == 429
    row("22 guesses for 22 usernames, forged X-Forwarded-For", f"paused after {statuses.count(200) + 1} "
        "(LOGIN_FAILURE_LIMIT_PER_IP 20), for every username", "", ok)
    stack.manage("axes_reset")
    schema = [requests.get(stack.url("/api/schema/"), headers={"X-Forwarded-For": f"10.1.{n}.1"}, timeout=60)
              .status_code for n in range(62)]
    row("62 anonymous API requests, forged X-Forwarded-For", f"{schema.count(200)} answered, then 429",
        "API_THROTTLE_ANON 60/min", schema[:60] == [200] * 60 and schema[60:] == [429, 429])

    # 3. Reading API keys out of a copy of the database.
    keys = [stack.manage("create_token", "bystander", "--name", f"bench {n}").strip() for n in range(3)]
    works = all(requests.get(stack.url("/api/assets/"), headers={"Authorization": f"Token {key}"},
                             timeout=30).status_code == 200 for key in keys)
    tool = (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump")) or [shutil.which("pg_dump") or "pg_dump"])[-1]
    dump = subprocess.run([tool, "--data-only", stack.database_url], capture_output=True, text=True,
                          timeout=120).stdout
    found = sum(key in dump for key in keys)
    row("API keys in a pg_dump of the database", f"{found} of {len(keys)} working keys found",
        f"{human(len(dump))} dump searched", works and found == 0 and "integrations_apitoken" in dump)

    # 4. A webhook ping to a receiver that never answers, then an upload.
    token = keys[0]
    headers = {"Authorization": f"Token {token}"}
    port = silent_port
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", port))
        silent.listen(64)
        hook = requests.post(stack.url("/api/webhooks/"), headers=headers, timeout=30,
                             json={"url": f"http://127.0.0.1:{port}/hook", "events": ["asset.failed"]}).json()
        requests.post(stack.url(f"/api/webhooks/{hook['id']}/ping/"), headers=headers, timeout=30)
        wait_until(lambda: stack.query("SELECT COUNT(*) FROM integrations_webhookdelivery "
                                       "WHERE delivered_at IS NOT NULL AND event = 'webhook.ping'") == [(1,)],
                   timeout=30, what="the ping to start")
        buffer = io.BytesIO()
        three_shapes_scene(size=(480, 320), background=(220, 200, 180)).image.save(buffer, "PNG")
        started = time.perf_counter()
        asset = requests.post(stack.url("/api/assets/"), headers=headers, timeout=60,
                              files={"file": ("scene.png", buffer.getvalue(), "image/png")}).json()["id"]
        wait_until(lambda: stack.query("SELECT tagging_status FROM media_asset WHERE id::text = %s", (asset,))
                   == [("tagged",)], timeout=120, what="the upload to be tagged")
        tagged = time.perf_counter() - started
        wait_until(lambda: stack.query("SELECT duration_ms FROM integrations_webhookdelivery "
                                       "WHERE event = 'webhook.ping' AND duration_ms IS NOT NULL"),
                   timeout=90, what="the ping to time out")
        time.sleep(3)
    pings = stack.query("SELECT attempt, duration_ms, next_retry FROM integrations_webhookdelivery "
                        "WHERE event = 'webhook.ping'")
    ok = tagged < 8 and len(pings) == 1 and pings[0][2] is None
    # The webhook worker sent it; the detection worker never saw it ("Task <name>[<id>] received").
    ok = ok and "deliver_webhook[" in webhook_worker.log(10_000_000)
    ok = ok and "deliver_webhook[" not in detection_worker.log(10_000_000)
    row("webhook ping to a silent receiver, then an upload", f"upload tagged while the ping waited; ping "
        f"{len(pings)} attempt, not retried", f"tagged in {tagged:.1f} s; ping held the webhook worker "
        f"{pings[0][1] / 1000:.1f} s", ok)

    # 5. The pages' Content-Security-Policy (the browser check is tests/system/test_csp_browser.py).
    policies = {path: requests.get(stack.url(path), timeout=30).headers.get("Content-Security-Policy", "")
                for path in ("/accounts/login/", "/api/docs/", "/api/redoc/", "/admin/login/", "/health/live/")}
    strict = [path for path, policy in policies.items() if "script-src 'self';" in policy + ";"]
    row("Content-Security-Policy", f"{len(strict)} of {len(policies)} answers allow scripts from files only",
        "no 'unsafe-inline' or 'unsafe-eval' for scripts", len(strict) == len(policies))
    return rows, failures


def stall(stack, token: str) -> tuple[list[list[str]], int]:
    """The attempts to stall the site (testkit/stall_attacks.py) as table rows, and how many got through."""
    from testkit import stall_attacks

    rows = [*stall_attacks.filename_backtracking(stack, token), *stall_attacks.coco_boxes(stack, token),
            *stall_attacks.page_actions(stack)]
    failures = sum(not ok for *_, ok in rows)
    table = [[name, outcome, figures, "ok" if ok else "NOT AS EXPECTED"] for name, outcome, figures, ok in rows]
    return table, failures


def main(argv: list[str] | None = None) -> int:
    import requests

    from testkit import server_limits
    from testkit.hostile_corpus import hostile, odd_valid
    from testkit.stack import Stack, free_port, wait_until

    args = parse_args(argv)
    samples = [] if args.attacks in ("only", "stall") else [*hostile(), *odd_valid()]
    rows: list[list[str]] = []
    attack_rows: list[list[str]] = []
    cases: list = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="assetsite-hostile-") as workdir:
        # One web process, so that its peak memory is the request's.
        # The silent receiver's port is admitted; the other unusual ports stay refused (server_limits checks).
        silent_port = free_port()
        ports = {"WEBHOOK_ALLOWED_PORTS": f"80,443,8080,8443,{silent_port}"}
        env = {**server_limits.SERVER_LIMITS_ENV, **ATTACK_ENV, **ports}
        stack = Stack(Path(workdir), web_workers=1, extra_env=env)
        try:
            stack.start_backends()
            stack.manage("collectstatic", "--noinput")  # the pages, with DEBUG=0
            stack.start_site()
            worker = stack.add_worker(queues="detection,celery")  # as docker-compose.yml runs them
            webhook_worker = stack.add_worker(queues="webhooks")
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

            if args.attacks in ("only", "stall"):
                attack_rows, failures = ([], 0) if args.attacks == "stall" else attacks(
                    stack, worker, webhook_worker, silent_port)
                stall_rows, stall_failures = stall(stack, token)
                return report_attacks(attack_rows + stall_rows, failures + stall_failures, markdown=args.markdown)
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
            if args.attacks != "skip":
                attack_rows, attack_failures = attacks(stack, worker, webhook_worker, silent_port)
                stall_rows, stall_failures = stall(stack, token)
                attack_rows += stall_rows
                failures += attack_failures + stall_failures
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
    print(f"\n{len(cases)} hostile requests. \"peak MB\": what one request added to the web process's peak RSS, "
          "above the RSS it started with.\n")
    report_attacks(attack_rows, failures, markdown=args.markdown)
    return 1 if failures or not survived else 0


def report_attacks(attack_rows: list[list[str]], failures: int, *, markdown: bool) -> int:
    if attack_rows:
        print_table(["attack", "outcome", "figures", "check"], attack_rows, markdown=markdown)
    print(f"\n{len(attack_rows)} attacks; {failures} not as expected in all (files, requests and attacks).")
    return 1 if failures else 0


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
