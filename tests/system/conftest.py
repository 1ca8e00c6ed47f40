"""Helpers for tests through real processes: a live server for the tests that drive the site from
outside (a browser, a generated API client), a disposable stack (testkit/stack.py) per module, and HTTP
sessions that log in through the site's own login form."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from testkit.stack import Stack, missing_server_tools


@contextmanager
def running_stack(
    workdir: Path, *, env: dict[str, str], workers: tuple[str, ...] = (), collectstatic: bool = False
) -> Iterator[Stack]:
    """PostgreSQL, Redis and gunicorn (DEBUG=0) of their own, plus one worker per entry of ``workers``
    (its -Q queues). Skips where the machine lacks the servers."""
    missing = missing_server_tools()
    if missing:
        pytest.skip(f"this test starts its own servers and needs {', '.join(missing)}")
    stack = Stack(workdir, extra_env=env)
    try:
        stack.start_backends()
        if collectstatic:  # DEBUG=0 serves hashed files from the manifest, as the Docker image does
            stack.manage("collectstatic", "--noinput")
        stack.start_site()
        for queues in workers:
            stack.add_worker(queues=queues)
        yield stack
    finally:
        stack.close()


def make_user(stack: Stack, username: str, password: str, *, staff: bool = False) -> None:
    stack.python(
        "import sys\n"
        "from django.contrib.auth import get_user_model\n"
        "user, _ = get_user_model().objects.get_or_create(username=sys.argv[1])\n"
        "user.set_password(sys.argv[2]); user.is_staff = user.is_superuser = sys.argv[3] == '1'; user.save()\n",
        username, password, "1" if staff else "0",
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.fixture(scope="session")
def _plain_http():
    """Plain HTTP for the live server. Its middleware reads SECURE_SSL_REDIRECT once, when the
    (session-wide) server starts: before the per-test settings in conftest apply."""
    from django.test import override_settings

    override = override_settings(SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False)
    override.enable()
    yield
    override.disable()


@pytest.fixture(scope="session")
def live_server(_plain_http, live_server):  # pytest-django's, started after _plain_http
    return live_server


@pytest.fixture
def site(settings, worker, worker_media, live_server):
    """The live server, storing files where the worker reads them."""
    settings.MEDIA_ROOT = worker_media
    return live_server.url


# Debian's Chromium, never a downloaded browser.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium package (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still
    # plain synchronous calls, so Django's async-safety check must not refuse them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
