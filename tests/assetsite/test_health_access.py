"""/health/: anyone gets ok/degraded/down and nothing else; staff and the monitoring token get details;
the worker ping is cached and stops at the first reply. tests/system/test_server_limits.py checks the same
against gunicorn and a real worker."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from assetsite import health
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_worker_check():
    keys = [health._FULL_KEY, health._FIRST_KEY, health._REFRESH_KEY]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def pings(monkeypatch, settings):
    """The broadcast ping, counted: every call's limit, answered by two workers (or none)."""
    from assetsite.celery import app

    monkeypatch.setattr(health, "_file_queue", lambda: False)  # with the file queue there is no ping to test
    calls: list[int | None] = []
    state = {"workers": ["celery@web-1", "celery@gpu-7"]}

    def ping(timeout=1.0, limit=None, **kwargs):
        calls.append(limit)
        names = state["workers"][: limit or None]
        return [{name: {"ok": "pong"}} for name in names]

    monkeypatch.setattr(app.control, "ping", ping)
    calls_state = type("Pings", (), {"calls": calls, "state": state})
    return calls_state


def test_anyone_gets_the_status_alone(client, pings):
    response = client.get("/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_a_stranger_learns_nothing_from_a_down_broker(client, pings, settings):
    from assetsite.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://db-admin:hunter2@10.1.2.3:9/0"
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503 and response.json() == {"status": "down"}
    assert b"10.1.2.3" not in response.content and b"hunter2" not in response.content


def test_the_monitoring_token_gets_the_details(client, pings, settings):
    settings.HEALTH_TOKEN = "s3cret-monitor"
    body = client.get("/health/", HTTP_X_HEALTH_TOKEN="s3cret-monitor").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert set(body["checks"]["broker"]["queued"]) == {"detection", "detection-bulk", "celery"}
    assert body["checks"]["workers"]["names"] == ["celery@gpu-7", "celery@web-1"]
    for wrong in ("s3cret-monitoR", "", "s3cret-monitor "):
        assert client.get("/health/", HTTP_X_HEALTH_TOKEN=wrong).json() == {"status": "ok"}


def test_without_a_configured_token_no_header_opens_the_details(client, pings, settings):
    settings.HEALTH_TOKEN = ""
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN="").json() == {"status": "ok"}


def test_staff_get_the_details_and_other_users_do_not(client, pings):
    client.force_login(UserFactory(username="someone"))
    assert client.get("/health/").json() == {"status": "ok"}
    client.force_login(UserFactory(username="operator", is_staff=True))
    assert client.get("/health/").json()["checks"]["workers"]["count"] == 2


def test_the_plain_ping_stops_at_the_first_reply_and_is_cached(client, pings, settings):
    settings.HEALTH_WORKER_CACHE_SECONDS = 0.5
    for _ in range(5):
        assert client.get("/health/").json() == {"status": "ok"}
    assert pings.calls == [1]
    time.sleep(0.6)
    client.get("/health/")
    assert pings.calls == [1, 1]


def test_details_ping_every_worker_and_also_answer_the_plain_question(client, pings, settings):
    settings.HEALTH_TOKEN = "t"
    settings.HEALTH_WORKER_CACHE_SECONDS = 30
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN="t").json()["checks"]["workers"]["count"] == 2
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN="t").json()["checks"]["workers"]["age_s"] >= 0
    assert client.get("/health/").json() == {"status": "ok"}
    assert pings.calls == [None]


def test_details_wait_for_as_many_workers_as_last_time_and_count_afresh_every_minute(client, pings, settings,
                                                                                     monkeypatch):
    settings.HEALTH_TOKEN = "t"
    settings.HEALTH_WORKER_CACHE_SECONDS = 0
    details = lambda: client.get("/health/", HTTP_X_HEALTH_TOKEN="t").json()["checks"]["workers"]  # noqa: E731
    assert details()["count"] == 2
    assert details()["count"] == 2 and pings.calls == [None, 2]  # returns as soon as both answered
    pings.state["workers"] = ["celery@web-1"]
    assert details()["count"] == 1 and pings.calls[-1] == 2  # one missing: the ping waited its timeout
    pings.state["workers"] = ["celery@web-1", "celery@gpu-7", "celery@new-3"]
    assert details()["count"] == 1  # a new worker is not looked for at once...
    monkeypatch.setattr(health, "CENSUS_SECONDS", 0)
    assert details()["count"] == 3 and pings.calls[-1] is None  # ...but at the next census


def test_no_worker_is_degraded_and_the_wait_is_paid_once_per_period(client, pings, settings):
    settings.HEALTH_TOKEN = "t"
    settings.HEALTH_WORKER_CACHE_SECONDS = 30
    pings.state["workers"] = []
    assert client.get("/health/").json() == {"status": "degraded"}
    assert client.get("/health/").status_code == 200
    assert pings.calls == [1]
    details = client.get("/health/", HTTP_X_HEALTH_TOKEN="t").json()["checks"]["workers"]
    assert details["ok"] is False and "no worker answered" in details["error"]


def test_while_one_process_refreshes_the_others_answer_from_the_last_result(client, pings, settings):
    settings.HEALTH_WORKER_CACHE_SECONDS = 1
    stale = {"ok": False, "error": "RuntimeError: no worker", "latency_ms": 1000.0, "checked_at": time.time() - 60}
    cache.set(health._FIRST_KEY, stale, 60)
    cache.add(health._REFRESH_KEY, True, 10)
    assert client.get("/health/").json() == {"status": "degraded"}
    assert pings.calls == []
    cache.delete(health._REFRESH_KEY)
    assert client.get("/health/").json() == {"status": "ok"}
    assert pings.calls == [1]
