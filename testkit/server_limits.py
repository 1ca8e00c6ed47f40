"""Hostile requests beyond the file corpus, against a disposable stack (testkit/stack.py): the worst legal
image (memory), decodes beyond the machine's slots, oversized and chunked JSON bodies, /health/ for a
stranger, webhook addresses that tunnel to private IPv4 hosts.

Each case returns Case rows with the status, the time and (for uploads) the memory the gunicorn worker
added; tests/system/test_server_limits.py asserts on them and bench/hostile.py prints them with the corpus.
The stack must run one gunicorn worker (``web_workers=1``) so that its memory is the request's, and
SERVER_LIMITS_ENV in its environment.
"""

from __future__ import annotations

import fcntl
import io
import json
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from testkit.stack import Stack, children_of

MAX_SIDE = 10_000  # 10000×10000 = the default ASSET_MAX_PIXELS, the largest legal image
HEALTH_TOKEN = "health-" + "m" * 30
SERVER_LIMITS_ENV = {
    "HEALTH_TOKEN": HEALTH_TOKEN,
    "HEALTH_WORKER_CACHE_SECONDS": "5",
    "ASSET_HEAVY_DECODE_SLOTS": "1",  # one, so the test can hold it
    "ASSET_DECODE_WAIT": "1",
}


@dataclass
class Case:
    name: str
    kind: str
    expected: str
    status: int | None
    code: str
    detail: str
    ms: float
    peak_mb: float | None = None  # what the request added to the gunicorn worker's peak RSS
    ok: bool = False


# --- helpers ----------------------------------------------------------------------------------------


def web_worker_pid(stack: Stack) -> int:
    assert stack.site is not None
    workers = children_of(stack.site.pid)
    assert len(workers) == 1, f"run the stack with web_workers=1 (found {workers})"
    return workers[0]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS (VmHWM) to its current RSS; returns that RSS in bytes."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kb(pid, "VmRSS") * 1024


def peak_added_mb(pid: int, before: int) -> float:
    return (_status_kb(pid, "VmHWM") * 1024 - before) / 2**20


def worst_png(mode: str = "RGB") -> bytes:
    """10000×10000 with two shapes: a few hundred KB that decode to 400 MB (RGB) or 200 MB (16-bit)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (MAX_SIDE, MAX_SIDE), (40, 120, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((1000, 1000, 4000, 4000), fill=(230, 200, 30))
    draw.ellipse((5000, 5000, 9000, 9000), fill=(200, 30, 60))
    if mode == "I;16":
        image = image.convert("L").convert("I").point(lambda value: value * 256).convert("I;16")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    image.close()
    return buffer.getvalue()


def flat_png(size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def post_file(stack: Stack, token: str, name: str, data: bytes, *, timeout: float = 120) -> tuple[requests.Response,
                                                                                                     float]:
    started = time.perf_counter()
    response = requests.post(stack.url("/api/assets/"), files={"file": (name, data, "application/octet-stream")},
                             headers={"Authorization": f"Token {token}"}, timeout=timeout)
    return response, (time.perf_counter() - started) * 1000


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:200]}
    return body if isinstance(body, dict) else {}


def raw_request(stack: Stack, head: str, body: bytes = b"", *, timeout: float = 15) -> tuple[int | None, dict[str, str],
                                                                                             bytes, float]:
    """Send ``head`` (request line and headers, no blank line) and ``body`` as they are; read the answer.

    Status None: no answer within ``timeout`` (the server is still waiting for the rest of the body)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", stack.web_port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not _complete(received):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    seconds = (time.perf_counter() - started) * 1000
    if not received.startswith(b"HTTP/"):
        return None, {}, b"", seconds
    header_block, _, payload = received.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if "chunked" in headers.get("transfer-encoding", ""):
        payload = _unchunk(payload)
    return int(lines[0].split()[1]), headers, payload, seconds


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2:]
    return out


def _complete(received: bytes) -> bool:
    header_block, _, payload = received.partition(b"\r\n\r\n")
    for line in header_block.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return len(payload) >= int(value.strip())
        if name.strip().lower() == "transfer-encoding" and "chunked" in value:
            return payload.endswith(b"0\r\n\r\n")
    return False


def _body(status: int | None, payload: bytes) -> dict:
    try:
        body = json.loads(payload) if status else {}
    except ValueError:
        return {"detail": payload[:100].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {}


def _chunks(data: bytes, size: int = 16 * 1024) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size]) for i in range(0, len(data), size))
    return out


# --- the cases --------------------------------------------------------------------------------------


def worst_legal_images(stack: Stack, token: str) -> list[Case]:
    """The largest legal PNGs (100 MP), RGB and 16-bit: accepted, and what they cost the web process."""
    pid = web_worker_pid(stack)
    post_file(stack, token, "warm-up.png", flat_png((640, 480)))  # imports and first-request costs
    cases = []
    for mode, name in (("RGB", "worst-rgb.png"), ("I;16", "worst-grey16.png")):
        data = worst_png(mode)
        before = reset_peak(pid)
        response, ms = post_file(stack, token, name, data)
        body = _json(response)
        ok = response.status_code == 201 and (body.get("width"), body.get("height")) == (MAX_SIDE, MAX_SIDE)
        cases.append(Case(name, f"10000×10000 {mode} PNG, {len(data) / 1024:.0f} KB", "201", response.status_code,
                          str(body.get("code", "")), str(body.get("detail", ""))[:100], ms,
                          peak_added_mb(pid, before), ok))
    return cases


def decode_slots_full(stack: Stack, token: str) -> list[Case]:
    """With every heavy-decode slot taken (here: held by this process), a large image waits
    ASSET_DECODE_WAIT and is answered 503 with Retry-After; a small one goes through; once the slot is
    free the large one is accepted."""
    lock_dir = stack.var_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    large, small = flat_png((5000, 4000)), flat_png((1600, 1200))
    cases = []
    with open(lock_dir / "decode-slot-0.lock", "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        response, ms = post_file(stack, token, "large-while-busy.png", large)
        body = _json(response)
        cases.append(Case("large-while-busy.png", "20 MP while the slots are taken", "503 server_busy + Retry-After",
                          response.status_code, str(body.get("code", "")), str(body.get("detail", ""))[:100], ms,
                          ok=response.status_code == 503 and body.get("code") == "server_busy"
                          and response.headers.get("Retry-After") == "5"))
        response, ms = post_file(stack, token, "small-while-busy.png", small)
        cases.append(Case("small-while-busy.png", "2 MP while the slots are taken", "201", response.status_code, "",
                          "", ms, ok=response.status_code == 201))
    response, ms = post_file(stack, token, "large-after.png", large)
    cases.append(Case("large-after.png", "20 MP once a slot is free", "201", response.status_code, "", "", ms,
                      ok=response.status_code == 201))
    return cases


def json_bodies(stack: Stack, token: str, asset_id: str, *, limit: int = 1024 * 1024) -> list[Case]:
    """A 30 MB JSON PATCH is refused before it is sent (the 413 arrives while the client has sent 1 KB);
    a chunked PATCH is read (it used to be read as empty); a chunked one over the limit is refused."""
    path = f"/api/assets/{asset_id}/"
    auth = f"Authorization: Token {token}\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
    cases = []
    declared = 30 * 1024 * 1024
    status, headers, payload, ms = raw_request(
        stack, f"PATCH {path} HTTP/1.1\r\n{auth}\r\nContent-Length: {declared}", b'{"title": "' + b"x" * 1000)
    body = _body(status, payload)
    cases.append(Case("patch-30mb.json", "30 MB declared, 1 KB sent", "413 too_large", status,
                      str(body.get("code", "")), str(body.get("detail", ""))[:100], ms,
                      ok=status == 413 and body.get("code") == "too_large"))

    title = "sent in chunks"
    status, headers, payload, ms = raw_request(
        stack, f"PATCH {path} HTTP/1.1\r\n{auth}\r\nTransfer-Encoding: chunked",
        _chunks(json.dumps({"title": title}).encode()) + b"0\r\n\r\n")
    body = _body(status, payload)
    cases.append(Case("patch-chunked.json", "chunked, 27 B", "200, title changed", status, "",
                      f"title now {body.get('title')!r}", ms, ok=status == 200 and body.get("title") == title))

    document = json.dumps({"images": [], "annotations": [], "categories": [], "info": {"pad": "z" * 3_000_000}})
    started = time.perf_counter()
    response = requests.post(stack.url("/api/import/coco/"), data=document, timeout=60,
                             headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    body = _json(response)
    cases.append(Case("import-3mb.coco.json", "3 MB COCO document", "200 (COCO_IMPORT_MAX_BYTES, not the API limit)",
                      response.status_code, str(body.get("code", "")), str(body.get("detail", ""))[:100],
                      (time.perf_counter() - started) * 1000, ok=response.status_code == 200))

    big = json.dumps({"title": "y" * (limit + 4096)}).encode()
    status, headers, payload, ms = raw_request(  # no final chunk: the server must not wait for it
        stack, f"PATCH {path} HTTP/1.1\r\n{auth}\r\nTransfer-Encoding: chunked", _chunks(big))
    body = _body(status, payload)
    cases.append(Case("patch-chunked-big.json", f"chunked, {len(big) / 2**20:.1f} MB", "413 too_large", status,
                      str(body.get("code", "")), str(body.get("detail", ""))[:100], ms,
                      ok=status == 413 and body.get("code") == "too_large"))
    return cases


def health_for_strangers(stack: Stack, *, requests_made: int = 20) -> Case:
    """Anonymous /health/ many times in a row: only the status, and fast (the worker check is cached)."""
    times, bodies, statuses = [], [], set()
    for _ in range(requests_made):
        started = time.perf_counter()
        response = requests.get(stack.url("/health/"), timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        bodies.append(response.content)
        statuses.add(response.status_code)
    parsed = [json.loads(body) for body in bodies]
    only_status = all(set(body) == {"status"} for body in parsed)
    leaked = [name for name in ("celery@", "postgres", "redis", "127.0.0.1") if any(name.encode() in body
                                                                                    for body in bodies)]
    slow = sorted(times)[-2]  # the second slowest: the first request may pay one ping
    return Case(f"GET /health/ ×{requests_made}", "anonymous", "status only, fast", max(statuses),
                parsed[-1].get("status", ""), f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms, "
                f"leaked {leaked or 'nothing'}", statistics.median(times),
                ok=only_status and not leaked and slow < 300 and len(statuses) == 1)


def health_for_monitors(stack: Stack, *, kind: str = "monitor") -> Case:
    started = time.perf_counter()
    response = requests.get(stack.url("/health/"), headers={"X-Health-Token": HEALTH_TOKEN}, timeout=30)
    ms = (time.perf_counter() - started) * 1000
    body = _json(response)
    checks = body.get("checks", {})
    workers = checks.get("workers", {})
    return Case("GET /health/ + X-Health-Token", kind, "details", response.status_code, str(body.get("status")),
                f"checks: {', '.join(checks)}; workers: {workers.get('count')}", ms,
                ok=set(checks) == {"database", "broker", "storage", "workers"})


WEBHOOK_TARGETS = [
    # url, what the refusal must name (None: accepted)
    ("http://[2002:7f00:1::]/hook", "6to4 for 127.0.0.1"),
    ("http://[2002:a9fe:a9fe::]/latest/meta-data/", "6to4 for 169.254.169.254"),
    ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "NAT64 for 169.254.169.254"),
    ("http://[::127.0.0.1]/hook", "IPv4-compatible for 127.0.0.1"),
    ("http://[::ffff:10.0.0.5]/hook", "IPv4-mapped for 10.0.0.5"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "Teredo"),
    ("http://[fec0::1]/hook", "site-local"),
    ("http://93.184.215.14:6379/", "Port 6379 is not open to webhooks"),
    ("http://93.184.215.14:25/", "Port 25 is not open to webhooks"),
    ("https://93.184.215.14/hook", None),
    ("http://[64:ff9b::5db8:d70e]:8080/hook", None),
]


def webhook_targets(stack: Stack, token: str) -> list[Case]:
    cases = []
    for url, named in WEBHOOK_TARGETS:
        started = time.perf_counter()
        response = requests.post(stack.url("/api/webhooks/"), json={"url": url},
                                 headers={"Authorization": f"Token {token}"}, timeout=30)
        ms = (time.perf_counter() - started) * 1000
        body = _json(response)
        if named is None:
            ok, expected = response.status_code == 201, "201"
        else:
            ok, expected = response.status_code == 400 and named in str(body.get("detail", "")), f"400 ({named})"
        cases.append(Case(url, "webhook URL", expected, response.status_code, str(body.get("code", "")),
                          str(body.get("detail", ""))[:100], ms, ok=ok))
    return cases
