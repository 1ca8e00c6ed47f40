from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from testkit.worker_process import celery_worker, purge_queues
from tests.factories import UserFactory

FIXTURES = Path(__file__).parent / "fixtures"
SHAPES_CHECKPOINT = FIXTURES / "shapes_detector.pt"


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path: Path) -> None:
    """Every test gets its own storage root and uses the shipped shapes detector on the CPU."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TAGGING_MODEL = str(SHAPES_CHECKPOINT)
    settings.TAGGING_DEVICE = "cpu"
    settings.TAGGING_ALLOW_DOWNLOAD = False
    settings.TAGGING_WEIGHTS_DIR = tmp_path / "weights"
    settings.SECURE_SSL_REDIRECT = False
    # Test receivers listen on loopback on random ports; the port list has tests of its own.
    settings.WEBHOOK_ALLOWED_PORTS = None
    # No collectstatic in tests: serve static files straight from the source folders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="mallory")


def token_key(user) -> str:
    """A new real API token of ``user`` (hashed in the database, as every token is); returns its key."""
    from integrations.services import token_create

    return token_create(user=user, name="test")[1]


def token_client(user) -> APIClient:
    """An API client that authenticates as ``user`` with a real token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_key(user)}")
    return client


@pytest.fixture
def api_client(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def other_api_client(other_user) -> APIClient:
    return token_client(other_user)


@pytest.fixture
def web_client(client, user):
    client.force_login(user)
    return client


def stored_files(root: Path) -> list[Path]:
    return [path for path in Path(root).rglob("*") if path.is_file()] if Path(root).exists() else []


@pytest.fixture(scope="module")
def worker_media(tmp_path_factory) -> Path:
    """Where a module's real worker process reads and writes media (point MEDIA_ROOT here)."""
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, worker_media):
    """A real Celery worker process for the module, on the test database and broker, queues emptied first."""
    with django_db_blocker.unblock():
        purge_queues()
        with celery_worker(worker_media) as process:
            yield process


@pytest.fixture
def fresh_throttle_history(monkeypatch) -> None:
    """No request history: rate limits (bulk actions, imports) must not carry over between tests."""
    from django.core.cache.backends.locmem import LocMemCache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "cache", LocMemCache(f"throttle-{id(monkeypatch)}", {}))


@pytest.fixture
def eager():
    """Celery tasks run in the calling process; failures are read from the database, not raised."""
    from assetsite.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def sent(monkeypatch) -> list[list]:
    """Detection tasks that would have gone to the broker (their args)."""
    from tagging import tasks

    messages = SentMessages()
    monkeypatch.setattr(tasks.detect_objects, "apply_async", lambda args=None, **kw: messages.append(args))
    monkeypatch.setattr(tasks.tag_next, "apply_async", lambda args=None, **kw: messages.tokens.append(args))
    return messages


class SentMessages(list):  # type: ignore[type-arg]
    """Fresh-lane messages (asset ids); ``tokens`` holds the bulk lane's."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[list] = []


@pytest.fixture
def tagged(user):
    """The user's asset with a dog (0.9) and a cat (0.7)."""
    from tagging.boxes import Box
    from tests.tagged_assets import make_asset, tag

    asset = make_asset(user)
    tag(asset, ("dog", 0.9, Box(10, 10, 50, 40)), ("cat", 0.7, Box(100, 20, 30, 30)))
    return asset


@pytest.fixture
def foreign(other_user):
    """Another user's asset with a car."""
    from tagging.boxes import Box
    from tests.tagged_assets import make_asset, tag

    asset = make_asset(other_user, color=(99, 1, 1), name="secret.png")
    tag(asset, ("car", 0.8, Box(1, 1, 20, 20)))
    return asset


# --- object storage (SeaweedFS on loopback; testkit/s3.py) ----------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """One ``weed server -s3`` for the session, on free loopback ports; skipped (with the reason) only
    where the weed binary cannot run."""
    from testkit.s3 import S3Server, weed_unusable_reason

    workdir = tmp_path_factory.mktemp("weed")
    reason = weed_unusable_reason(workdir)
    if reason:
        print(f"S3 tests skipped: {reason}")
        pytest.skip(reason)
    server = S3Server(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(settings, s3_server):
    """Django's default storage on the weed bucket (django-storages' S3 backend), under a prefix of its
    own per test (AWS_LOCATION). Yields the server; ``s3.test_prefix`` is that prefix."""
    import uuid

    prefix = f"t-{uuid.uuid4().hex[:10]}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {**s3_server.storages_options(), "location": prefix}},
    }
    s3_server.test_prefix = prefix
    return s3_server
