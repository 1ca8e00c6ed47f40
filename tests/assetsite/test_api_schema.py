"""Schemathesis against /api/schema/: every operation, with generated inputs, never answers 5xx and
answers what the schema documents.

The schema is fetched from the running Django application (WSGI, in process) the way a client would
fetch it. Each generated request is sent as written, and once more with its path ids pointed at real
objects of the signed-in user, so handlers run past their 404s.
"""

from __future__ import annotations

import socket

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from integrations.services import webhook_create
from media.models import Asset
from media.services import asset_create
from tagging.boxes import Box, DetectedObject
from tagging.models import Detection
from tagging.services import RunInfo, detections_replace
from tests.conftest import token_key
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db

# Examples per operation and mode; about 1000 requests in all.
EXAMPLES = 12


@pytest.fixture
def web_app(db):
    # As Django's test client does: a finished request must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        # Made here, not imported: middleware reads settings when built, after the test's overrides.
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class World:
    """Real objects of the signed-in user; made again if a generated DELETE removed them."""

    def __init__(self, user) -> None:
        self.user = user
        self.token = token_key(user)

    def asset(self) -> Asset:
        asset = Asset.objects.filter(owner=self.user).first()
        if asset is None:
            asset = asset_create(owner=self.user, file=upload(image_bytes("PNG", size=(80, 60)), "fuzz.png")).asset
            detections_replace(
                asset_id=asset.pk,
                objects=[DetectedObject("dog", 0.9, Box(5, 5, 20, 20))],
                info=RunInfo(model_name="fuzz"),
            )
        return asset

    def ids(self) -> dict[str, str]:
        asset = self.asset()
        detection = Detection.objects.filter(asset__owner=self.user).first()
        webhook = self.user.webhooks.first() or webhook_create(owner=self.user, url="http://127.0.0.1:9/hook")
        return {
            "asset_id": str(asset.pk),
            "detection_id": str(detection.pk if detection else 1),
            "webhook_id": str(webhook.pk),
        }


@pytest.fixture
def world(user, settings, monkeypatch) -> World:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    # The handlers are under test, not the throttles (tests/review/test_api.py covers those).
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "100000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    real = socket.getaddrinfo

    def no_dns(host, *args, **kwargs):
        # Generated host names must not wait on a resolver; literal addresses still work.
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in str(host) else socket.AF_INET, str(host))
        except (OSError, ValueError):
            raise socket.gaierror(socket.EAI_NONAME, "no DNS in this test") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return World(user)


def real_path_parameters(case, ids: dict[str, str]) -> dict[str, str] | None:
    params = dict(case.path_parameters or {})
    if not params:
        return None
    for name in params:
        if name in ids:
            params[name] = ids[name]
        elif name == "id":
            params[name] = ids["webhook_id"] if case.path.startswith("/api/webhooks/") else ids["asset_id"]
    return params


# No 5xx, and every documented response matches its schema (what generated clients rely on).
CHECKS = [not_a_server_error, response_schema_conformance]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


def test_no_operation_answers_5xx(web_app, world):
    """Valid and invalid inputs for every operation; a 5xx anywhere fails with the request that caused it."""
    headers = {"Authorization": f"Token {world.token}"}
    failures: list[str] = []
    operations = [result.ok() for result in web_app.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]

    for operation in operations:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],  # report, don't shrink: keeps the run short
                suppress_health_check=list(HealthCheck),
            )
            def check(case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)
                params = real_path_parameters(case, world.ids())
                if params is not None:
                    case.path_parameters = params
                    case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                continue  # no invalid input can be written for this operation
            except Exception as error:  # noqa: BLE001 (collected and reported together)
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("url", ["/api/labels/", "/api/assets/", "/api/export/coco/"])
def test_image_format_with_a_percent_sign_is_a_400(api_client, url, monkeypatch):
    from django.core.cache.backends.locmem import LocMemCache
    from rest_framework.throttling import SimpleRateThrottle

    # The schema run above spends the export's bulk rate limit; start with no request history.
    monkeypatch.setattr(SimpleRateThrottle, "cache", LocMemCache(f"throttle-percent-{url}", {}))
    response = api_client.get(url, {"image_format": "50%"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_the_schema_generates_without_warnings(tmp_path):
    """Generators name enums from the schema: a collision (two choice sets under one field name) gives
    clients hashed names like Review720Enum, and `check --deploy` in CI fails on the warning."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
