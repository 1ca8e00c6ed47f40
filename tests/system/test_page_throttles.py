"""Page actions that make a worker busy (bulk re-tag, re-tag, webhook test delivery) are throttled
like their API twins, through the real server: the same rates, the same request history, a 429 page
that says when to try again (and Retry-After), and nothing done when refused."""

from __future__ import annotations

import re

import pytest
import requests
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import Webhook, WebhookDelivery
from media.models import Asset
from tests.conftest import token_key
from tests.factories import UserFactory
from tests.search.test_search import make_asset
from tests.system.conftest import csrf_of

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


@pytest.fixture
def low_rates(monkeypatch, fresh_throttle_history) -> dict[str, str]:
    # The live server runs in this process: its throttles read this dict (the API's rate settings).
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "retag": "3/min", "pings": "3/min", "bulk": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    return rates


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=30).text
    answer = session.post(f"{base}/accounts/login/", allow_redirects=False, timeout=30,
                          data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_of(form)})
    assert answer.status_code == 302, answer.text[:300]
    return session


def post_form(session: requests.Session, base: str, page: str, action: str, data: dict) -> requests.Response:
    csrf = csrf_of(session.get(f"{base}{page}", timeout=30).text)
    return session.post(f"{base}{action}", data={**data, "csrfmiddlewaretoken": csrf}, allow_redirects=False,
                        timeout=30, headers={"Referer": f"{base}{page}"})


def assert_refused_clearly(response: requests.Response, what: str) -> None:
    assert response.status_code == 429, response.text[:300]
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert what in response.text and re.search(rf"Try again in <strong>{seconds} seconds?</strong>", response.text)


@pytest.mark.django_db(transaction=True)
def test_retag_and_ping_pages_share_the_api_limit(live_server, low_rates, settings):
    base = live_server.url
    user = UserFactory(username="pat")
    asset = make_asset(user, "one.jpg", status="tagged")
    session = signed_in(base, "pat")
    page = f"/assets/{asset.pk}/"

    # Re-tag: two from the page, one from the API (the same history), then the page is refused.
    for _ in range(2):
        assert post_form(session, base, page, f"/assets/{asset.pk}/retag/", {}).status_code == 302
    api = requests.post(f"{base}/api/assets/{asset.pk}/retag/", timeout=30,
                        headers={"Authorization": f"Token {token_key(user)}"})
    assert api.status_code == 202
    Asset.objects.filter(pk=asset.pk).update(tagging_status="tagged")
    refused = post_form(session, base, page, f"/assets/{asset.pk}/retag/", {})
    assert_refused_clearly(refused, "re-tag images")
    assert Asset.objects.get(pk=asset.pk).tagging_status == "tagged"  # nothing queued
    api = requests.post(f"{base}/api/assets/{asset.pk}/retag/", timeout=30,
                        headers={"Authorization": f"Token {token_key(user)}"})
    assert api.status_code == 429  # and the page's requests counted for the API

    # Webhook test deliveries: three, then 429 and no fourth delivery.
    hook = Webhook.objects.create(owner=user, url="http://127.0.0.1:9/hook", secret="s", events=["asset.tagged"])
    hook_page = f"/integrations/webhooks/{hook.pk}/"
    for _ in range(3):
        assert post_form(session, base, hook_page, hook_page, {"action": "ping"}).status_code == 302
    refused = post_form(session, base, hook_page, hook_page, {"action": "ping"})
    assert_refused_clearly(refused, "send test deliveries")
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 3
    # Other actions on the page are not limited by it.
    assert post_form(session, base, hook_page, hook_page, {"action": "deactivate"}).status_code == 302

    # Another user has an allowance of their own.
    other = make_asset(UserFactory(username="sam"), "two.jpg")
    assert post_form(signed_in(base, "sam"), base, f"/assets/{other.pk}/", f"/assets/{other.pk}/retag/",
                     {}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_bulk_retag_page_shares_the_bulk_limit(live_server, low_rates):
    base = live_server.url
    user = UserFactory(username="pat")
    assets = [make_asset(user, f"{n}.jpg", status="tagged") for n in range(3)]
    session = signed_in(base, "pat")
    ids = [str(asset.pk) for asset in assets]
    for _ in range(2):  # API_THROTTLE_BULK, here 2/min
        answer = post_form(session, base, "/", "/assets/bulk/", {"action": "retag", "ids": ids})
        assert answer.status_code == 302, answer.text[:300]
    Asset.objects.filter(owner=user).update(tagging_status="tagged")
    refused = post_form(session, base, "/", "/assets/bulk/", {"action": "retag", "ids": ids})
    assert_refused_clearly(refused, "change many images at once")
    assert set(Asset.objects.filter(owner=user).values_list("tagging_status", flat=True)) == {"tagged"}
    api = requests.post(f"{base}/api/assets/bulk/", json={"action": "retag", "ids": ids}, timeout=30,
                        headers={"Authorization": f"Token {token_key(user)}"})
    assert api.status_code == 429
