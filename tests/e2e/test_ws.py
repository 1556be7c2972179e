"""The client WebSocket protocol (/ws) on the real server: daphne over TCP on 127.0.0.1, driven by the
websockets client library; people, friendships and chats are set up over real HTTP.

Every frame is asserted whole (type, payload, top-level seq, an ISO 8601 UTC timestamp). Every wait
is bounded. "Nothing else arrived" is proven with a ping barrier: the connection's next frame is the
pong, sent after the event had already reached the connections that should have it.
"""

import asyncio
import json
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from django.conf import settings
from jwt.warnings import InsecureKeyLengthWarning
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import PASSWORD
from tests.e2e.conftest import WS_TIMEOUT_SECONDS, daphne_log_path, recv_frame, send_frame
from tests.e2e.test_http import ISO_UTC, call

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these

CLOSE_POLICY = 1008
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
FOREIGN_ORIGIN = "https://evil.example"
PING_TIME = "2025-10-07T12:00:00Z"
# Longer than several of a hub's blocking stream reads (1 s each) and a heartbeat (5 s).
QUIET_SECONDS = 7.0
FOREIGN_KEY = "a-signing-key-that-is-not-the-servers-one"

Opener = Callable[..., Any]  # the ws_clients fixture: await open_ws(base_url, **options)


@pytest.fixture(autouse=True)
def no_server_tracebacks(e2e_log_dir: Path) -> Iterator[None]:
    """No daphne logs a traceback during a test: a server failure that never shows in a frame (an
    exception after the last one, a close that fails) fails the test too."""
    before = {path: path.stat().st_size for path in e2e_log_dir.glob("*.log")}
    yield
    for path in sorted(e2e_log_dir.glob("*.log")):
        with path.open("rb") as log:
            log.seek(before.get(path, 0))
            written = log.read().decode(errors="replace")
        assert "Traceback" not in written, f"{path}:\n{written[-4000:]}"


# ---- people and chats over real HTTP -------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    nickname: str
    token: str

    def ref(self) -> dict[str, Any]:
        """The short user object frames embed (sender, typing, presence)."""
        return {"id": self.id, "nickname": self.nickname, "avatar_url": ""}


async def http(
    base_url: str, method: str, path: str, body: Any = None, *, token: str = "", expect: int
) -> Any:
    """One REST call (off the event loop, so open connections keep reading); its JSON answer."""
    reply = await asyncio.to_thread(call, base_url, method, path, body, token=token or None)
    assert reply.status == expect, reply.text
    return reply.json()


async def sign_up(base_url: str, username: str, nickname: str) -> Person:
    body = {"username": username, "password": PASSWORD, "nickname": nickname}
    user = await http(base_url, "POST", "/api/auth/register", body, expect=201)
    credentials = {"username": username, "password": PASSWORD}
    tokens = await http(base_url, "POST", "/api/auth/token", credentials, expect=200)
    return Person(user["id"], nickname, tokens["access"])


async def befriend(a: Person, a_url: str, b: Person, b_url: str) -> None:
    """a asks b through a_url; b finds the request and accepts it through b_url."""
    sent = await http(
        a_url, "POST", "/api/friends/requests", {"user_id": b.id, "comment": "hi"}, token=a.token, expect=201
    )
    assert (sent["from_user"], sent["to_user"], sent["status"]) == (a.ref(), b.ref(), "pending")
    pending = await http(b_url, "GET", "/api/friends/requests", token=b.token, expect=200)
    assert [request["id"] for request in pending] == [sent["id"]]
    accept = f"/api/friends/requests/{sent['id']}/accept"
    assert (await http(b_url, "POST", accept, token=b.token, expect=200))["status"] == "accepted"


async def private_chat(a: Person, a_url: str, b: Person, b_url: str) -> int:
    """Both open their private chat; it is one chat, titled with the other person's nickname."""
    mine = await http(a_url, "POST", "/api/chats/private", {"user_id": b.id}, token=a.token, expect=200)
    theirs = await http(b_url, "POST", "/api/chats/private", {"user_id": a.id}, token=b.token, expect=200)
    assert mine["id"] == theirs["id"]
    assert (mine["type"], mine["title"], theirs["title"]) == ("private", b.nickname, a.nickname)
    assert (mine["member_count"], mine["unread_count"], mine["last_message"]) == (2, 0, None)
    return mine["id"]


async def two_friends(base_url: str, other_url: str | None = None) -> tuple[Person, Person, int]:
    """Ann (on base_url) and Ben (on other_url, default the same server): friends with a private chat."""
    other_url = other_url or base_url
    ann = await sign_up(base_url, "ann", "Ann")
    ben = await sign_up(other_url, "ben", "Ben")
    await befriend(ann, base_url, ben, other_url)
    return ann, ben, await private_chat(ann, base_url, ben, other_url)


# ---- frames --------------------------------------------------------------------------------------


def iso(value: Any) -> str:
    """A server-chosen moment: ISO 8601 in UTC. Returns it, to be put into the expected frame."""
    assert isinstance(value, str), value
    assert ISO_UTC.fullmatch(value), value
    return value


def check(frame: dict[str, Any], event_type: str, payload: dict[str, Any], **top: Any) -> None:
    """frame is exactly {type, payload, timestamp} plus `top` (seq), its timestamp in UTC."""
    assert frame == {"type": event_type, "payload": payload, "timestamp": iso(frame.get("timestamp")), **top}


async def expect(ws: ClientConnection, event_type: str, payload: dict[str, Any], **top: Any) -> None:
    check(await recv_frame(ws), event_type, payload, **top)


async def expect_connect(ws: ClientConnection, person: Person, last_seq: int) -> None:
    frame = await recv_frame(ws)
    server_time = iso(frame.get("payload", {}).get("server_time"))
    payload = {"status": "connected", "user_id": person.id, "server_time": server_time, "last_seq": last_seq}
    check(frame, "connect", payload)


async def expect_presence(ws: ClientConnection, person: Person, is_online: bool) -> str:
    """A presence frame about person; returns its last_seen."""
    frame = await recv_frame(ws)
    last_seen = iso(frame.get("payload", {}).get("last_seen"))
    payload = {"user_id": person.id, "is_online": is_online, "last_seen": last_seen, "user": person.ref()}
    check(frame, "presence", payload)
    return last_seen


async def expect_typing(ws: ClientConnection, chat_id: int, person: Person, is_typing: bool) -> None:
    payload = {"chat_id": chat_id, "user_id": person.id, "is_typing": is_typing, "user": person.ref()}
    await expect(ws, "typing", payload)


async def nothing_pending(*connections: ClientConnection) -> None:
    """Each connection's next frame is the answer to a ping sent now: nothing else was waiting."""
    for ws in connections:
        marker = f"barrier-{uuid.uuid4().hex}"
        await send_frame(ws, "ping", {"timestamp": marker})
        await expect(ws, "pong", {"timestamp": marker})


async def expect_auth_failure(ws: ClientConnection, reason: str, message: str) -> None:
    """The server accepted, explains, then closes with 1008 and sends nothing more."""
    details = {"reason": reason}
    await expect(ws, "error", {"error_code": "AUTHENTICATION_FAILED", "message": message, "details": details})
    await expect_close(ws, CLOSE_POLICY)


async def expect_close(ws: ClientConnection, code: int) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        await recv_frame(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


def message_of(
    frame: dict[str, Any], *, chat_id: int, sender: Person, content: str, client_msg_id: str | None
) -> dict[str, Any]:
    """The expected `message` of a fresh message as its sender sees it, the server's id and
    created_at taken from frame (and checked)."""
    got = frame.get("payload", {}).get("message", {})
    assert isinstance(got.get("id"), int), frame
    return {
        "id": got["id"],
        "chat_id": chat_id,
        "sender_id": sender.id,
        "content": content,
        "message_type": "text",
        "reply_to_id": None,
        "client_msg_id": client_msg_id,
        "created_at": iso(got.get("created_at")),
        "is_edited": False,
        "updated_at": None,
        "is_deleted": False,
        "deleted_by": None,
        "deleted_at": None,
        "attachments": [],
        "mentions": [],
    }


def as_seen_by_others(message: dict[str, Any]) -> dict[str, Any]:
    """client_msg_id is the sender's own: nobody else gets the field."""
    return {k: v for k, v in message.items() if k != "client_msg_id"}


def chat_ref(chat_id: int, title: str) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "title": title}


def token_signed(user_id: int, key: str, lifetime: timedelta) -> str:
    """An access token like the server's, signed with `key`, expiring after `lifetime` (may be negative)."""
    now = datetime.now(UTC)
    claims = {
        "token_type": "access",
        "user_id": str(user_id),
        "jti": uuid.uuid4().hex,
        "iat": int((now - timedelta(hours=1)).timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    with warnings.catch_warnings():  # a test run's SECRET_KEY may be short
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm="HS256")


# ---- 1. two users, one of them on two devices ----------------------------------------------------


async def test_two_users_three_connections_exchange_every_event(daphne_url: str, ws_clients: Opener) -> None:
    ann, ben, chat_id = await two_friends(daphne_url)

    ann_phone = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_phone, ann, last_seq=0)
    ann_laptop = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_laptop, ann, last_seq=0)  # Ann was online already: no presence for this one
    ben_ws = await ws_clients(daphne_url, query=f"token={ben.token}")
    await expect_connect(ben_ws, ben, last_seq=0)
    # Ben's first connection: both of Ann's devices hear that he is online, at the same last_seen.
    seen = {await expect_presence(ann_phone, ben, True), await expect_presence(ann_laptop, ben, True)}
    assert len(seen) == 1
    await nothing_pending(ann_phone, ann_laptop, ben_ws)

    # message.send: every connection of both members gets message.new, Ben's own as his acknowledgement.
    await send_frame(
        ben_ws,
        "message.send",
        {"chat_id": chat_id, "content": "  Hi Ann!  ", "message_type": "text", "client_msg_id": "ben-1"},
    )
    frame = await recv_frame(ben_ws)
    sent = message_of(frame, chat_id=chat_id, sender=ben, content="Hi Ann!", client_msg_id="ben-1")
    check(
        frame, "message.new", {"message": sent, "chat": chat_ref(chat_id, "Ann"), "sender": ben.ref()}, seq=1
    )
    for ws in (ann_phone, ann_laptop):
        payload = {"message": as_seen_by_others(sent), "chat": chat_ref(chat_id, "Ben"), "sender": ben.ref()}
        await expect(ws, "message.new", payload, seq=1)
    message_id = sent["id"]
    chats = await http(daphne_url, "GET", "/api/chats", token=ann.token, expect=200)
    assert [(c["id"], c["unread_count"], c["last_message"]["id"]) for c in chats] == [
        (chat_id, 1, message_id)
    ]

    # message.edit by its sender reaches all three connections, with the next seq.
    await send_frame(ben_ws, "message.edit", {"message_id": message_id, "content": "Hi Ann, how are you?"})
    frame = await recv_frame(ben_ws)
    edited = {
        **sent,
        "content": "Hi Ann, how are you?",
        "is_edited": True,
        "updated_at": iso(frame.get("payload", {}).get("message", {}).get("updated_at")),
    }
    check(frame, "message.edit", {"message": edited, "chat": chat_ref(chat_id, "Ann")}, seq=2)
    for ws in (ann_phone, ann_laptop):
        payload = {"message": as_seen_by_others(edited), "chat": chat_ref(chat_id, "Ben")}
        await expect(ws, "message.edit", payload, seq=2)

    # message.read from Ann's phone: the sender and Ann's other device hear it, the phone does not.
    await send_frame(ann_phone, "message.read", {"message_id": message_id})
    frame = await recv_frame(ben_ws)
    receipt = {
        "message_id": message_id,
        "chat_id": chat_id,
        "read_by": ann.id,
        "read_at": iso(frame.get("payload", {}).get("read_at")),
    }
    check(frame, "message.read", receipt)  # receipts move no seq
    await expect(ann_laptop, "message.read", receipt)
    await nothing_pending(ann_phone, ann_laptop, ben_ws)
    chats = await http(daphne_url, "GET", "/api/chats", token=ann.token, expect=200)
    assert [(c["unread_count"], c["last_read_message_id"]) for c in chats] == [(0, message_id)]

    # typing from Ann's phone reaches Ben only (not Ann's other device, not the phone itself).
    await send_frame(ann_phone, "typing", {"chat_id": chat_id, "is_typing": True})
    await expect_typing(ben_ws, chat_id, ann, True)
    await nothing_pending(ann_phone, ann_laptop, ben_ws)
    await send_frame(ann_phone, "typing", {"chat_id": chat_id, "is_typing": False})
    await expect_typing(ben_ws, chat_id, ann, False)
    await nothing_pending(ann_phone, ann_laptop, ben_ws)

    # message.delete by its sender reaches all three connections, with the next seq.
    await send_frame(ben_ws, "message.delete", {"message_id": message_id})
    frame = await recv_frame(ben_ws)
    deleted = {
        "message_id": message_id,
        "chat_id": chat_id,
        "deleted_by": ben.id,
        "deleted_at": iso(frame.get("payload", {}).get("deleted_at")),
    }
    check(frame, "message.delete", deleted, seq=3)
    for ws in (ann_phone, ann_laptop):
        await expect(ws, "message.delete", deleted, seq=3)

    # ping -> pong, echoing the client's timestamp; without one, the server's time.
    for ws in (ann_phone, ann_laptop, ben_ws):
        await send_frame(ws, "ping", {"timestamp": PING_TIME})
        await expect(ws, "pong", {"timestamp": PING_TIME})
    await send_frame(ben_ws, "ping", {})
    frame = await recv_frame(ben_ws)
    check(frame, "pong", {"timestamp": iso(frame.get("payload", {}).get("timestamp"))})

    # Ann's phone goes: she is still online on her laptop. When that goes too, Ben hears she left.
    await asyncio.wait_for(ann_phone.close(), WS_TIMEOUT_SECONDS)
    await nothing_pending(ben_ws)
    await asyncio.wait_for(ann_laptop.close(), WS_TIMEOUT_SECONDS)
    await expect_presence(ben_ws, ann, False)
    await nothing_pending(ben_ws)


async def test_a_quiet_connection_stays_open_and_keeps_receiving(daphne_url: str, ws_clients: Opener) -> None:
    """Nothing happens for longer than the channel layer's blocking receive: no frame, no close (a
    failing receive would end the consumer, and daphne would close with 1011); then events flow."""
    ann, ben, chat_id = await two_friends(daphne_url)
    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=0)
    ben_ws = await ws_clients(daphne_url, query=f"token={ben.token}")
    await expect_connect(ben_ws, ben, last_seq=0)
    await expect_presence(ann_ws, ben, True)

    async def stays_quiet(ws: ClientConnection) -> None:
        with pytest.raises(TimeoutError):  # what arrives instead (a frame, a close) fails the test
            await asyncio.wait_for(ws.recv(), QUIET_SECONDS)

    await asyncio.gather(stays_quiet(ann_ws), stays_quiet(ben_ws))
    await send_frame(ben_ws, "message.send", {"chat_id": chat_id, "content": "still there?"})
    frame = await recv_frame(ben_ws)
    sent = message_of(frame, chat_id=chat_id, sender=ben, content="still there?", client_msg_id=None)
    check(
        frame, "message.new", {"message": sent, "chat": chat_ref(chat_id, "Ann"), "sender": ben.ref()}, seq=1
    )
    payload = {"message": as_seen_by_others(sent), "chat": chat_ref(chat_id, "Ben"), "sender": ben.ref()}
    await expect(ann_ws, "message.new", payload, seq=1)
    await nothing_pending(ann_ws, ben_ws)


# ---- 2. authentication and the Origin check ------------------------------------------------------


@pytest.mark.parametrize("carrier", ["query", "header", "subprotocol"])
async def test_the_token_may_come_in_the_query_a_header_or_a_subprotocol(
    daphne_url: str, ws_clients: Opener, carrier: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    options: dict[str, Any] = {
        "query": {"query": f"token={ann.token}"},
        "header": {"additional_headers": {"Authorization": f"Bearer {ann.token}"}},
        "subprotocol": {"subprotocols": [f"bearer.{ann.token}"]},
    }[carrier]
    ws = await ws_clients(daphne_url, **options)
    assert ws.subprotocol == (f"bearer.{ann.token}" if carrier == "subprotocol" else None)
    await expect_connect(ws, ann, last_seq=0)
    await nothing_pending(ws)


@pytest.mark.parametrize(
    ("token", "carrier", "reason", "message"),
    [
        (None, "query", "missing", "An access token is required."),
        ("not-a-jwt", "query", "token_invalid", "Token is invalid"),
        ("not-a-jwt", "header", "token_invalid", "Token is invalid"),
        ("not-a-jwt", "subprotocol", "token_invalid", "Token is invalid"),
        ("forged", "query", "token_invalid", "Token is invalid"),
        ("expired", "header", "token_expired", "Token is expired"),
    ],
)
async def test_a_bad_token_gets_an_error_then_close_1008(
    daphne_url: str, ws_clients: Opener, token: str | None, carrier: str, reason: str, message: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    if token == "forged":  # well-formed, but not signed with the server's key
        token = token_signed(ann.id, FOREIGN_KEY, timedelta(minutes=5))
    elif token == "expired":  # signed with the server's key (the test run's SECRET_KEY), but too old
        token = token_signed(ann.id, settings.SIMPLE_JWT["SIGNING_KEY"], timedelta(minutes=-1))
    options: dict[str, Any] = {}
    if token is not None:
        options = {
            "query": {"query": f"token={token}"},
            "header": {"additional_headers": {"Authorization": f"Bearer {token}"}},
            "subprotocol": {"subprotocols": [f"bearer.{token}"]},
        }[carrier]
    ws = await ws_clients(daphne_url, **options)
    assert ws.subprotocol == (f"bearer.{token}" if carrier == "subprotocol" else None)
    await expect_auth_failure(ws, reason, message)


async def test_a_browser_origin_must_be_an_allowed_host(daphne_url: str, ws_clients: Opener) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    port = urlsplit(daphne_url).port
    ws = await ws_clients(daphne_url, query=f"token={ann.token}", origin=f"http://127.0.0.1:{port}")
    await expect_connect(ws, ann, last_seq=0)
    with pytest.raises(InvalidStatus) as refused:
        await ws_clients(daphne_url, query=f"token={ann.token}", origin=FOREIGN_ORIGIN)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:  # the check comes first: a good token does not help
        await ws_clients(daphne_url, subprotocols=[f"bearer.{ann.token}"], origin=FOREIGN_ORIGIN)
    assert refused.value.response.status_code == 403
    await nothing_pending(ws)


async def test_bad_frames_get_an_error_or_the_close_code_of_the_protocol(
    daphne_url: str, ws_clients: Opener
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ws, ann, last_seq=0)
    await asyncio.wait_for(ws.send('{"type": "ping", '), WS_TIMEOUT_SECONDS)
    details = {"reason": "malformed_json", "event": None}
    error = {"error_code": "VALIDATION_ERROR", "message": "The frame is not valid JSON.", "details": details}
    await expect(ws, "error", error)
    await nothing_pending(ws)  # the connection stays open

    binary = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(binary, ann, last_seq=0)
    await asyncio.wait_for(binary.send(b'{"type": "ping", "payload": {}}'), WS_TIMEOUT_SECONDS)
    await expect_close(binary, CLOSE_UNSUPPORTED)

    big = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(big, ann, last_seq=0)
    frame = json.dumps({"type": "ping", "payload": {"timestamp": "x" * (64 * 1024)}})
    await asyncio.wait_for(big.send(frame), WS_TIMEOUT_SECONDS)
    await expect_close(big, CLOSE_TOO_BIG)
    await nothing_pending(ws)


# ---- 3. no lost messages across a reconnect ------------------------------------------------------


async def test_sync_after_a_reconnect_replays_what_was_missed(daphne_url: str, ws_clients: Opener) -> None:
    ann, ben, chat_id = await two_friends(daphne_url)
    messages = f"/api/chats/{chat_id}/messages"
    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=0)
    first = await http(daphne_url, "POST", messages, {"content": "one"}, token=ben.token, expect=201)
    frame = await recv_frame(ann_ws)
    last_seen_seq = frame.get("seq")
    assert isinstance(last_seen_seq, int)
    payload = {"message": as_seen_by_others(first), "chat": chat_ref(chat_id, "Ben"), "sender": ben.ref()}
    check(frame, "message.new", payload, seq=last_seen_seq)

    await asyncio.wait_for(ann_ws.close(), WS_TIMEOUT_SECONDS)
    missed = [
        await http(daphne_url, "POST", messages, {"content": text}, token=ben.token, expect=201)
        for text in ("two", "three", "four")
    ]

    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=last_seen_seq + 3)
    await send_frame(ann_ws, "sync", {"since_seq": last_seen_seq})
    for seq, message in enumerate(missed, start=last_seen_seq + 1):
        payload = {
            "message": as_seen_by_others(message),
            "chat": chat_ref(chat_id, "Ben"),
            "sender": ben.ref(),
        }
        await expect(ann_ws, "message.new", payload, seq=seq)
    await expect(ann_ws, "sync.done", {"last_seq": last_seen_seq + 3, "has_more": False})
    await nothing_pending(ann_ws)

    # History over REST shows the same messages, newest first.
    page = await http(daphne_url, "GET", messages, token=ann.token, expect=200)
    assert [m["id"] for m in page["results"]] == [m["id"] for m in reversed([first, *missed])]


# ---- 4. query-string tokens stay out of the logs -------------------------------------------------


async def log_once(path: Path, written: Callable[[list[str]], bool], after: int = 0) -> str:
    """The log's text from byte `after` on, once written(its lines) holds (daphne writes each line
    as it happens); bounded."""
    deadline = time.monotonic() + WS_TIMEOUT_SECONDS
    while True:
        text = path.read_bytes()[after:].decode(errors="replace")
        if written(text.splitlines()):
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"{path} still lacks the expected lines after {WS_TIMEOUT_SECONDS} s")
        await asyncio.sleep(0.05)  # polling a file, bounded by the deadline


@pytest.mark.parametrize("log_level", ["default", "DEBUG"])
async def test_query_string_tokens_never_reach_the_log(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    e2e_log_dir: Path,
    ws_clients: Opener,
    log_level: str,
) -> None:
    url = daphne_url if log_level == "default" else start_daphne({**server_env, "LOG_LEVEL": log_level})
    path = daphne_log_path(e2e_log_dir, url)
    # This test's lines only: the session's server logged earlier tests' requests, and one of them
    # may have come from the port this connection's client port reuses.
    before = path.stat().st_size if path.exists() else 0
    ann = await sign_up(url, "ann", "Ann")
    ws = await ws_clients(url, query=f"token={ann.token}")
    await expect_connect(ws, ann, last_seq=0)
    host, port = ws.local_address[:2]
    client = f"{host}:{port} "  # how daphne's access log starts this connection's lines
    # A refused browser handshake and a failed sign-in carry a token in the query too.
    with pytest.raises(InvalidStatus):
        await ws_clients(url, query=f"token={ann.token}", origin=FOREIGN_ORIGIN)
    forged = token_signed(ann.id, FOREIGN_KEY, timedelta(minutes=5))
    failed = await ws_clients(url, query=f"token={forged}")
    await expect_auth_failure(failed, "token_invalid", "Token is invalid")
    await asyncio.wait_for(ws.close(), WS_TIMEOUT_SECONDS)

    # The access log names this very connection, by path only, so this is the right file and it is
    # written up to the close; neither token appears in it.
    log = await log_once(
        path, lambda lines: any(ln.startswith(client) and "WSDISCONNECT" in ln for ln in lines), before
    )
    mine = [line for line in log.splitlines() if line.startswith(client)]
    assert [line.split('"')[1] for line in mine] == ["WSCONNECTING /ws", "WSCONNECT /ws", "WSDISCONNECT /ws"]
    assert ann.token not in log
    assert forged not in log
    assert ann.token.split(".")[2] not in log  # not even the signature alone


# ---- 5. two daphne processes sharing PostgreSQL and Redis ----------------------------------------


async def test_two_servers_deliver_to_one_another(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    ws_clients: Opener,
) -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip(
            "embedded leg (no REDIS_URL): the in-memory channel layer lives inside one process and "
            "cannot be shared by two daphne processes; this runs on the PostgreSQL + Redis leg"
        )
    other_url = start_daphne(server_env)  # same database, same Redis channel layer and prefix
    assert other_url != daphne_url
    ann, ben, chat_id = await two_friends(daphne_url, other_url)

    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=0)
    ben_ws = await ws_clients(other_url, query=f"token={ben.token}")
    await expect_connect(ben_ws, ben, last_seq=0)
    await expect_presence(ann_ws, ben, True)  # from the other server

    # typing crosses over (Ben's server knows, through Redis, that Ann is online).
    await send_frame(ben_ws, "typing", {"chat_id": chat_id, "is_typing": True})
    await expect_typing(ann_ws, chat_id, ben, True)
    await send_frame(ben_ws, "typing", {"chat_id": chat_id, "is_typing": False})
    await expect_typing(ann_ws, chat_id, ben, False)

    # Messages both ways, each acknowledged on the sender's server and delivered on the other.
    await send_frame(ben_ws, "message.send", {"chat_id": chat_id, "content": "from B", "client_msg_id": "b1"})
    frame = await recv_frame(ben_ws)
    from_ben = message_of(frame, chat_id=chat_id, sender=ben, content="from B", client_msg_id="b1")
    check(
        frame,
        "message.new",
        {"message": from_ben, "chat": chat_ref(chat_id, "Ann"), "sender": ben.ref()},
        seq=1,
    )
    payload = {"message": as_seen_by_others(from_ben), "chat": chat_ref(chat_id, "Ben"), "sender": ben.ref()}
    await expect(ann_ws, "message.new", payload, seq=1)

    await send_frame(ann_ws, "message.send", {"chat_id": chat_id, "content": "from A", "client_msg_id": "a1"})
    frame = await recv_frame(ann_ws)
    from_ann = message_of(frame, chat_id=chat_id, sender=ann, content="from A", client_msg_id="a1")
    check(
        frame,
        "message.new",
        {"message": from_ann, "chat": chat_ref(chat_id, "Ben"), "sender": ann.ref()},
        seq=2,
    )
    payload = {"message": as_seen_by_others(from_ann), "chat": chat_ref(chat_id, "Ann"), "sender": ann.ref()}
    await expect(ben_ws, "message.new", payload, seq=2)

    # A read receipt crosses over to the sender.
    await send_frame(ann_ws, "message.read", {"message_id": from_ben["id"]})
    frame = await recv_frame(ben_ws)
    receipt = {
        "message_id": from_ben["id"],
        "chat_id": chat_id,
        "read_by": ann.id,
        "read_at": iso(frame.get("payload", {}).get("read_at")),
    }
    check(frame, "message.read", receipt)
    await nothing_pending(ann_ws, ben_ws)

    # Ann leaves her server: Ben, on the other, hears it.
    await asyncio.wait_for(ann_ws.close(), WS_TIMEOUT_SECONDS)
    await expect_presence(ben_ws, ann, False)
    await nothing_pending(ben_ws)
