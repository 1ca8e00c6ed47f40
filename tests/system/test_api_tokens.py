"""API tokens through the real server (gunicorn, DEBUG=0, PostgreSQL), from an upgrade onwards.

The stack's database starts as one from before hashed tokens: rest_framework.authtoken's table with a
key in clear. After `manage.py migrate` the same key still works over HTTP, and a dump of the whole
database holds none of the keys, old or new. A token made on the page is shown once (never cached),
works, records its last use; one past its expiry or revoked is refused; `create_token` prints only a
working key.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess

import pytest
import requests

from testkit.stack import Stack, missing_server_tools
from tests.system.conftest import csrf_of, make_user

pytestmark = [pytest.mark.stack]

PASSWORD = "a-long-unusual-passphrase-42"
OLD_KEY = "4a7d1ed414474e4033ac29ccb8653d9b8b1e9e1f"  # as rest_framework.authtoken made them: 40 hex digits


def execute(stack: Stack, sql: str, params: tuple = ()) -> None:
    """A statement that returns no rows (stack.query is for ones that do)."""
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(sql, params)


def pg_dump(stack: Stack) -> str:
    tool = (sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump")) or [shutil.which("pg_dump") or "pg_dump"])[-1]
    result = subprocess.run([tool, "--data-only", stack.database_url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = missing_server_tools()
    if missing:
        pytest.skip(f"this test starts its own servers and needs {', '.join(missing)}")
    stack = Stack(tmp_path_factory.mktemp("tokens"))
    try:
        stack.postgres.init()
        stack.postgres.start()
        stack.postgres.create_database("assetsite")
        stack.redis.start()
        # The database as it was before hashed tokens: users, and DRF's token table with a clear key.
        stack.manage("migrate", "--noinput")
        stack.manage("migrate", "integrations", "0001", "--noinput")  # integrations as the last release left it
        make_user(stack, "veteran", PASSWORD)
        execute(
            stack,
            'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, created timestamptz NOT NULL, '
            "user_id integer NOT NULL UNIQUE REFERENCES auth_user (id))"
        )
        execute(
            stack,
            "INSERT INTO authtoken_token (\"key\", created, user_id) "
            "SELECT %s, now() - interval '400 days', id FROM auth_user WHERE username = 'veteran'",
            (OLD_KEY,),
        )
        stack.manage("migrate", "--noinput")  # the upgrade
        stack.manage("collectstatic", "--noinput")
        stack.start_site()
        make_user(stack, "alice", PASSWORD)
        yield stack
    finally:
        stack.close()


def api(stack: Stack, key: str, method: str = "GET", path: str = "/api/assets/", **kwargs) -> requests.Response:
    return requests.request(method, stack.url(path), headers={"Authorization": f"Token {key}"}, timeout=30, **kwargs)


def logged_in(stack: Stack, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(stack.url("/accounts/login/"), timeout=30)
    answer = session.post(stack.url("/accounts/login/"), allow_redirects=False, timeout=30, data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_of(form.text)})
    assert answer.status_code == 302, answer.text[:300]
    return session


def test_a_key_from_before_the_upgrade_keeps_working_and_is_stored_hashed(stack):
    assert api(stack, OLD_KEY).status_code == 200
    assert stack.query("SELECT COUNT(*) FROM authtoken_token") == [(0,)]
    rows = stack.query("SELECT t.name, t.prefix FROM integrations_apitoken t JOIN auth_user u ON u.id = t.user_id "
                       "WHERE u.username = 'veteran'")
    assert rows == [("Token from before the upgrade", OLD_KEY[:6])]
    assert OLD_KEY not in pg_dump(stack)


def test_a_token_made_on_the_page_is_shown_once_works_and_is_never_stored(stack):
    session = logged_in(stack, "alice")
    page = session.get(stack.url("/integrations/token/"), timeout=30)
    created = session.post(stack.url("/integrations/token/"), timeout=30, data={
        "action": "create", "name": "backup script", "expires_in_days": "30",
        "csrfmiddlewaretoken": csrf_of(page.text)})
    assert created.status_code == 200 and "no-store" in created.headers["Cache-Control"]
    key = re.search(r'id="token-key"[^>]*value="([^"]+)"', created.text).group(1)
    assert api(stack, key).status_code == 200
    listing = session.get(stack.url("/integrations/token/"), timeout=30)
    assert "no-store" in listing.headers["Cache-Control"] and key not in listing.text
    assert "backup script" in listing.text and key[:8] in listing.text
    assert stack.query("SELECT last_used_at IS NOT NULL FROM integrations_apitoken WHERE name = 'backup script'") == [
        (True,)]
    assert key not in pg_dump(stack)


def test_expired_and_revoked_tokens_are_refused(stack):
    key = stack.manage("create_token", "alice", "--name", "nightly", "--expires-in-days", "1")
    assert re.fullmatch(r"ast_\S{43}\n", key), key  # the token and nothing else
    key = key.strip()
    assert api(stack, key).status_code == 200
    execute(stack, "UPDATE integrations_apitoken SET expires_at = now() - interval '1 minute' WHERE name = 'nightly'")
    expired = api(stack, key)
    assert expired.status_code == 401 and "expired on" in expired.json()["detail"]

    created = api(stack, key=api_key(stack), method="POST", path="/api/tokens/", json={"name": "ci"})
    assert created.status_code == 201 and "no-store" in created.headers["Cache-Control"]
    new = created.json()
    assert api(stack, new["key"]).status_code == 200
    assert api(stack, new["key"], "DELETE", f"/api/tokens/{new['id']}/").status_code == 204
    assert api(stack, new["key"]).status_code == 401


def api_key(stack: Stack) -> str:
    return stack.manage("create_token", "alice", "--name", "for the API test").strip()
