from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

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


def token_client(user) -> APIClient:
    """An API client that authenticates as ``user`` with a real token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
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
