"""A live server for the tests that drive the site from outside (a browser, a generated API client)."""

from __future__ import annotations

import pytest


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
