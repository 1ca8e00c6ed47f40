"""Guessing passwords, through the real server (gunicorn, DEBUG=0, PostgreSQL): /accounts/login/ and
/admin/login/ lock a username after LOGIN_FAILURE_LIMIT failures and an address after
LOGIN_FAILURE_LIMIT_PER_IP, answer a page that says when to try again, refuse locked attempts without
hashing a password (they cost a fraction of a checked one), and a forged X-Forwarded-For neither
escapes the lockout nor the API's anonymous throttle. Staff lift a lockout with a management command.
"""

from __future__ import annotations

import statistics
import time

import pytest
import requests

from tests.system.conftest import csrf_of, make_user, running_stack

pytestmark = [pytest.mark.stack]

PASSWORD = "a-long-unusual-passphrase-42"
ENV = {
    "LOGIN_FAILURE_LIMIT": "3",
    "LOGIN_FAILURE_LIMIT_PER_IP": "8",
    "LOGIN_LOCKOUT_MINUTES": "15",
    "API_THROTTLE_ANON": "5/min",
    "NUM_PROXIES": "0",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("lockout"), env=ENV, collectstatic=True) as stack:
        make_user(stack, "alice", PASSWORD)
        make_user(stack, "bob", PASSWORD)
        make_user(stack, "root", PASSWORD, staff=True)
        yield stack


@pytest.fixture(autouse=True)
def _no_lockouts(stack):
    """Each test starts with no failed logins recorded (every request comes from 127.0.0.1)."""
    stack.manage("axes_reset")


def attempt(stack, username: str, password: str, *, path: str = "/accounts/login/", forwarded: str = ""):
    """One login through the form, as a browser sends it; returns (answer, seconds, logged in)."""
    session = requests.Session()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    form = session.get(stack.url(path), headers=headers, timeout=30)
    started = time.perf_counter()
    answer = session.post(
        stack.url(path),
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf_of(form.text)},
        headers=headers,
        allow_redirects=False,
        timeout=60,
    )
    return answer, time.perf_counter() - started, "sessionid" in session.cookies


def test_a_username_is_locked_with_a_page_saying_when_and_locked_guesses_are_cheap(stack):
    checked = []
    for _ in range(2):
        answer, seconds, _ = attempt(stack, "alice", "wrong")
        assert answer.status_code == 200 and "did not match" in answer.text
        checked.append(seconds)
    locked, seconds, _ = attempt(stack, "alice", "wrong")
    checked.append(seconds)
    assert locked.status_code == 429, locked.text[:500]
    assert "Logging in as <strong>alice</strong> is paused" in locked.text and "Try again after" in locked.text
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60

    refused = []
    for _ in range(3):  # the right password, and from the admin's login too
        answer, seconds, logged_in = attempt(stack, "alice", PASSWORD)
        assert answer.status_code == 429 and not logged_in
        refused.append(seconds)
    answer, _, logged_in = attempt(stack, "alice", PASSWORD, path="/admin/login/")
    assert answer.status_code == 429 and not logged_in
    # A checked guess pays for PBKDF2; a locked one is refused before it. A ratio, not a time: the machine is shared.
    assert statistics.median(refused) < 0.5 * statistics.median(checked), (refused, checked)

    answer, _, logged_in = attempt(stack, "bob", PASSWORD)  # the lockout is alice's, not everyone's
    assert answer.status_code == 302 and logged_in


def test_the_admin_login_counts_and_locks_too(stack):
    for _ in range(3):
        answer, _, _ = attempt(stack, "root", "wrong", path="/admin/login/")
    assert answer.status_code == 429 and "Try again after" in answer.text
    answer, _, logged_in = attempt(stack, "root", PASSWORD, path="/admin/login/")
    assert answer.status_code == 429 and not logged_in


def test_staff_lift_a_lockout_with_a_command(stack):
    for _ in range(3):
        attempt(stack, "alice", "wrong")
    assert attempt(stack, "alice", PASSWORD)[0].status_code == 429
    stack.manage("axes_reset_username", "alice")
    answer, _, logged_in = attempt(stack, "alice", PASSWORD)
    assert answer.status_code == 302 and logged_in


def test_an_address_is_locked_across_usernames_whatever_x_forwarded_for_says(stack):
    statuses = [attempt(stack, f"nobody{n}", "guess", forwarded=f"10.20.30.{n}")[0].status_code for n in range(8)]
    assert statuses == [200] * 7 + [429]
    answer, _, logged_in = attempt(stack, "bob", PASSWORD, forwarded="10.99.99.99")
    assert answer.status_code == 429 and "from your network is paused" in answer.text and not logged_in


def test_the_apis_anonymous_throttle_cannot_be_dodged_with_x_forwarded_for(stack):
    statuses = [
        requests.get(stack.url("/api/schema/"), headers={"X-Forwarded-For": f"10.0.{n}.1"}, timeout=30).status_code
        for n in range(7)
    ]
    assert statuses == [200] * 5 + [429, 429]
