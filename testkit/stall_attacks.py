"""Attacks of issue 13 that try to stall the site for everyone, against a disposable stack
(testkit/stack.py, one gunicorn worker, a worker serving ``detection,celery``): a backtracking file-name
pattern, a COCO import of 6,000 boxes on one asset, and page actions repeated past their API twin's
limit. Each returns table rows ``[attack, outcome, figures, check]``; bench/hostile.py prints them
(``--attacks stall`` runs only these) and the tests assert the same things at a smaller size.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import requests

from testkit.server_limits import peak_added_mb, reset_peak, web_worker_pid
from testkit.stack import Stack, wait_until

PATHOLOGICAL = "*a*a*a*a*a*a*a*a*a*b"
PASSWORD = "stall-attacks-passphrase-42"
Row = list[Any]  # [attack, outcome, figures, held off as expected (bool)]


def boxes_document(count: int, *, file_name: str = "crowd.png", side: int = 2000) -> dict[str, Any]:
    """``count`` boxes of three labels on one ``side``×``side`` image: a dense grid, neighbours overlapping."""
    per_row = max(1, (side - 40) // 24)
    annotations = []
    for n in range(count):
        row, column = divmod(n, per_row)
        annotations.append({"id": n + 1, "image_id": 1, "category_id": 1 + n % 3,
                            "bbox": [column * 24 % (side - 40), row * 24 % (side - 40), 30 + n % 7, 30 + n % 5]})
    return {
        "images": [{"id": 1, "file_name": file_name, "width": side, "height": side}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": annotations,
    }


def _png(size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, "PNG")
    return buffer.getvalue()


def _timed(call: Any, web: int) -> tuple[requests.Response, float, float]:
    before = reset_peak(web)
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started, peak_added_mb(web, before)


def filename_backtracking(stack: Stack, token: str) -> list[Row]:
    web = web_worker_pid(stack)
    headers = {"Authorization": f"Token {token}"}
    for width, name in ((40, "a" * 40), (41, "a" * 39 + "b")):  # different pictures: not duplicates
        requests.post(stack.url("/api/assets/"), headers=headers, timeout=60,
                      files={"file": (name, _png((width, 30)), "image/png")}).raise_for_status()
    rows: list[Row] = []
    for label, params in (("filename:", {"q": f"filename:{PATHOLOGICAL}"}), ("?filename=", {"filename": PATHOLOGICAL})):
        response, seconds, peak = _timed(lambda p=params: requests.get(stack.url("/api/assets/"), params=p,
                                                                       headers=headers, timeout=120), web)
        names = [item["filename"] for item in response.json().get("results", [])] if response.ok else []
        ok = response.status_code == 200 and names == ["a" * 39 + "b"]
        rows.append([f"{label}{PATHOLOGICAL} against a name of 40 a's", f"{response.status_code}, the one match "
                     "(an escaped LIKE, no backtracking)", f"{seconds * 1000:.0f} ms, +{peak:.0f} MB", ok])
    too_long = requests.get(stack.url("/api/assets/"), params={"filename": "*a" * 200}, headers=headers, timeout=60)
    rows.append(["?filename= of 400 characters", f"{too_long.status_code} naming the 255-character cap",
                 "", too_long.status_code == 400 and "255" in too_long.text])
    return rows


def coco_boxes(stack: Stack, token: str, *, boxes: int = 6000) -> list[Row]:
    web = web_worker_pid(stack)
    headers = {"Authorization": f"Token {token}"}
    requests.post(stack.url("/api/assets/"), headers=headers, timeout=120,
                  files={"file": ("crowd.png", _png((2000, 2000)), "image/png")}).raise_for_status()
    rows: list[Row] = []
    small = boxes_document(1000)  # COCO_IMPORT_BACKGROUND_ANNOTATIONS: written in the request
    response, seconds, peak = _timed(lambda: requests.post(stack.url("/api/import/coco/"), json=small,
                                                           headers=headers, timeout=300), web)
    ok = response.status_code == 200 and response.json().get("created") == 1000
    rows.append(["COCO import, 1,000 boxes on one asset (in the request)", f"{response.status_code}, "
                 f"{response.json().get('created')} created", f"{seconds:.2f} s, +{peak:.0f} MB", ok])
    document = boxes_document(boxes)
    for annotation in document["annotations"]:
        annotation["bbox"][0] += 12  # not duplicates of the first import
    response, seconds, peak = _timed(lambda: requests.post(stack.url("/api/import/coco/"), json=document,
                                                           headers=headers, timeout=300), web)
    job_url = response.headers.get("Location", "")
    started = time.perf_counter()
    job: dict[str, Any] = {}
    if response.status_code == 202:
        def finished() -> bool:
            nonlocal job
            job = requests.get(stack.url(job_url), headers=headers, timeout=30).json()
            return job["state"] in ("done", "failed")

        wait_until(finished, timeout=300, interval=0.25, what="the COCO import job")
    written = time.perf_counter() - started
    result = job.get("result") or {}
    ok = response.status_code == 202 and job.get("state") == "done" and result.get("created") == boxes
    rows.append([f"COCO import, {boxes:,} more boxes on the same asset", f"{response.status_code} + Location, "
                 f"job {job.get('state')}: {result.get('created')} created by the worker", f"request {seconds:.2f} s "
                 f"(+{peak:.0f} MB), worker {written:.1f} s (was 41 s in the request)", ok])
    over = boxes_document(12_000)
    for annotation in over["annotations"]:
        annotation["bbox"][1] += 12
    response, seconds, _ = _timed(lambda: requests.post(stack.url("/api/import/coco/"), json=over, headers=headers,
                                                        timeout=300), web)
    code = response.json().get("code") if response.headers.get("Content-Type", "").startswith("application/json") \
        else ""
    rows.append(["COCO import, 12,000 boxes on one asset", f"{response.status_code} {code}: over "
                 "COCO_IMPORT_MAX_BOXES_PER_ASSET (10,000), nothing written", f"{seconds:.2f} s",
                 response.status_code == 400 and code == "too_many_boxes"])
    return rows


def _session(stack: Stack, username: str) -> requests.Session:
    stack.python(
        "import sys\nfrom django.contrib.auth import get_user_model\n"
        "user, _ = get_user_model().objects.get_or_create(username=sys.argv[1])\n"
        "user.set_password(sys.argv[2]); user.save()\n", username, PASSWORD)
    session = requests.Session()
    form = session.get(stack.url("/accounts/login/"), timeout=30).text
    session.post(stack.url("/accounts/login/"), allow_redirects=False, timeout=60,
                 data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(form)})
    return session


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _repeat(session: requests.Session, stack: Stack, page: str, action: str, data: dict[str, Any],
            times: int) -> tuple[list[int], str, float]:
    csrf = _csrf(session.get(stack.url(page), timeout=30).text)
    statuses: list[int] = []
    retry = ""
    started = time.perf_counter()
    for _ in range(times):
        answer = session.post(stack.url(action), data={**data, "csrfmiddlewaretoken": csrf}, allow_redirects=False,
                              timeout=60, headers={"Referer": stack.url(page)})
        statuses.append(answer.status_code)
        retry = answer.headers.get("Retry-After", retry)
    return statuses, retry, (time.perf_counter() - started) / times


def page_actions(stack: Stack) -> list[Row]:
    token = stack.create_users("clicker")["clicker"]  # before the password: create_users makes it unusable
    session = _session(stack, "clicker")
    headers = {"Authorization": f"Token {token}"}
    asset = requests.post(stack.url("/api/assets/"), headers=headers, timeout=60,
                          files={"file": ("one.png", _png((64, 48)), "image/png")}).json()["id"]
    # A loopback receiver: the stack must allow private targets (bench/hostile.py's ATTACK_ENV does).
    hook = requests.post(stack.url("/api/webhooks/"), headers=headers, timeout=30,
                         json={"url": "http://127.0.0.1:8080/hook", "events": ["asset.tagged"]}).json()["id"]
    rows: list[Row] = []
    for name, page, action, data, limit, setting in (
        ("bulk re-tag from the library page", "/", "/assets/bulk/", {"action": "retag", "ids": [asset]}, 60,
         "API_THROTTLE_BULK 60/min"),
        ("re-tag from the asset page", f"/assets/{asset}/", f"/assets/{asset}/retag/", {}, 30,
         "API_THROTTLE_RETAG 30/min"),
        ("webhook test delivery from its page", f"/integrations/webhooks/{hook}/", f"/integrations/webhooks/{hook}/",
         {"action": "ping"}, 10, "API_THROTTLE_PINGS 10/min"),
    ):
        statuses, retry, each = _repeat(session, stack, page, action, data, limit + 2)
        ok = statuses == [302] * limit + [429, 429] and retry.isdigit()
        rows.append([f"{limit + 2} × {name}", f"{statuses.count(302)} done, then 429 with Retry-After {retry} s",
                     f"{setting}, shared with the API; {each * 1000:.0f} ms per request", ok])
    api = requests.post(stack.url(f"/api/webhooks/{hook}/ping/"), headers=headers, timeout=30)
    rows.append(["the API twin after the page's pings", f"{api.status_code} (the same request history)", "",
                 api.status_code == 429])
    return rows
