"""chats.history_fast answers a plain history request with exactly what Django would send, and
hands every other request to Django untouched."""

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import friendship_create
from accounts.sessions import SID_CLAIM, revoke_session
from chats import services
from chats.history_fast import HistoryFastPath
from chats.models import Chat, Message
from groups.services import group_create, group_dissolve
from imsuite.http_handler import SyncChainASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)  # the fast path reads from database threads


class Recorder:
    """Django's handler, noting which requests reached it."""

    def __init__(self) -> None:
        self.django = SyncChainASGIHandler()
        self.paths: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await self.django(scope, receive, send)


def call(app: Any, path: str, query: str = "", headers: dict[str, str] | None = None, method: str = "GET"):
    """One request through an ASGI app: (status, headers sorted, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (k.lower().encode(), v.encode()) for k, v in {"Host": "127.0.0.1", **(headers or {})}.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }

    async def go() -> list[dict]:
        sent: list[dict] = []
        requested = False
        never = asyncio.get_running_loop().create_future()

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await never  # the client stays connected

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    sent = async_to_sync(go)()
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], sorted((k.lower(), v) for k, v in start["headers"]), body


def bearer(user: User, **claims: Any) -> dict[str, str]:
    token = AccessToken.for_user(user)
    for name, value in claims.items():
        token[name] = value
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    cache.clear()


@pytest.fixture
def history(pair: Chat, alice: User, bob: User) -> list[int]:
    """Seven messages: Bob's and Alice's with client ids, one edited, one deleted."""
    ids = []
    for i in range(7):
        sender = alice if i % 2 else bob
        ids.append(
            services.message_send(actor=sender, chat_id=pair.pk, content=f"m{i}", client_msg_id=f"c{i}")[0].pk
        )
    services.message_edit(actor=bob, message_id=ids[2], content="edited")
    services.message_delete(actor=alice, message_id=ids[3])
    return ids


def compare(path: str, query: str = "", headers: dict[str, str] | None = None) -> tuple[int, Any, bool]:
    """The request through the fast path and through Django alone: the same answer. Returns its
    status, JSON body, and whether the fast path answered it itself."""
    recorder = Recorder()
    fast = call(HistoryFastPath(recorder), path, query, headers)
    answered_fast = not recorder.paths
    django = call(SyncChainASGIHandler(), path, query, headers)
    assert fast == django
    is_json = (b"content-type", b"application/json") in fast[1]
    return fast[0], json.loads(fast[2]) if is_json else fast[2], answered_fast


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        ("", {}, "en"),
        ("limit=2", {"Accept-Language": "zh-CN,zh;q=0.9"}, "zh-hans"),
        ("limit=3&before=999999&utm=x", {"Cookie": "django_language=zh-hans; other=1"}, "zh-hans"),
        ("limit=9&limit=2", {"Accept-Language": "fr"}, "en"),  # a repeated name: the last value
    ],
)
def test_a_plain_page_is_answered_fast_as_django_answers_it(
    pair: Chat, alice: User, history: list[int], query: str, headers: dict, language: str
) -> None:
    status, body, answered_fast = compare(
        f"/api/chats/{pair.pk}/messages", query, {**bearer(alice), **headers}
    )
    assert (status, answered_fast) == (200, True)
    limit = 2 if "limit=2" in query else 3 if "limit=3" in query else 50
    assert [m["id"] for m in body["results"]] == history[::-1][:limit]
    assert body["next_before"] == (history[::-1][limit - 1] if limit < 7 else None)
    own = {m["id"]: m["client_msg_id"] for m in body["results"]}
    assert all(
        (value is None) == (Message.objects.get(pk=pk).sender_id != alice.pk) for pk, value in own.items()
    )
    fast = call(
        HistoryFastPath(Recorder()), f"/api/chats/{pair.pk}/messages", query, {**bearer(alice), **headers}
    )
    assert (b"content-language", language.encode()) in fast[1]


def test_a_middle_page_and_the_last_page_are_answered_fast(pair: Chat, bob: User, history: list[int]) -> None:
    status, body, answered_fast = compare(
        f"/api/chats/{pair.pk}/messages", f"limit=3&before={history[5]}", bearer(bob)
    )
    assert (status, answered_fast) == (200, True)
    assert ([m["id"] for m in body["results"]], body["next_before"]) == (history[2:5][::-1], history[2])
    deleted = next(m for m in body["results"] if m["id"] == history[3])
    assert (deleted["content"], deleted["is_deleted"]) == ("", True)
    status, body, answered_fast = compare(
        f"/api/chats/{pair.pk}/messages", f"before={history[2]}", bearer(bob)
    )
    assert (status, answered_fast, [m["id"] for m in body["results"]]) == (200, True, history[:2][::-1])
    assert body["next_before"] is None


def test_every_other_request_is_left_to_django(
    pair: Chat, alice: User, bob: User, carol: User, history: list[int]
) -> None:
    path = f"/api/chats/{pair.pk}/messages"
    revoked = bearer(alice, **{SID_CLAIM: "gone"})
    revoke_session("gone")
    expired = AccessToken.for_user(alice)
    expired.set_exp(lifetime=-AccessToken.lifetime - AccessToken.lifetime)
    cases = [
        (path, "", {}, 401),  # no token
        (path, "", {"Authorization": "Bearer not-a-token"}, 401),
        (path, "", {"Authorization": f"Bearer {expired}"}, 401),
        (path, "", {"Authorization": f"Token {AccessToken.for_user(alice)}"}, 401),
        (path, "", revoked, 401),  # a signed-out session
        (path, "", bearer(carol), 404),  # not a member
        (f"/api/chats/{pair.pk + 1000}/messages", "", bearer(alice), 404),  # no such chat
        (path, f"before={history[0]}", bearer(alice), 200),  # before the first message: empty
        (path, "limit=0", bearer(alice), 400),
        (path, "limit=abc", bearer(alice), 400),
        (path, "before=-1", bearer(alice), 400),
        (path, "limit=101", bearer(alice), 400),
        (path, "", {**bearer(alice), "Host": "evil.example"}, 400),  # not an allowed host
    ]
    for where, query, headers, status in cases:
        got, _body, answered_fast = compare(where, query, headers)
        assert (got, answered_fast) == (status, False), (where, query, headers)
    cache.clear()  # a wiped cache (Redis restarted): the sign-out is read from the database
    assert compare(path, "", revoked)[::2] == (401, False)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert compare(path, "", bearer(alice))[::2] == (401, False)


def test_a_former_member_of_a_dissolved_group_still_reads_its_history_fast(alice: User, bob: User) -> None:
    friendship_create(user_a=alice, user_b=bob)
    group = group_create(actor=alice, name="Old", member_ids=[bob.pk])
    services.message_send(actor=bob, chat_id=group.chat_id, content="still here")
    group_dissolve(actor=alice, group_id=group.pk)
    status, body, answered_fast = compare(f"/api/chats/{group.chat_id}/messages", "", bearer(bob))
    assert (status, answered_fast, [m["content"] for m in body["results"]]) == (200, True, ["still here"])


@pytest.mark.parametrize("window", ["around", "after"])
def test_a_window_page_goes_to_django(pair: Chat, alice: User, history: list[int], window: str) -> None:
    """?around= and ?after= answer another shape (next_after): the fast path never takes them,
    whatever else the query holds."""
    query = f"{window}={history[2]}&limit=3"
    status, body, answered_fast = compare(f"/api/chats/{pair.pk}/messages", query, bearer(alice))
    assert (status, answered_fast) == (200, False)
    expected = history[3:0:-1] if window == "around" else history[5:2:-1]
    assert ([m["id"] for m in body["results"]], body["next_after"]) == (expected, expected[0])
    status, _, answered_fast = compare(
        f"/api/chats/{pair.pk}/messages", f"limit=3&before={history[5]}&{window}=x", bearer(alice)
    )
    assert (status, answered_fast) == (400, False)


def test_other_methods_and_paths_go_to_django(pair: Chat, alice: User, history: list[int]) -> None:
    recorder = Recorder()
    app = HistoryFastPath(recorder)
    call(app, f"/api/chats/{pair.pk}/messages", "", bearer(alice), method="HEAD")
    call(app, f"/api/chats/0{pair.pk}/messages", "", bearer(alice))
    call(app, f"/api/chats/{pair.pk}", "", bearer(alice))
    assert recorder.paths == [
        f"/api/chats/{pair.pk}/messages",
        f"/api/chats/0{pair.pk}/messages",
        f"/api/chats/{pair.pk}",
    ]


def test_behind_tls_plain_http_goes_to_django_and_https_is_answered_fast_with_hsts(
    settings: Any, pair: Chat, alice: User, history: list[int]
) -> None:
    """BEHIND_TLS_PROXY's settings: plain HTTP is Django's redirect; HTTPS (the scheme, or the
    proxy's X-Forwarded-Proto) is answered fast, HSTS included, exactly as Django answers it."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    path = f"/api/chats/{pair.pk}/messages"
    recorder = Recorder()
    status, headers, _body = call(HistoryFastPath(recorder), path, "", bearer(alice))
    assert (status, recorder.paths) == (301, [path])
    assert (b"location", f"https://127.0.0.1{path}".encode()) in headers
    for proto in ("https", "https, http"):  # Django reads the first value, as the fast path does
        status, _body, answered_fast = compare(path, "", {**bearer(alice), "X-Forwarded-Proto": proto})
        assert (status, answered_fast) == (200, True)
    fast = call(HistoryFastPath(Recorder()), path, "", {**bearer(alice), "X-Forwarded-Proto": "https"})
    assert (b"strict-transport-security", b"max-age=3600; preload") in fast[1]
    status, _body, answered_fast = compare(path, "", {**bearer(alice), "X-Forwarded-Proto": "http"})
    assert (status, answered_fast) == (301, False)
