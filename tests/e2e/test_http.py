"""The real server over real HTTP (http.client, 127.0.0.1 only): health, sign-up/sign-in, errors."""

import http.client
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these

JSON = "application/json"
HEALTHY = {"status": "ok", "database": "ok", "channel_layer": "ok", "cache": "ok"}
CLOSED_DATABASE_URL = "postgres://root@127.0.0.1:1/x"
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@dataclass
class Reply:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        assert self.content_type == JSON, self.content_type
        return json.loads(self.text)


def call(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
) -> Reply:
    """One request on a fresh connection; every reply is checked for leaked tracebacks."""
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    headers = {"Accept": JSON}
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = JSON
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=15)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        reply = Reply(response.status, response.getheader("Content-Type", ""), response.read().decode())
    finally:
        conn.close()
    assert "Traceback" not in reply.text
    assert 'File "' not in reply.text
    return reply


def own_user(user_id: int, date_joined: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": "",
        "nickname": "",
        "avatar_url": "",
        "sex": "unknown",
        "age": None,
        "bio": "",
        "is_bot": False,
        "is_online": False,
        "last_seen": None,
        "owner_id": None,
        "date_joined": date_joined,
        "email": "",
        "email_verified": False,
        **fields,
    }


def test_health_is_ok(daphne_url: str) -> None:
    reply = call(daphne_url, "GET", "/api/health")
    assert reply.status == 200
    assert reply.json() == HEALTHY


def test_register_sign_in_and_read_own_profile(daphne_url: str) -> None:
    reply = call(
        daphne_url,
        "POST",
        "/api/auth/register",
        {"username": "e2e-alice", "password": PASSWORD, "nickname": "Alice", "age": 28},
    )
    assert reply.status == 201
    registered = reply.json()
    user = User.objects.get(username="e2e-alice")  # written by the server, seen by this process
    assert ISO_UTC.fullmatch(registered["date_joined"])
    assert registered == own_user(
        user.pk, registered["date_joined"], username="e2e-alice", nickname="Alice", age=28
    )

    reply = call(daphne_url, "POST", "/api/auth/token", {"username": "e2e-alice", "password": PASSWORD})
    assert reply.status == 200
    tokens = reply.json()
    assert sorted(tokens) == ["access", "refresh"]

    reply = call(daphne_url, "GET", "/api/users/me", token=tokens["access"])
    assert reply.status == 200
    assert reply.json() == registered


def test_user_created_by_the_tests_signs_in_over_http(daphne_url: str, alice: User) -> None:
    reply = call(daphne_url, "POST", "/api/auth/token", {"username": "ALICE", "password": PASSWORD})
    assert reply.status == 200
    reply = call(daphne_url, "GET", "/api/users/me", token=reply.json()["access"])
    assert reply.status == 200
    date_joined = reply.json()["date_joined"]
    assert ISO_UTC.fullmatch(date_joined)
    assert reply.json() == own_user(
        alice.pk, date_joined, username="alice", nickname="Alice", sex="female", age=28
    )


def test_authentication_errors_are_json(daphne_url: str, alice: User) -> None:
    reply = call(daphne_url, "GET", "/api/users/me")
    assert reply.status == 401
    assert reply.json() == {
        "error_code": "AUTHENTICATION_FAILED",
        "message": "Authentication credentials were not provided.",
        "details": {"reason": "not_authenticated"},
    }
    reply = call(daphne_url, "POST", "/api/auth/token", {"username": "alice", "password": "wrong-password"})
    assert reply.status == 401
    assert reply.json() == {
        "error_code": "AUTHENTICATION_FAILED",
        "message": "No active account found with the given credentials",
        "details": {"reason": "no_active_account"},
    }
    reply = call(daphne_url, "GET", "/api/users/me", token="not-a-jwt")
    assert reply.status == 401
    assert reply.json() == {
        "error_code": "AUTHENTICATION_FAILED",
        "message": "Given token not valid for any token type",
        "details": {"reason": "token_not_valid"},
    }


def test_unknown_api_path_is_a_json_404(daphne_url: str) -> None:
    reply = call(daphne_url, "GET", "/api/no-such-endpoint")
    assert reply.status == 404
    assert reply.json() == {"error_code": "NOT_FOUND", "message": "No such endpoint.", "details": {}}


def test_unknown_user_is_a_json_404(daphne_url: str, alice: User) -> None:
    token = str(RefreshToken.for_user(alice).access_token)  # signed here, accepted there: same SECRET_KEY
    reply = call(daphne_url, "GET", f"/api/users/{alice.pk + 1000}", token=token)
    assert reply.status == 404
    assert reply.json() == {"error_code": "NOT_FOUND", "message": "User not found.", "details": {}}


def test_malformed_json_is_a_json_400(daphne_url: str) -> None:
    reply = call(daphne_url, "POST", "/api/auth/register", raw=b'{"username": ')
    assert reply.status == 400
    assert reply.json() == {
        "error_code": "VALIDATION_ERROR",
        "message": "The body is not valid JSON.",
        "details": {"reason": "malformed_json"},
    }


def test_wrong_method_is_a_json_405(daphne_url: str) -> None:
    reply = call(daphne_url, "DELETE", "/api/health")
    assert reply.status == 405
    assert reply.json() == {
        "error_code": "METHOD_NOT_ALLOWED",
        "message": 'Method "DELETE" not allowed.',
        "details": {"reason": "method_not_allowed"},
    }


def test_health_reports_an_unreachable_database(
    start_daphne: Callable[[dict[str, str]], str], plain_env: dict[str, str]
) -> None:
    url = start_daphne({**plain_env, "DATABASE_URL": CLOSED_DATABASE_URL})
    reply = call(url, "GET", "/api/health")
    assert reply.status == 503
    assert reply.json() == {"status": "error", "database": "error", "channel_layer": "ok", "cache": "ok"}


def test_health_reports_an_unreachable_channel_layer(
    start_daphne: Callable[[dict[str, str]], str], server_env: dict[str, str]
) -> None:
    url = start_daphne({**server_env, "REDIS_URL": CLOSED_REDIS_URL})
    reply = call(url, "GET", "/api/health")
    assert reply.status == 503
    assert reply.json() == {"status": "error", "database": "ok", "channel_layer": "error", "cache": "error"}
