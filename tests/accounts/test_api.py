"""REST API of accounts: registration, tokens, profiles, search and bots, with good input and bad."""

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from django.core.cache import cache
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import BotToken, Friendship, User
from accounts.presence import registry
from chats.models import Chat
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PUBLIC_KEYS = [
    "id",
    "username",
    "nickname",
    "avatar_url",
    "sex",
    "age",
    "bio",
    "is_bot",
    "is_online",
    "last_seen",
]
OWN_KEYS = [*PUBLIC_KEYS, "owner_id", "date_joined", "email", "email_verified"]
ERROR_KEYS = {"error_code", "message", "details"}
JSON_ENDPOINTS = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/token/refresh"),
    ("post", "/api/auth/logout"),
    ("patch", "/api/users/me"),
    ("post", "/api/bots"),
    ("put", "/api/users/me/email"),
    ("post", "/api/users/me/password"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/password-reset"),
    ("post", "/api/auth/password-reset/confirm"),
]


# --- helpers ---------------------------------------------------------------------------------


def check(resp, status: int) -> Any:
    """The JSON body of a response with this status (None when empty); never a stack trace."""
    assert resp.status_code == status, resp.content
    assert b"Traceback" not in resp.content
    return resp.json() if resp.content else None


def assert_error(resp, status: int, code: str, **details: Any) -> dict:
    """An error answer: exactly {error_code, message, details}, with these details among them."""
    body = check(resp, status)
    assert set(body) == ERROR_KEYS
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    assert {key: body["details"].get(key) for key in details} == details
    return body


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def post(client, url: str, data: Any):
    return client.post(url, data, format="json")


def register(api, **data: Any):
    return post(api, "/api/auth/register", {"username": "dave", "password": PASSWORD, **data})


def obtain(api, username: str = "alice", password: str = PASSWORD):
    return post(api, "/api/auth/token", {"username": username, "password": password})


def refresh(api, token: str):
    return post(api, "/api/auth/token/refresh", {"refresh": token})


def me(api, access: str):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api.get("/api/users/me")


def blacklisted(token: str) -> bool:
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    return BlacklistedToken.objects.filter(token__jti=jti).exists()


def public(user: User, **overrides: Any) -> dict:
    """The public profile the API should show for this user."""
    user.refresh_from_db()
    body = {key: getattr(user, key) for key in PUBLIC_KEYS if key not in ("is_online", "last_seen")}
    return {**body, "is_online": False, "last_seen": None, **overrides}


def row(user: User) -> dict:
    return User.objects.filter(pk=user.pk).values().get()


def create_bot(client, username: str = "robo", **extra: Any):
    return post(client, "/api/bots", {"username": username, **extra})


def forge(token: str, how: str, other: User) -> str:
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    if how == "other_key":
        return jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256")
    if how == "alg_none":
        return jwt.encode(claims, None, algorithm="none")
    claims["user_id"] = str(other.pk)  # tampered: someone else's id under the original signature
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


@pytest.fixture
def online():
    """Marks users online like an open connection does; leases are dropped afterwards."""
    leases: list[int] = []

    def renew(user: User) -> None:
        registry().renew(user.pk, "conn-1")
        leases.append(user.pk)

    yield renew
    for user_id in leases:
        registry().drop(user_id, "conn-1")


# --- registration ----------------------------------------------------------------------------


def test_register_returns_the_new_user(api):
    body = check(register(api, nickname="Dave", sex="male", age=40), 201)
    user = User.objects.get(username="dave")
    assert list(body) == OWN_KEYS
    assert when(body.pop("date_joined")) == user.date_joined
    assert body == public(user, owner_id=None, email="", email_verified=False) | {
        "nickname": "Dave",
        "sex": "male",
        "age": 40,
    }
    assert user.check_password(PASSWORD)
    assert (user.is_active, user.is_staff, user.is_superuser, user.is_bot) == (True, False, False, False)


def test_register_nickname_defaults_to_username(api):
    body = check(register(api), 201)
    assert (body["nickname"], body["sex"], body["age"]) == ("dave", "unknown", None)
    assert User.objects.get(username="dave").nickname == "dave"


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_register_taken_username_in_any_case(api, alice, username):
    body = assert_error(register(api, username=username), 409, "CONFLICT")
    assert body["details"] == {"field": "username", "reason": "taken"}
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "username"), ({"username": "dave"}, "password"), ({"password": PASSWORD}, "username")],
)
def test_register_missing_field(api, data, field):
    assert_error(
        post(api, "/api/auth/register", data), 400, "VALIDATION_ERROR", field=field, reason="required"
    )
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("username", 123, "invalid"),
        ("username", None, "null"),
        ("username", "ab", "format"),
        ("username", "two words", "format"),
        ("username", "x" * 33, "max_length"),
        ("password", 12345678, "invalid"),
        ("age", "12", "invalid"),
        ("age", True, "invalid"),
        ("age", 12.5, "invalid"),
        ("age", 151, "max_value"),
        ("age", -1, "min_value"),
        ("sex", "robot", "invalid_choice"),
        ("nickname", "x" * 65, "max_length"),
        ("nickname", ["Dave"], "invalid"),
        ("nickname", "Da\x00ve", "null_characters_not_allowed"),
        ("is_staff", True, "unknown_field"),
    ],
)
def test_register_bad_field(api, field, value, reason):
    assert_error(register(api, **{field: value}), 400, "VALIDATION_ERROR", field=field, reason=reason)
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "blank"), ("password", "weak"), ("12345678", "weak"), ("Sh0rt!x", "weak")],
)
def test_register_refuses_empty_or_weak_password(api, password, reason):
    body = assert_error(register(api, password=password), 400, "VALIDATION_ERROR", field="password")
    assert body["details"]["reason"] == reason
    if reason == "weak":
        assert body["details"]["problems"]
    assert not User.objects.exists()


# --- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "ALICE"])
def test_token_pair_signs_in(api, alice, username):
    pair = check(obtain(api, username), 200)
    assert set(pair) == {"access", "refresh"}
    assert check(me(api, pair["access"]), 200)["id"] == alice.pk


def test_refresh_rotates_and_blacklists_the_old_token(api, alice):
    old = check(obtain(api), 200)["refresh"]
    new = check(refresh(api, old), 200)
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != old
    assert blacklisted(old)
    assert_error(refresh(api, old), 401, "AUTHENTICATION_FAILED", reason="token_not_valid")
    assert check(me(api, new["access"]), 200)["id"] == alice.pk
    assert set(check(refresh(api, new["refresh"]), 200)) == {"access", "refresh"}


def test_logout_revokes_the_refresh_token(api, alice):
    pair = check(obtain(api), 200)
    assert check(post(api, "/api/auth/logout", {"refresh": pair["refresh"]}), 204) is None
    assert_error(me(api, pair["access"]), 401, "AUTHENTICATION_FAILED", reason="session_revoked")
    api.credentials()
    assert blacklisted(pair["refresh"])
    assert_error(refresh(api, pair["refresh"]), 401, "AUTHENTICATION_FAILED", reason="token_not_valid")
    assert_error(post(api, "/api/auth/logout", {"refresh": pair["refresh"]}), 401, "AUTHENTICATION_FAILED")


def test_a_signed_out_access_token_stays_refused_after_the_cache_is_wiped(api, alice):
    pair = check(obtain(api), 200)
    assert check(post(api, "/api/auth/logout", {"refresh": pair["refresh"]}), 204) is None
    cache.clear()  # what a Redis restart does
    assert_error(me(api, pair["access"]), 401, "AUTHENTICATION_FAILED", reason="session_revoked")
    other = check(obtain(api), 200)  # another session of the same user is not affected
    assert check(me(api, other["access"]), 200)["id"] == alice.pk


@pytest.mark.parametrize("kind", ["access", "garbage"])
def test_logout_refuses_what_is_not_a_refresh_token(api, alice, kind):
    token = check(obtain(api), 200)["access"] if kind == "access" else "not.a.token"
    assert_error(post(api, "/api/auth/logout", {"refresh": token}), 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong-Passw0rd"), ("nobody", PASSWORD)])
def test_token_refuses_wrong_credentials(api, alice, username, password):
    assert_error(obtain(api, username, password), 401, "AUTHENTICATION_FAILED", reason="no_active_account")


@pytest.mark.parametrize(
    ("url", "data", "field", "reason"),
    [
        ("/api/auth/token", {"username": "alice"}, "password", "required"),
        ("/api/auth/token", {"username": 123, "password": PASSWORD}, "username", "invalid"),
        ("/api/auth/token", {"username": "alice", "password": ""}, "password", "blank"),
        ("/api/auth/token/refresh", {}, "refresh", "required"),
        ("/api/auth/token/refresh", {"refresh": 1}, "refresh", "invalid"),
        ("/api/auth/logout", {}, "refresh", "required"),
        ("/api/auth/logout", {"refresh": "x", "all": True}, "all", "unknown_field"),
    ],
)
def test_auth_bad_input(api, alice, url, data, field, reason):
    assert_error(post(api, url, data), 400, "VALIDATION_ERROR", field=field, reason=reason)


def test_expired_tokens_are_refused(api, alice):
    access = AccessToken.for_user(alice)
    access.set_exp(lifetime=-timedelta(seconds=1))
    assert_error(me(api, str(access)), 401, "AUTHENTICATION_FAILED", reason="token_not_valid")
    old = RefreshToken.for_user(alice)
    old.set_exp(lifetime=-timedelta(seconds=1))
    assert_error(refresh(api, str(old)), 401, "AUTHENTICATION_FAILED", reason="token_not_valid")


@pytest.mark.parametrize("how", ["other_key", "alg_none", "tampered_payload"])
def test_forged_tokens_are_refused(api, alice, bob, how):
    good = RefreshToken.for_user(alice)
    access = forge(str(good.access_token), how, bob)
    assert_error(me(api, access), 401, "AUTHENTICATION_FAILED", reason="token_not_valid")
    assert_error(refresh(api, forge(str(good), how, bob)), 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt", "Basic YWxpY2U6cHc="])
def test_me_without_a_valid_token(api, alice, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    assert_error(api.get("/api/users/me"), 401, "AUTHENTICATION_FAILED")


def test_deactivated_user_loses_every_way_in(api, alice, moderator):
    pair = check(obtain(api), 200)
    services.user_set_active(actor=moderator, user_id=alice.pk, active=False)
    assert_error(obtain(api), 401, "AUTHENTICATION_FAILED", reason="no_active_account")
    assert_error(me(api, pair["access"]), 401, "AUTHENTICATION_FAILED", reason="user_inactive")
    api.credentials()
    assert_error(refresh(api, pair["refresh"]), 401, "AUTHENTICATION_FAILED")


# --- one's own profile -----------------------------------------------------------------------


def test_get_me(alice, client_for):
    body = check(client_for(alice).get("/api/users/me"), 200)
    assert list(body) == OWN_KEYS
    assert when(body.pop("date_joined")) == alice.date_joined
    assert body == public(alice, owner_id=None, email="", email_verified=False)


def test_patch_me_changes_profile(alice, client_for):
    change = {"nickname": "Ally", "avatar_url": "https://example.com/a.png", "sex": "unknown", "age": 29}
    body = check(client_for(alice).patch("/api/users/me", {**change, "bio": "Hi"}, format="json"), 200)
    assert {key: body[key] for key in [*change, "bio"]} == {**change, "bio": "Hi"}
    assert {key: row(alice)[key] for key in [*change, "bio"]} == {**change, "bio": "Hi"}
    cleared = check(
        client_for(alice).patch("/api/users/me", {"age": None, "avatar_url": ""}, format="json"), 200
    )
    assert (cleared["age"], cleared["avatar_url"], cleared["nickname"]) == (None, "", "Ally")


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"nickname": "Boss", "is_staff": True}, "is_staff", "unknown_field"),
        ({"username": "root"}, "username", "unknown_field"),
        ({"age": "12"}, "age", "invalid"),
        ({"age": True}, "age", "invalid"),
        ({"age": 200}, "age", "max_value"),
        ({"sex": "robot"}, "sex", "invalid_choice"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url", "invalid"),
        ({"avatar_url": 5}, "avatar_url", "invalid"),
        ({"bio": "x" * 501}, "bio", "max_length"),
        ({"nickname": "Al\x00"}, "nickname", "null_characters_not_allowed"),
        ({"nickname": "\ud800"}, "nickname", "surrogate_characters_not_allowed"),
        ({"sex": "\ud800"}, "sex", "invalid_choice"),
        ({"\ud800": 1}, "\\ud800", "unknown_field"),
    ],
)
def test_patch_me_refuses_bad_input_and_changes_nothing(alice, client_for, data, field, reason):
    before = row(alice)
    # Sent as ASCII-escaped JSON: lone surrogates ("\ud800") are valid JSON escapes but not UTF-8.
    resp = client_for(alice).patch("/api/users/me", json.dumps(data), content_type="application/json")
    assert_error(resp, 400, "VALIDATION_ERROR", field=field, reason=reason)
    assert row(alice) == before


# --- other people's profiles and search ------------------------------------------------------


def test_public_profile(alice, bob, client_for):
    body = check(client_for(alice).get(f"/api/users/{bob.pk}"), 200)
    assert list(body) == PUBLIC_KEYS
    assert body == public(bob)


def test_profile_shows_presence(alice, bob, client_for, online):
    client = client_for(alice)
    assert check(client.get(f"/api/users/{bob.pk}"), 200)["is_online"] is False
    online(bob)
    assert check(client.get(f"/api/users/{bob.pk}"), 200)["is_online"] is True
    assert [u["is_online"] for u in check(client.get("/api/users", {"search": "bob"}), 200)] == [True]
    registry().drop(bob.pk, "conn-1")
    assert check(client.get(f"/api/users/{bob.pk}"), 200)["is_online"] is False


def test_profile_shows_last_seen(alice, bob, client_for):
    services.connection_opened(actor=bob, connection="conn-1")
    services.connection_closed(actor=bob, connection="conn-1")  # the last connection stamps it
    stamped = bob.last_seen
    bob.refresh_from_db()
    assert bob.last_seen == stamped is not None
    assert when(check(client_for(alice).get(f"/api/users/{bob.pk}"), 200)["last_seen"]) == bob.last_seen


def test_profile_of_unknown_or_deactivated_user_is_not_found(alice, bob, moderator, client_for):
    services.user_set_active(actor=moderator, user_id=bob.pk, active=False)
    for user_id in (bob.pk, bob.pk + 1000, 10**20):
        body = assert_error(client_for(alice).get(f"/api/users/{user_id}"), 404, "NOT_FOUND")
        assert body == {"error_code": "NOT_FOUND", "message": "User not found.", "details": {}}
    assert check(client_for(moderator).get(f"/api/users/{bob.pk}"), 200)["id"] == bob.pk


def test_search_by_username_or_nickname_ignoring_case(alice, bob, carol, make_user, moderator, client_for):
    zed = make_user("zed", nickname="Wonderland")
    client = client_for(alice)

    def names(term: str) -> list[str]:
        return [user["username"] for user in check(client.get("/api/users", {"search": term}), 200)]

    assert names("ALI") == ["alice"]
    assert names("wONDER") == ["zed"]
    assert names("o") == ["bob", "carol", "mod", "zed"]
    assert names("nobody-here") == []
    services.user_set_active(actor=moderator, user_id=zed.pk, active=False)
    assert names("wonder") == []
    assert check(client.get("/api/users", {"search": "bob"}), 200) == [public(bob)]


def test_search_limit(alice, client_for):
    User.objects.bulk_create(User(username=f"many{n:02}") for n in range(25))
    client = client_for(alice)

    def names(**query: Any) -> list[str]:
        return [
            user["username"] for user in check(client.get("/api/users", {"search": "many", **query}), 200)
        ]

    assert names() == [f"many{n:02}" for n in range(20)]
    assert names(limit=1) == ["many00"]
    assert names(limit=50) == [f"many{n:02}" for n in range(25)]


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({}, "search", "blank"),
        ({"search": "   "}, "search", "blank"),
        ({"search": "x" * 65}, "search", "max_length"),
        ({"search": "a", "limit": "0"}, "limit", "min_value"),
        ({"search": "a", "limit": "51"}, "limit", "max_value"),
        ({"search": "a", "limit": "-1"}, "limit", "invalid"),
        ({"search": "a", "limit": "ten"}, "limit", "invalid"),
        ({"search": "a", "limit": "²"}, "limit", "invalid"),
        ({"search": "a", "limit": "9" * 5000}, "limit", "invalid"),
    ],
)
def test_search_bad_query(alice, client_for, query, field, reason):
    resp = client_for(alice).get("/api/users", query)
    assert_error(resp, 400, "VALIDATION_ERROR", field=field, reason=reason)


# --- bots ------------------------------------------------------------------------------------


def test_create_bot(alice, client_for):
    body = check(create_bot(client_for(alice), nickname="Robo"), 201)
    bot = User.objects.get(username="robo")
    token = body["token"]
    assert body == {"id": bot.pk, "username": "robo", "nickname": "Robo", "token": token}
    assert token.startswith("imb_") and len(token) > 40
    assert (bot.is_bot, bot.owner_id, bot.is_active) == (True, alice.pk, True)
    assert not bot.has_usable_password()
    pairs = set(Friendship.objects.filter(user__in=[alice, bot]).values_list("user_id", "friend_id"))
    assert pairs == {(alice.pk, bot.pk), (bot.pk, alice.pk)}
    chat = Chat.objects.get(private_key=f"{alice.pk}:{bot.pk}")
    assert chat.type == "private"
    assert sorted(chat.members.values_list("user_id", flat=True)) == [alice.pk, bot.pk]
    stored = BotToken.objects.filter(bot=bot).values().get()
    assert stored["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert (stored["prefix"], stored["revoked_at"]) == (token[:10], None)
    assert not any(token in str(value) for value in [*stored.values(), *row(bot).values()])
    assert services.bot_authenticate(token) == bot


def test_create_bot_nickname_defaults_to_username(alice, client_for):
    assert check(create_bot(client_for(alice)), 201)["nickname"] == "robo"
    assert User.objects.get(username="robo").nickname == "robo"


def test_list_bots_shows_only_ones_own(alice, bob, client_for):
    mine = [check(create_bot(client_for(alice), name), 201)["id"] for name in ("robo1", "robo2")]
    theirs = check(create_bot(client_for(bob), "bobbot"), 201)["id"]
    body = check(client_for(alice).get("/api/bots"), 200)
    joined = dict(User.objects.filter(pk__in=mine).values_list("pk", "date_joined"))
    assert [when(item.pop("created_at")) for item in body] == [joined[pk] for pk in mine]
    assert body == [
        {"id": pk, "username": f"robo{n}", "nickname": f"robo{n}", "avatar_url": "", "is_active": True}
        for n, pk in enumerate(mine, start=1)
    ]
    assert [item["id"] for item in check(client_for(bob).get("/api/bots"), 200)] == [theirs]


def test_rotate_bot_token(alice, client_for):
    client = client_for(alice)
    old = check(create_bot(client), 201)
    new = check(client.post(f"/api/bots/{old['id']}/token"), 200)
    assert new == {"id": old["id"], "username": "robo", "nickname": "robo", "token": new["token"]}
    assert new["token"] != old["token"]
    assert services.bot_authenticate(old["token"]) is None
    assert services.bot_authenticate(new["token"]).pk == old["id"]
    assert BotToken.objects.filter(bot_id=old["id"], revoked_at__isnull=True).count() == 1


def test_rotate_someone_elses_bot_is_not_found(alice, bob, client_for):
    theirs = check(create_bot(client_for(bob), "bobbot"), 201)
    for bot_id in (theirs["id"], alice.pk, 10**20):
        body = assert_error(client_for(alice).post(f"/api/bots/{bot_id}/token"), 404, "NOT_FOUND")
        assert body == {"error_code": "NOT_FOUND", "message": "Bot not found.", "details": {}}
    assert services.bot_authenticate(theirs["token"]).pk == theirs["id"]


def test_bot_limit(alice, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "MAX_BOTS_PER_USER": 2}
    client = client_for(alice)
    check(create_bot(client, "robo1"), 201)
    check(create_bot(client, "robo2"), 201)
    body = assert_error(create_bot(client, "robo3"), 409, "CONFLICT")
    assert body["details"] == {"reason": "bot_limit", "limit": 2}
    assert User.objects.filter(owner=alice).count() == 2


@pytest.mark.parametrize(
    ("data", "status", "code", "field", "reason"),
    [
        ({"username": "ALICE"}, 409, "CONFLICT", "username", "taken"),
        ({"username": 123}, 400, "VALIDATION_ERROR", "username", "invalid"),
        ({"nickname": "Robo"}, 400, "VALIDATION_ERROR", "username", "required"),
        ({"username": "a b"}, 400, "VALIDATION_ERROR", "username", "format"),
        ({"username": "robo", "nickname": "x" * 65}, 400, "VALIDATION_ERROR", "nickname", "max_length"),
        ({"username": "robo", "is_staff": True}, 400, "VALIDATION_ERROR", "is_staff", "unknown_field"),
    ],
)
def test_create_bot_bad_input(alice, client_for, data, status, code, field, reason):
    assert_error(post(client_for(alice), "/api/bots", data), status, code, field=field, reason=reason)
    assert not User.objects.filter(is_bot=True).exists()


# --- malformed bodies, anywhere --------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_malformed_json(alice, client_for, method, url):
    resp = getattr(client_for(alice), method)(url, '{"username": ', content_type="application/json")
    body = assert_error(resp, 400, "VALIDATION_ERROR")
    assert body["details"] == {"reason": "malformed_json"}


@pytest.mark.parametrize("payload", [[{"username": "dave"}], "text", 42, None])
@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_body_that_is_not_an_object(alice, client_for, method, url, payload):
    before = row(alice)
    resp = getattr(client_for(alice), method)(url, json.dumps(payload), content_type="application/json")
    assert_error(resp, 400, "VALIDATION_ERROR")
    assert row(alice) == before
    assert User.objects.count() == 1


def test_other_framework_errors_keep_the_error_shape(alice, client_for):
    client = client_for(alice)
    assert_error(client.delete("/api/users/me"), 405, "METHOD_NOT_ALLOWED")
    form = client.post("/api/auth/register", {"username": "dave", "password": PASSWORD})
    assert_error(form, 415, "UNSUPPORTED_MEDIA_TYPE")
