"""Login lockout (django-axes with a limit per username and another per address), the lockout page, staff
unlocking, and the client address behind proxies (NUM_PROXIES) for the lockout and the API's throttles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.backends import ModelBackend
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from assetsite.clientip import client_ip
from assetsite.login_lockout import Lock, locks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; not under test here
    settings.LOGIN_FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 5
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", password=PASSWORD)


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """Usernames whose password was actually checked (hashed)."""
    checked: list[str] = []
    original = ModelBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counting)
    return checked


def login(username: str, password: str, *, ip: str = "198.51.100.7", path: str = "/accounts/login/", **headers):
    client = Client(REMOTE_ADDR=ip, **headers)
    return client, client.post(path, {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- per username ------------------------------------------------------------------------------------


def test_a_username_is_locked_after_the_limit_with_a_page_saying_when(alice, password_checks):
    for _ in range(2):
        _, response = login("alice", "wrong")
        assert response.status_code == 200 and b"did not match" in response.content
    _, locked = login("alice", "wrong")  # the third failure locks
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed logins" in page and "Logging in as <strong>alice</strong> is paused" in page
    assert "Try again after" in page and "in about 15 minutes" in page
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60

    checked_before = len(password_checks)
    client, refused = login("alice", PASSWORD)  # even the right password, from anywhere
    assert refused.status_code == 429 and not logged_in(client)
    client, elsewhere = login("alice", PASSWORD, ip="203.0.113.9")
    assert elsewhere.status_code == 429 and not logged_in(client)
    assert len(password_checks) == checked_before  # refused before any password hashing (no CPU to burn)


def test_other_users_are_not_affected_by_one_users_lockout(alice):
    UserFactory(username="bob", password=PASSWORD)
    for _ in range(3):
        login("alice", "wrong", ip="203.0.113.1")
    client, response = login("bob", PASSWORD, ip="203.0.113.2")
    assert response.status_code == 302 and logged_in(client)


def test_the_admin_login_is_locked_too(alice):
    alice.is_staff = True
    alice.save()
    for _ in range(3):
        _, response = login("alice", "wrong", path="/admin/login/")
    assert response.status_code == 429 and b"Try again after" in response.content
    client, refused = login("alice", PASSWORD, path="/admin/login/")
    assert refused.status_code == 429 and not logged_in(client)


def test_the_lockout_ends_after_the_window(alice):
    for _ in range(3):
        login("alice", "wrong")
    assert login("alice", PASSWORD)[1].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    client, response = login("alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


# --- per address -------------------------------------------------------------------------------------


def test_an_address_is_locked_after_its_own_higher_limit_across_usernames(alice, password_checks):
    for name in ("u1", "u2", "u3", "u4"):
        assert login(name, "guess", ip="192.0.2.50")[1].status_code == 200  # under every limit
    _, locked = login("u5", "guess", ip="192.0.2.50")
    assert locked.status_code == 429 and b"from your network is paused" in locked.content
    checked = len(password_checks)
    client, refused = login("alice", PASSWORD, ip="192.0.2.50")
    assert refused.status_code == 429 and not logged_in(client) and len(password_checks) == checked
    client, other_address = login("alice", PASSWORD, ip="192.0.2.51")
    assert other_address.status_code == 302 and logged_in(client)


def test_a_forged_x_forwarded_for_does_not_make_a_new_client(alice, settings):
    settings.NUM_PROXIES = 0
    for n in range(5):
        _, response = login(f"u{n}", "guess", ip="192.0.2.60", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.60"}


def test_behind_one_proxy_the_address_it_adds_counts_and_the_clients_claims_do_not(alice, settings):
    settings.NUM_PROXIES = 1
    for n in range(5):  # the client forges an entry; the proxy appends the real address last
        _, response = login(f"u{n}", "guess", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 192.0.2.70")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.70"}
    # Another client behind the same proxy is not locked out.
    client, response = login("alice", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.71")
    assert response.status_code == 302 and logged_in(client)


# --- unlocking -----------------------------------------------------------------------------------------


def test_staff_unlock_a_username_with_a_management_command(alice):
    for _ in range(3):
        login("alice", "wrong")
    assert login("alice", PASSWORD)[1].status_code == 429
    call_command("axes_reset_username", "alice")
    client, response = login("alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_staff_unlock_in_the_admin_by_deleting_the_attempts(alice, db):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(3):
        login("alice", "wrong")
    admin = Client()
    admin.force_login(staff)
    changelist = admin.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and b"alice" in changelist.content
    attempt = AccessAttempt.objects.get(username="alice")
    confirm = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert confirm.status_code == 302 and not AccessAttempt.objects.exists()
    client, response = login("alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_a_success_does_not_reset_the_addresss_count(alice):
    UserFactory(username="bob", password=PASSWORD)
    for n in range(4):
        login(f"u{n}", "guess", ip="192.0.2.80")
    assert login("bob", PASSWORD, ip="192.0.2.80")[1].status_code == 302  # one valid account...
    _, locked = login("u9", "guess", ip="192.0.2.80")  # ...does not buy an attacker more guesses
    assert locked.status_code == 429


# --- the arithmetic ------------------------------------------------------------------------------------


def test_locks_end_when_enough_failures_age_out(db):
    now = timezone.now()
    for minutes_ago, failures, agent in ((10, 2, "a"), (4, 1, "b")):
        attempt = AccessAttempt.objects.create(username="carol", ip_address="192.0.2.90", user_agent=agent,
                                               failures_since_start=failures)
        # attempt_time is set on creation (auto_now_add); the time of the latest failure is set like axes does.
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=now - timedelta(minutes=minutes_ago))
    # 3 failures: locked until the older row (10 minutes ago) is 15 minutes old.
    assert locks(username="carol", ip_address=None, now=now) == [Lock("username", now + timedelta(minutes=5))]
    assert locks(username="dave", ip_address="192.0.2.90", now=now) == []  # 3 < 5 per address
    assert locks(username="carol", ip_address=None, now=now + timedelta(minutes=5, seconds=1)) == []


def test_client_ip_trusts_only_the_configured_number_of_proxies(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2, 3.3.3.3")
    settings.NUM_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    settings.NUM_PROXIES = 1
    assert client_ip(request) == "3.3.3.3"
    settings.NUM_PROXIES = 2
    assert client_ip(request) == "2.2.2.2"
    settings.NUM_PROXIES = 9
    assert client_ip(request) == "1.1.1.1"
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"  # no header: the socket


@pytest.mark.usefixtures("fresh_throttle_history")
def test_the_apis_anonymous_throttle_cannot_be_dodged_with_x_forwarded_for(settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import AnonRateThrottle

    assert api_settings.NUM_PROXIES == settings.NUM_PROXIES == 0  # settings pass it to DRF
    AnonRateThrottle.THROTTLE_RATES = {**AnonRateThrottle.THROTTLE_RATES, "anon": "3/min"}
    try:
        # The schema is the API's one anonymous endpoint (others refuse anonymous clients before throttling).
        statuses = [Client(REMOTE_ADDR="192.0.2.99", HTTP_X_FORWARDED_FOR=f"10.1.1.{n}").get("/api/schema/").status_code
                    for n in range(5)]
    finally:
        AnonRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert statuses == [200, 200, 200, 429, 429]
