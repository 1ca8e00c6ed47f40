"""API tokens: only a digest is stored, the key is shown once, several named tokens per user with an
optional expiry and the time of last use, each revocable; the token API, the management commands, and
the data migration that turns rest_framework.authtoken's clear keys into hashed tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiToken
from integrations.services import (
    TOKEN_TOUCH_INTERVAL,
    TokenInvalid,
    token_create,
    token_digest,
    token_mark_used,
    token_revoke,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def stored_text(token: ApiToken) -> str:
    """Every column of the token's row, as text."""
    return " ".join(str(value) for value in ApiToken.objects.filter(pk=token.pk).values_list().get())


# --- services ---------------------------------------------------------------------------------------


def test_a_new_token_is_stored_as_a_digest_only(user):
    token, key = token_create(user=user, name="  backup\tscript ")
    assert re.fullmatch(r"ast_[A-Za-z0-9_-]{43}", key)  # 256 random bits
    assert token.digest == token_digest(key) and len(token.digest) == 64
    assert key not in stored_text(token) and key[8:16] not in stored_text(token)
    assert token.prefix == key[:8] and token.name == "backup script"
    assert token.expires_at is None and token.last_used_at is None
    assert token_create(user=user)[0].name == "API token"


def test_keys_are_unique_and_several_tokens_per_user_are_allowed(user):
    keys = {token_create(user=user, name=f"t{n}")[1] for n in range(5)}
    assert len(keys) == 5 and ApiToken.objects.filter(user=user).count() == 5


def test_expiry_must_be_in_the_future_and_within_the_sites_limit(user, settings):
    with pytest.raises(TokenInvalid, match="must be in the future") as refused:
        token_create(user=user, expires_at=timezone.now() - timedelta(seconds=1))
    assert refused.value.field == "expires_at"
    settings.API_TOKEN_MAX_DAYS = 30
    with pytest.raises(TokenInvalid, match="at most 30 days"):
        token_create(user=user, expires_at=timezone.now() + timedelta(days=31))
    capped, _ = token_create(user=user)  # no expiry asked for: the longest allowed
    assert timedelta(days=29, hours=23) < capped.expires_at - timezone.now() <= timedelta(days=30)
    assert not ApiToken.objects.filter(expires_at__isnull=True).exists()


def test_at_most_api_token_max_per_user(user, other_user, settings):
    settings.API_TOKEN_MAX_PER_USER = 2
    token_create(user=user)
    token_create(user=user)
    with pytest.raises(TokenInvalid, match="2 tokens, the most allowed"):
        token_create(user=user)
    token_create(user=other_user)  # per user


def test_last_used_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    token, _ = token_create(user=user)
    now = timezone.now()
    with django_assert_num_queries(1):
        token_mark_used(token=token, now=now)
    with django_assert_num_queries(0):
        token_mark_used(token=token, now=now + TOKEN_TOUCH_INTERVAL / 2)
    later = now + TOKEN_TOUCH_INTERVAL + timedelta(seconds=1)
    token_mark_used(token=token, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later


# --- authentication ---------------------------------------------------------------------------------


def test_a_token_authenticates_its_user_and_records_when(user):
    token, key = token_create(user=user)
    response = client_with(key).get("/api/assets/")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < timedelta(seconds=30)


@pytest.mark.parametrize(
    "header, message",
    [
        ("Token ast_" + "x" * 43, "Invalid token."),
        ("Token " + "a" * 5000, "Invalid token."),
        ("Token", "No credentials provided"),
        ("Token a b", "should not contain spaces"),
    ],
)
def test_wrong_or_malformed_tokens_are_401(user, header, message):
    token_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/assets/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert message in response.json()["detail"] and response.json()["code"] == "authentication_failed"


def test_an_expired_token_is_refused_with_the_date_and_what_to_do(user):
    token, key = token_create(user=user, expires_at=timezone.now() + timedelta(hours=1))
    assert client_with(key).get("/api/assets/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client_with(key).get("/api/assets/")
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert "expired on" in detail and "/integrations/token/" in detail


def test_a_revoked_token_and_an_inactive_users_token_are_refused(user, other_user):
    token, key = token_create(user=user)
    token_revoke(token=token)
    assert client_with(key).get("/api/assets/").status_code == 401
    _, theirs = token_create(user=other_user)
    other_user.is_active = False
    other_user.save()
    assert client_with(theirs).get("/api/assets/").json()["detail"] == "User inactive or deleted."


# --- the token API ----------------------------------------------------------------------------------


def test_token_api_creates_lists_and_revokes(api_client, user):
    created = api_client.post("/api/tokens/", {"name": "ci", "expires_in_days": 7}, format="json")
    assert created.status_code == 201 and "no-store" in created["Cache-Control"]
    body = created.json()
    key = body["key"]
    assert body["name"] == "ci" and body["prefix"] == key[:8] and not body["expired"]
    assert timedelta(days=6, hours=23) < ApiToken.objects.get(pk=body["id"]).expires_at - timezone.now()
    assert client_with(key).get("/api/assets/").status_code == 200

    listing = api_client.get("/api/tokens/")
    assert listing.status_code == 200 and "no-store" in listing["Cache-Control"]
    rows = {row["id"]: row for row in listing.json()["results"]}
    assert body["id"] in rows and "key" not in rows[body["id"]] and len(rows) == 2  # plus api_client's own
    assert key not in listing.content.decode()
    one = api_client.get(f"/api/tokens/{body['id']}/").json()
    assert one["name"] == "ci" and "key" not in one and one["last_used_at"] is not None

    assert api_client.delete(f"/api/tokens/{body['id']}/").status_code == 204
    assert client_with(key).get("/api/assets/").status_code == 401
    assert api_client.get(f"/api/tokens/{body['id']}/").status_code == 404


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "must be in the future"),
        ({"expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3}, "expires_in_days", "not both"),
        ({"expires_in_days": 0}, "expires_in_days", "greater than or equal to 1"),
        ({"name": "n" * 101}, "name", "no more than 100"),
    ],
)
def test_token_api_explains_bad_input(api_client, data, field, message):
    response = api_client.post("/api/tokens/", data, format="json")
    assert response.status_code == 400
    assert message in response.json()["errors"][field][0]


def test_token_api_never_shows_or_revokes_another_users_token(api_client, other_user):
    theirs, key = token_create(user=other_user, name="mallory's")
    assert api_client.get(f"/api/tokens/{theirs.pk}/").status_code == 404
    assert api_client.delete(f"/api/tokens/{theirs.pk}/").status_code == 404
    assert "mallory" not in api_client.get("/api/tokens/").content.decode()
    assert client_with(key).get("/api/assets/").status_code == 200


def test_webhook_secret_answers_are_not_cached(api_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    created = api_client.post("/api/webhooks/", {"url": "http://127.0.0.1:9/x"}, format="json")
    assert created.status_code == 201 and "no-store" in created["Cache-Control"]
    secret = api_client.get(f"/api/webhooks/{created.json()['id']}/secret/")
    assert secret.json()["secret"] == created.json()["secret"] and "no-store" in secret["Cache-Control"]


# --- management commands ----------------------------------------------------------------------------


def test_create_token_prints_only_a_working_token(user, capsys):
    call_command("create_token", user.username, "--name", "nightly", "--expires-in-days", "10")
    out = capsys.readouterr().out
    key = out.strip()
    assert out == key + "\n" and re.fullmatch(r"ast_\S{43}", key)
    token = ApiToken.objects.get(user=user)
    assert token.name == "nightly" and token.digest == token_digest(key)
    assert timedelta(days=9, hours=23) < token.expires_at - timezone.now()
    assert client_with(key).get("/api/assets/").status_code == 200


def test_create_token_explains_an_unknown_user(db):
    with pytest.raises(CommandError, match="There is no user 'nobody'; create one"):
        call_command("create_token", "nobody")


def test_drf_create_token_reset_revokes_the_users_other_tokens(user, capsys):
    _, old = token_create(user=user)
    call_command("drf_create_token", "-r", user.username)
    key = re.fullmatch(r"Generated token (\S+) for user alice\n", capsys.readouterr().out).group(1)
    assert client_with(old).get("/api/assets/").status_code == 401
    assert client_with(key).get("/api/assets/").status_code == 200


# --- the upgrade from rest_framework.authtoken -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_hashes_existing_drf_tokens_so_the_same_key_keeps_working():
    """authtoken_token as Django REST framework created it, with a key, then the migration."""
    alice = UserFactory(username="alice")
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # the form DRF's keys have: 40 hex digits
    created = timezone.now() - timedelta(days=400)
    call_command("migrate", "integrations", "0002", verbosity=0)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE authtoken_token ({quote('key')} varchar(40) PRIMARY KEY, "
                       "created timestamp with time zone NOT NULL, user_id integer NOT NULL UNIQUE)")
        cursor.execute(f"INSERT INTO authtoken_token ({quote('key')}, created, user_id) VALUES (%s, %s, %s)",
                       [key, created, alice.pk])
    try:
        call_command("migrate", "integrations", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM authtoken_token")
            assert cursor.fetchone()[0] == 0  # the clear keys are gone
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
    token = ApiToken.objects.get(user=alice)
    assert token.digest == token_digest(key) and token.prefix == key[:6] and key not in stored_text(token)
    assert abs(token.created_at - created) < timedelta(seconds=1) and token.expires_at is None
    assert client_with(key).get("/api/assets/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_migration_does_nothing_on_a_database_that_never_had_drf_tokens():
    call_command("migrate", "integrations", "0002", verbosity=0)
    call_command("migrate", "integrations", verbosity=0)
    assert ApiToken.objects.count() == 0
