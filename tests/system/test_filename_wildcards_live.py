"""The backtracking pattern of issue 13 through the real server: it answers at once, correctly.

Before, SQLite ran ``__iregex`` in Python's ``re`` (C(40, 9) placements, over 30 s, holding the web
process); the timeout is generous and covers the requests only, not the server's start.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import token_key
from tests.search.test_search import make_asset

PATHOLOGICAL = "*a*a*a*a*a*a*a*a*a*b"


@pytest.mark.timeout(20, func_only=True)
@pytest.mark.django_db(transaction=True)
def test_a_backtracking_pattern_answers_at_once_through_the_server(live_server, user):
    make_asset(user, "a" * 40)
    make_asset(user, "a" * 39 + "b")
    headers = {"Authorization": f"Token {token_key(user)}"}
    url = f"{live_server.url}/api/assets/"
    for params in ({"q": f"filename:{PATHOLOGICAL}"}, {"filename": PATHOLOGICAL},
                   {"q": f"filename:{PATHOLOGICAL} OR filename:{PATHOLOGICAL}a"}):
        response = requests.get(url, params=params, headers=headers, timeout=15)
        assert response.status_code == 200, response.text
        assert [item["filename"] for item in response.json()["results"]] == ["a" * 39 + "b"], params
    # The page takes the same search.
    session = requests.Session()
    page = session.get(f"{live_server.url}/?q=filename:{PATHOLOGICAL}", headers=headers, timeout=15)
    assert page.status_code in (200, 302)
    too_long = requests.get(url, params={"filename": "*a" * 200}, headers=headers, timeout=15)
    assert too_long.status_code == 400 and "filename" in too_long.json()["errors"]
