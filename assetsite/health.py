"""Health endpoints for load balancers, orchestrators and people.

``/health/live/``: the web process answers (no dependencies checked).
``/health/``: database, broker, workers and queue lengths; 200 when the site can accept and
process uploads, 503 when the database or the broker is down. Uploads still succeed while the
broker is down (they are sent later), so this is "degraded", reported as 503 for alerting.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(check) -> dict[str, Any]:  # type: ignore[no-untyped-def]
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


def _broker() -> dict[str, Any]:
    from assetsite.celery import app

    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        transport = conn.transport_cls
        lengths: dict[str, int] = {}
        if conn.transport.driver_type == "redis":
            client = conn.default_channel.client
            lengths = {queue: int(client.llen(queue)) for queue in (settings.TAGGING_QUEUE, "celery")}
    return {"transport": str(transport), "queued": lengths}


def _workers() -> dict[str, Any]:
    from assetsite.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return {"count": None, "note": "worker ping needs a network broker such as Redis"}
    replies = app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"count": len(names), "names": names}


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    checks["workers"] = _timed(_workers) if checks["broker"]["ok"] else {"ok": False, "error": "broker down"}
    essential = checks["database"]["ok"] and checks["broker"]["ok"]
    status = "ok" if essential and checks["workers"]["ok"] else ("degraded" if essential else "down")
    return JsonResponse({"status": status, "checks": checks}, status=200 if essential else 503)
