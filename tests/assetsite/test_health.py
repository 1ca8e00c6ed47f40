"""Health endpoints report the real database and broker; JSON logs are parseable."""

from __future__ import annotations

import json
import logging

import pytest

from assetsite.logs import JsonFormatter

pytestmark = pytest.mark.django_db


def test_liveness_needs_nothing(client):
    response = client.get("/health/live/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_health_reports_database_and_broker(client, settings):
    settings.HEALTH_TOKEN = "monitor"
    body = client.get("/health/", HTTP_X_HEALTH_TOKEN="monitor").json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["status"] in ("ok", "degraded")


def test_health_is_503_when_the_broker_is_down(client, settings):
    from assetsite.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    settings.HEALTH_TOKEN = "monitor"
    try:
        response = client.get("/health/", HTTP_X_HEALTH_TOKEN="monitor")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["checks"]["broker"]["ok"] is False
    assert "error" in body["checks"]["broker"]


def test_json_log_lines_carry_extras_and_exceptions():
    record = logging.LogRecord("tagging", logging.ERROR, __file__, 1, "tagging %s failed", ("abc",), None)
    record.asset_id = "abc"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "tagging abc failed" and line["level"] == "ERROR"
    assert line["asset_id"] == "abc" and "ValueError: boom" in line["exception"]
