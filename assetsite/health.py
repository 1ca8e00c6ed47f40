"""Health endpoints for load balancers, orchestrators and people.

``/health/live/``: the web process answers (no dependencies checked).
``/health/``: database, broker, file store and workers; 200 ``ok`` (or ``degraded``: no worker answered)
when the site can accept uploads, 503 ``down`` when the database, the broker or the file store (S3
HeadBucket, or the media folder) is unreachable. Uploads still
succeed while the broker is down (they are sent later), but that is reported as 503 for alerting.

Anyone gets ``{"status": ...}`` and nothing else. The details (database vendor, broker transport and
queue lengths, worker names, and error texts that can hold host and user names) go to signed-in staff
and to monitors that send ``X-Health-Token: <HEALTH_TOKEN>``.

The answer is fast: the database and broker checks are one round trip each; the worker check, a
broadcast ping that waits for replies, is shared through the cache for HEALTH_WORKER_CACHE_SECONDS.
For the plain status the ping stops at the first reply (``limit=1``); for the details, at as many
replies as last time. Only when a worker is missing does it wait its full timeout, and then once per
cache period, by one process, while the others answer from the last result.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from assetsite.storage import storage_check

TOKEN_HEADER = "X-Health-Token"
PING_TIMEOUT = 1.0
# Worker check results: one from a full ping (every worker's name), one from a ping that stopped at the
# first reply. Kept well past their freshness so that, while one process refreshes, the others can answer.
_FULL_KEY = "health:workers:full"
_FIRST_KEY = "health:workers:first"
_REFRESH_KEY = "health:workers:refreshing"
CENSUS_SECONDS = 60


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        details = check() or {}
        result: dict[str, Any] = {"ok": True, **details}
    except Exception as error:  # any failure of a dependency is reported, not raised
        result = {"ok": False, "error": f"{type(error).__name__}: {str(error)[:200]}"}
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _broker(*, lengths: bool) -> Callable[[], dict[str, Any]]:
    def check() -> dict[str, Any]:
        from assetsite.celery import app

        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
            queued: dict[str, int] = {}
            if lengths and conn.transport.driver_type == "redis":
                client = conn.default_channel.client
                names = (settings.TAGGING_QUEUE, settings.TAGGING_BULK_QUEUE, "celery")
                queued = {queue: int(client.llen(queue)) for queue in names}
        return {"transport": str(transport), "queued": queued}

    return check


def _file_queue() -> bool:
    return settings.CELERY_BROKER_URL.startswith("filesystem://")


def _ping(*, limit: int | None, names: bool) -> dict[str, Any]:
    from assetsite.celery import app

    if _file_queue():
        return {"count": None, "note": "worker ping needs a network broker such as Redis"}
    # With a limit the broadcast returns as soon as that many workers replied; without, after the timeout.
    replies = app.control.ping(timeout=PING_TIMEOUT, limit=limit) or []
    answered = sorted(name for reply in replies for name in reply)
    if not answered:
        raise RuntimeError(f"no worker answered a ping within {PING_TIMEOUT:g} s")
    return {"count": len(answered), "names": answered} if names else {"answered": True}


def _workers(*, every_name: bool) -> dict[str, Any]:
    """The worker check, from the cache when fresh; see the module docstring.

    For the details the ping waits for as many workers as answered last time (so it returns at once
    while they all live) and, every CENSUS_SECONDS, for its whole timeout, to count workers that joined.
    """
    fresh_for = settings.HEALTH_WORKER_CACHE_SECONDS
    now = time.time()
    keys = [_FULL_KEY] if every_name else [_FULL_KEY, _FIRST_KEY]
    known = cache.get_many(keys)
    for key in keys:  # a full result answers the plain question too
        if key in known and now - known[key]["checked_at"] < fresh_for:
            return known[key]
    key = keys[-1]
    if not cache.add(_REFRESH_KEY, True, timeout=int(PING_TIMEOUT) + 5) and key in known:
        return known[key]  # another process is pinging right now
    limit: int | None = 1
    census_at = now
    if every_name:
        previous = known.get(_FULL_KEY) or {}
        limit = None
        if previous.get("ok") and previous.get("count") and now - previous.get("census_at", 0) < CENSUS_SECONDS:
            limit, census_at = previous["count"], previous["census_at"]
    try:
        result = _timed(lambda: _ping(limit=limit, names=every_name))
    finally:
        cache.delete(_REFRESH_KEY)
    result["checked_at"] = now
    if every_name:
        result["census_at"] = census_at if result["ok"] else 0.0
    cache.set(key, result, timeout=max(60, 10 * fresh_for))
    return result


def sees_details(request: HttpRequest) -> bool:
    """Staff, or a monitor with the configured token."""
    token = settings.HEALTH_TOKEN
    sent = request.headers.get(TOKEN_HEADER, "")
    if token and sent and hmac.compare_digest(sent.encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    detailed = sees_details(request)
    checks = {"database": _timed(_database), "broker": _timed(_broker(lengths=detailed)),
              "storage": _timed(storage_check)}
    if checks["broker"]["ok"]:
        checks["workers"] = dict(_workers(every_name=detailed))
        checks["workers"]["age_s"] = round(time.time() - checks["workers"].pop("checked_at"), 1)
        checks["workers"].pop("census_at", None)
    else:
        checks["workers"] = {"ok": False, "error": "broker down"}
    essential = checks["database"]["ok"] and checks["broker"]["ok"] and checks["storage"]["ok"]
    status = "ok" if essential and checks["workers"]["ok"] else ("degraded" if essential else "down")
    body: dict[str, Any] = {"status": status, "checks": checks} if detailed else {"status": status}
    return JsonResponse(body, status=200 if essential else 503)
