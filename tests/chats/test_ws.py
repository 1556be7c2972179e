"""The client WebSocket protocol (/ws) end to end through imsuite.asgi.application: every client
event, every server event and every error of issue 3, with exact frames and the rows behind them.

Devices are driven with channels' WebsocketCommunicator (see ws_helpers). Data is made in sync
fixtures before the devices connect, or with `call` (sync_to_async) from the tests.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.conf import settings
from django.db import connections as databases
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import presence
from accounts import services as account_services
from accounts.models import User
from accounts.sessions import new_refresh_token, open_sessions
from chats import connection_queues, selectors, services
from chats.models import Chat, ChatMember, Message, Role, SeqCounter
from groups.models import Group, Mute
from groups.services import group_create
from imsuite import db_outage, event_routes, redis_nodes, routed_hub
from imsuite import hub as hub_module
from imsuite.events import HUB_GROUP
from imsuite.hub import get_hub
from tests.shared_state import forget_shared_state

from .ws_helpers import (
    WAIT,
    Connections,
    Device,
    access_token,
    call,
    consumer_of,
    delete_frame,
    edit_frame,
    error_frame,
    is_utc_iso,
    iso,
    new_frame,
    presence_frame,
    ref,
    without_message,
)

pytestmark = pytest.mark.django_db(transaction=True)


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh() -> None:
    forget_shared_state()


@pytest.fixture
async def ws(transactional_db: None) -> AsyncIterator[Connections]:
    """The test's devices, on a channel layer of the test's own: channels-redis binds locks and
    connections to the event loop that first used them, and every test has its own loop."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    connections = Connections()
    yield connections
    await connections.close_all()
    layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if hasattr(layer, "close_pools"):
        await layer.close_pools()
    await sync_to_async(databases.close_all)()  # the worker thread's, or PostgreSQL keeps the test DB busy


@pytest.fixture
def dave(make_user: Callable[..., User]) -> User:
    return make_user("dave", nickname="Dave")


@pytest.fixture
def people(alice: User, bob: User, carol: User, dave: User) -> dict[str, User]:
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


@pytest.fixture
def group(alice: User, bob: User, carol: User) -> Group:
    """Alice (friends with Bob and with Carol, so two private chats too) owns "Team" with both."""
    for friend in (bob, carol):
        account_services.friendship_create(user_a=alice, user_b=friend)
    return group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])


@pytest.fixture
def hello(group: Group, alice: User) -> int:
    """A message of Alice's in the group, sent before anyone connects; its id."""
    return send_now(alice, group.pk, "hello", client_msg_id="c-hello").pk


def send_now(actor: User, chat_id: int, content: str = "hello", **extra: Any) -> Message:
    message, created = services.message_send(actor=actor, chat_id=chat_id, content=content, **extra)
    assert created
    return message


def private_chat_id(a: User, b: User) -> int:
    low, high = sorted((a.pk, b.pk))
    return Chat.objects.get(private_key=f"{low}:{high}").pk


def message_row(message_id: int) -> Message:
    return Message.objects.get(pk=message_id)


async def post(device: Device, chat_id: int, content: str = "hello", **extra: Any) -> int:
    """Send a message from a device; its id, from the device's own message.new (the acknowledgement)."""
    ack = await device.request("message.send", {"chat_id": chat_id, "content": content, **extra})
    assert ack["type"] == "message.new", ack
    return ack["payload"]["message"]["id"]


def rest(client_for: Callable[[User], Any], user: User, method: str, url: str, **kwargs: Any) -> Any:
    """A REST call as this user (run it with `call`)."""
    return getattr(client_for(user), method)(url, format="json", **kwargs)


async def message_count() -> int:
    return await call(Message.objects.count)


def disconnected(reason: str) -> dict[str, Any]:
    return {"type": "disconnect", "payload": {"status": "disconnected", "reason": reason}}


def typing_frame(user: User, chat_id: int, is_typing: bool) -> dict[str, Any]:
    payload = {"chat_id": chat_id, "user_id": user.pk, "is_typing": is_typing, "user": ref(user)}
    return {"type": "typing", "payload": payload}


# ---- connection: authentication and origin --------------------------------------------------------

TRANSPORTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "query": lambda token: {"query": f"?token={token}"},
    "header": lambda token: {"headers": [(b"authorization", f"Bearer {token}".encode())]},
    "subprotocol": lambda token: {"subprotocols": [f"bearer.{token}"]},
}


def selected_subprotocol(transport: str, token: str) -> str | None:
    """A token that came as a subprotocol is selected, so that a browser completes the handshake."""
    return f"bearer.{token}" if transport == "subprotocol" else None


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_each_token_transport_connects(ws, alice, transport):
    token = access_token(alice)
    device, accepted, subprotocol = await ws.open(**TRANSPORTS[transport](token))
    assert (accepted, subprotocol) == (True, selected_subprotocol(transport, token))
    hello = await device.frame()
    assert is_utc_iso(hello["payload"].pop("server_time"))
    assert hello == {
        "type": "connect",
        "payload": {"status": "connected", "user_id": alice.pk, "last_seq": 0},
    }


async def test_a_burst_of_connections_is_set_up_a_few_at_a_time(ws, make_user, settings, monkeypatch):
    """WS_SETUP_CONCURRENCY bounds how many connections are set up at once (their database work is
    one batch, chats.connection_queues); the others wait, with their handshake done, and every one of them is
    connected in the end."""
    settings.IMSUITE = {**settings.IMSUITE, "WS_SETUP_CONCURRENCY": 2}
    users = [await sync_to_async(make_user)() for _ in range(6)]
    batches: list[list[int]] = []
    opened = account_services.connections_opened

    def counted(openings: list[Any]) -> None:
        batches.append([actor.pk for actor, _, _ in openings])
        time.sleep(0.05)  # long enough for the others to arrive if nothing held them back
        opened(openings)

    monkeypatch.setattr(account_services, "connections_opened", counted)
    devices = await asyncio.gather(*(ws.connect(user) for user in users))
    assert max(len(batch) for batch in batches) <= 2
    assert sorted(pk for batch in batches for pk in batch) == sorted(user.pk for user in users)
    assert [device.user.pk for device in devices] == [user.pk for user in users]


async def test_connections_opening_together_share_a_batch_and_each_gets_its_own_answer(
    ws, make_user, monkeypatch
):
    """A storm of connections is set up in at most two batches: the first, then all that arrived
    while it was in the database. Each connection gets its own connect frame (its user, its last seq) or its
    own refusal; only those opened hold a lease; a user's two connections in one batch announce
    them online once."""
    friend, ann, ben, cid, dot = [await sync_to_async(make_user)() for _ in range(5)]
    await call(account_services.friendship_create, user_a=friend, user_b=ann)
    said = await call(
        send_now, actor=friend, chat_id=await call(private_chat_id, a=friend, b=ann), content="hi"
    )
    tokens = [access_token(ann), access_token(ann), access_token(ben)]
    tokens += [await call(deactivated_user_token, user=cid), await call(signed_out_session_token, user=dot)]
    listening = await ws.connect(friend)
    queue, batches = connection_queues.get_opening_queue(), []

    def first_held(claims: list[Any], extras: Any) -> Any:
        batches.append(sorted(each.user_id for each in claims))
        deadline = time.monotonic() + WAIT
        while len(batches) == 1 and len(queue.waiting) < len(tokens) - len(claims):
            assert time.monotonic() < deadline, "the other connections never arrived"
            time.sleep(0.01)
        return open_sessions(claims, extras)

    monkeypatch.setattr(connection_queues, "open_sessions", first_held)
    opened = await asyncio.gather(*(ws.open(query=f"?token={token}") for token in tokens))
    devices = [device for device, accepted, _ in opened if accepted]
    assert len(devices) == len(tokens)
    answers = [await device.frame() for device in devices]
    for answer in answers:
        answer["payload"].pop("server_time" if answer["type"] == "connect" else "message")
    assert answers == [
        {"type": "connect", "payload": {"status": "connected", "user_id": ann.pk, "last_seq": said.seq}},
        {"type": "connect", "payload": {"status": "connected", "user_id": ann.pk, "last_seq": said.seq}},
        {"type": "connect", "payload": {"status": "connected", "user_id": ben.pk, "last_seq": 0}},
        error_frame("AUTHENTICATION_FAILED", reason="user_inactive"),
        error_frame("AUTHENTICATION_FAILED", reason="session_revoked"),
    ]
    await devices[3].closed(1008)
    await devices[4].closed(1008)
    assert len(batches) <= 2  # the first, and (held until they all came) the rest together
    assert sorted(pk for batch in batches for pk in batch) == sorted([ann.pk, ann.pk, ben.pk, cid.pk, dot.pk])
    live = presence.registry().live
    ann_connections = {devices[0].connection_id, devices[1].connection_id}
    assert (live(ann.pk), live(ben.pk), live(cid.pk), live(dot.pk)) == (
        ann_connections,
        {devices[2].connection_id},
        set(),
        set(),
    )
    assert await listening.frame() == await presence_frame(ann, True)  # once, for both
    await listening.nothing()


async def test_connections_closing_together_announce_each_user_offline_once(ws, make_user, monkeypatch):
    """Connections closing at once share a batch (chats.connection_queues): a user whose two
    connections both close is announced offline once, with the stamp stored on their row; a user
    with a connection left stays online, unannounced; every closed lease is gone."""
    friend, ann, ben = [await sync_to_async(make_user)() for _ in range(3)]
    for user in (ann, ben):
        await call(account_services.friendship_create, user_a=friend, user_b=user)
    listening = await ws.connect(friend)
    phone, laptop, ben_phone, ben_laptop = [await ws.connect(user) for user in (ann, ann, ben, ben)]
    queue, batches = connection_queues.get_closing_queue(), []
    closed = account_services.connections_closed

    def first_held(closings: list[Any]) -> None:
        batches.append(sorted(actor.pk for actor, _ in closings))
        deadline = time.monotonic() + WAIT
        while len(batches) == 1 and len(queue.waiting) < 3 - len(closings):
            assert time.monotonic() < deadline, "the other closes never arrived"
            time.sleep(0.01)
        closed(closings)

    monkeypatch.setattr(account_services, "connections_closed", first_held)
    await asyncio.gather(phone.close(), laptop.close(), ben_phone.close())
    assert len(batches) <= 2  # the first, and (held until they all came) the rest together
    assert sorted(pk for batch in batches for pk in batch) == sorted([ann.pk, ann.pk, ben.pk])
    assert await listening.frame() == await presence_frame(ann, False)
    await listening.nothing()
    live = presence.registry().live
    assert (live(ann.pk), live(ben.pk)) == (set(), {ben_laptop.connection_id})


async def test_a_close_right_after_a_database_failure_still_drops_its_lease(ws, alice, monkeypatch):
    """Openings and sends are refused at once for a moment after the database failed (the fail-fast
    window, imsuite.db_outage); a close is not: its lease goes, as it would with the database away."""
    phone = await ws.connect(alice)
    connection = phone.connection_id
    assert presence.registry().live(alice.pk) == {connection}
    monkeypatch.setattr(db_outage._outage, "fail_fast_until", time.monotonic() + 60)
    await phone.close()
    assert presence.registry().live(alice.pk) == set()


def forged_token(user: User) -> str:
    return jwt.encode(
        AccessToken.for_user(user).payload, "a-signing-key-that-is-not-the-servers-one", algorithm="HS256"
    )


def deactivated_user_token(user: User) -> str:
    token = access_token(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    return token


def deleted_user_token(user: User) -> str:
    token = access_token(user)
    User.objects.filter(pk=user.pk).delete()
    return token


def signed_out_session_token(user: User) -> str:
    refresh = new_refresh_token(user)
    account_services.session_logout(refresh=str(refresh))
    return str(refresh.access_token)


BAD_TOKENS = [
    pytest.param(lambda user: "not-a-jwt", "token_invalid", id="garbage"),
    pytest.param(forged_token, "token_invalid", id="forged"),
    pytest.param(lambda user: str(RefreshToken.for_user(user)), "token_invalid", id="refresh-token"),
    pytest.param(lambda user: access_token(user, timedelta(minutes=-5)), "token_expired", id="expired"),
    pytest.param(deactivated_user_token, "user_inactive", id="deactivated"),
    pytest.param(deleted_user_token, "user_inactive", id="deleted"),
    pytest.param(signed_out_session_token, "session_revoked", id="signed-out"),
]


async def refused_with(device: Device, reason: str) -> None:
    """The AUTHENTICATION_FAILED error frame, then close 1008."""
    assert without_message(await device.frame()) == error_frame("AUTHENTICATION_FAILED", reason=reason)
    await device.closed(1008)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("make_token", "reason"), BAD_TOKENS)
async def test_bad_token_is_told_and_closed_with_1008(ws, alice, transport, make_token, reason):
    token = await sync_to_async(make_token)(alice)
    device, accepted, subprotocol = await ws.open(**TRANSPORTS[transport](token))
    assert (accepted, subprotocol) == (True, selected_subprotocol(transport, token))
    await refused_with(device, reason)
    assert alice.pk not in (await get_hub()).sinks  # a refused connection leaves nothing behind


async def test_a_failure_while_setting_up_leaves_nothing_behind(ws, alice, bob, monkeypatch):
    """The database fails while a connection is set up: the connection ends without a frame, and
    the hub does not keep it."""

    def broken(openings: list[Any]) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(account_services, "connections_opened", broken)
        device, accepted, _ = await ws.open(query=f"?token={access_token(alice)}")
        assert accepted
        with pytest.raises(RuntimeError, match="the database went away"):
            await device.frame()
        device.live = False
    hub = await get_hub()
    assert alice.pk not in hub.sinks
    phone = await ws.connect(alice)  # and the user can connect again
    assert hub.sinks[alice.pk] == {consumer_of(phone.communicator)}


async def test_connections_join_no_channel_layer_group(ws, alice, bob):
    """Events reach connections through the process's hub: the only group in the channel layer
    is the hubs' own, however many connections are open."""
    await ws.connect(alice), await ws.connect(alice), await ws.connect(bob)
    if not settings.REDIS_URL:
        assert await layer_groups() == {HUB_GROUP}
        return
    # With Redis: no group at all; a user's connections on one process are one route to it.
    hub = await get_hub()
    routes = await redis_nodes.async_client().hgetall(f"{event_routes.tag()}:routes")
    assert await layer_groups() == set()
    routed_here = sorted(int(uid) for uid, value in routes.items() if hub.process in value.decode().split())
    assert routed_here == sorted([alice.pk, bob.pk])


async def layer_groups() -> set[str]:
    """The groups the (in-memory) channel layer holds."""
    return {group for group, channels in get_channel_layer().groups.items() if channels}


@pytest.mark.parametrize(
    "handshake",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"query": "?token="}, id="empty-query"),
        pytest.param({"headers": [(b"authorization", b"Bearer ")]}, id="empty-bearer"),
        pytest.param({"headers": [(b"authorization", b"Basic YWxpY2U6eA==")]}, id="basic-auth"),
        pytest.param({"subprotocols": ["imsuite.v1"]}, id="other-subprotocol"),
    ],
)
async def test_missing_token_is_told_and_closed_with_1008(ws, handshake):
    device, accepted, subprotocol = await ws.open(**handshake)
    assert (accepted, subprotocol) == (True, None)
    await refused_with(device, "missing")


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        ("http://localhost:8080", True),
        ("https://127.0.0.1", True),
        ("https://evil.example.com", False),
        ("http://localhost.evil.example.com:8080", False),
        ("null", False),
    ],
)
async def test_browser_origin_must_be_an_allowed_host(ws, alice, origin, accepted):
    headers = [] if origin is None else [(b"origin", origin.encode())]
    device, was_accepted, detail = await ws.open(query=f"?token={access_token(alice)}", headers=headers)
    if accepted:
        assert was_accepted
        assert (await device.frame())["type"] == "connect"
    else:  # refused during the handshake (daphne answers 403): no frame at all
        assert (was_accepted, detail) == (False, 1008)


async def test_connect_last_seq_is_the_newest_seq_the_user_can_see(ws, group, alice, bob, carol, dave):
    in_group = await call(send_now, actor=alice, chat_id=group.pk)
    with_bob = await call(send_now, actor=alice, chat_id=await call(private_chat_id, a=alice, b=bob))
    with_carol = await call(send_now, actor=alice, chat_id=await call(private_chat_id, a=alice, b=carol))
    assert in_group.seq < with_bob.seq < with_carol.seq
    expected = {alice: with_carol.seq, bob: with_bob.seq, carol: with_carol.seq, dave: 0}
    for user, last_seq in expected.items():
        assert (await ws.connect(user, absorb_presence=False)).last_seq == last_seq


# ---- connection: heartbeat, idle, expiry, sign-out, deactivation ----------------------------------


@pytest.mark.parametrize("timestamp", ["2025-10-07T12:00:00Z", 1759838400000, {"client": "x"}])
async def test_ping_gets_pong_with_the_same_timestamp(ws, alice, timestamp):
    device = await ws.connect(alice)
    pong = await device.request("ping", {"timestamp": timestamp})
    assert pong == {"type": "pong", "payload": {"timestamp": timestamp}}


async def test_ping_without_timestamp_gets_the_server_time(ws, alice):
    device = await ws.connect(alice)
    pong = await device.request("ping")
    assert is_utc_iso(pong["payload"].pop("timestamp"))
    assert pong == {"type": "pong", "payload": {}}


async def test_silent_connection_is_told_and_closed(ws, alice, settings):
    settings.IMSUITE = {**settings.IMSUITE, "WS_IDLE_SECONDS": 0.3}
    device = await ws.connect(alice)
    assert await device.frame() == disconnected("timeout")
    await device.closed(1000)
    await device.deaf()


async def test_any_frame_keeps_the_connection_alive(ws, alice, settings):
    settings.IMSUITE = {**settings.IMSUITE, "WS_IDLE_SECONDS": 1.0}
    device = await ws.connect(alice)
    for _ in range(4):  # 1.6 s in all, never 1 s silent
        await asyncio.sleep(0.4)
        await device.alive()
    assert await device.frame() == disconnected("timeout")
    await device.closed(1000)


async def test_an_open_connection_keeps_its_user_online(ws, alice, settings):
    """The process's watchdog renews the lease every third of its life, while the client talks."""
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3}
    device = await ws.connect(alice)
    for _ in range(9):  # 4.5 s in all: the lease taken at connect has long expired
        await asyncio.sleep(0.5)
        await device.alive()
    assert await call(presence.online_user_ids, user_ids=[alice.pk]) == {alice.pk}
    await device.close()
    assert await call(presence.online_user_ids, user_ids=[alice.pk]) == set()


async def test_access_token_expiring_while_connected_ends_the_connection(ws, alice):
    device = await ws.connect(alice, access_token(alice, timedelta(seconds=2)))
    assert await device.frame() == disconnected("token_expired")
    await device.closed(1008)
    await device.deaf()


async def test_signing_out_ends_only_that_sessions_connections(ws, alice):
    signed_out, other = await call(new_refresh_token, user=alice), await call(new_refresh_token, user=alice)
    doomed = await ws.connect(alice, str(signed_out.access_token))
    staying = await ws.connect(alice, str(other.access_token))
    sessionless = await ws.connect(alice)  # a token without sid belongs to no session
    await call(account_services.session_logout, refresh=str(signed_out))
    assert await doomed.frame() == disconnected("logged_out")
    await doomed.closed(1008)
    await doomed.deaf()
    for device in (staying, sessionless):
        await device.nothing()
        await device.alive()


async def test_deactivation_ends_every_connection_of_the_user(ws, pair, alice, bob, moderator):
    devices = [await ws.connect(alice), await ws.connect(alice)]
    bystander = await ws.connect(bob)
    await call(account_services.user_set_active, actor=moderator, user_id=alice.pk, active=False)
    for device in devices:
        assert await device.frame() == disconnected("deactivated")
        await device.closed(1008)
        await device.deaf()
    # a banned user's frames still in flight during the close handshake are not acted on
    await devices[0].send("message.send", {"chat_id": pair.pk, "content": "one last word"})
    await bystander.nothing()
    assert await message_count() == 0
    await bystander.alive()


# ---- message.send ---------------------------------------------------------------------------------


async def test_message_new_reaches_every_connection_of_every_member(ws, group, alice, bob, carol, dave):
    a1, a2, b1, c1 = [await ws.connect(user) for user in (alice, alice, bob, carol)]
    outsider = await ws.connect(dave)
    message_id = await post(a1, group.pk, "  hi all \n", client_msg_id="c-1")

    row = await call(message_row, message_id=message_id)
    assert (row.chat_id, row.sender_id, row.content, row.client_msg_id) == (
        group.pk,
        alice.pk,
        "hi all",
        "c-1",
    )
    assert await message_count() == 1
    expected = await new_frame(message_id, alice)
    assert expected["seq"] == row.seq
    assert expected["payload"]["chat"] == {"id": group.pk, "type": "group", "title": "Team"}
    assert expected["payload"]["sender"] == {"id": alice.pk, "nickname": "Alice", "avatar_url": ""}
    assert expected["payload"]["message"]["client_msg_id"] == "c-1"
    assert await a2.frame() == expected  # the sender's other device, client_msg_id included
    for user, device in ((bob, b1), (carol, c1)):
        frame = await device.frame()
        assert "client_msg_id" not in frame["payload"]["message"]
        assert frame == await new_frame(message_id, user)
    await outsider.nothing()
    await a1.nothing()  # one acknowledgement, no echo


async def test_private_chat_title_is_the_other_persons_nickname(ws, pair, alice, bob):
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    ack = await a1.request("message.send", {"chat_id": pair.pk, "content": "hi"})
    seen_by_bob = await b1.frame()
    assert ack["payload"]["chat"] == {"id": pair.pk, "type": "private", "title": "Bob"}
    assert seen_by_bob["payload"]["chat"] == {"id": pair.pk, "type": "private", "title": "Alice"}
    message_id = ack["payload"]["message"]["id"]
    assert (ack, seen_by_bob) == (await new_frame(message_id, alice), await new_frame(message_id, bob))


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"message_type": "image", "content": "https://cdn.example.com/a.png"}, id="image"),
        pytest.param({"message_type": "file", "content": "http://files.example.com/a.pdf"}, id="file"),
        pytest.param({"message_type": "text", "reply_to_id": "earlier"}, id="reply"),
    ],
)
async def test_message_types_and_replies(ws, pair, alice, bob, extra):
    earlier = await call(send_now, actor=bob, chat_id=pair.pk, content="earlier")
    if extra.get("reply_to_id") == "earlier":
        extra = {**extra, "reply_to_id": earlier.pk}
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    ack = await a1.request("message.send", {"chat_id": pair.pk, "content": "text", **extra})
    message = ack["payload"]["message"]
    assert (message["message_type"], message["content"], message["reply_to_id"]) == (
        extra["message_type"],
        extra.get("content", "text"),
        extra.get("reply_to_id"),
    )
    assert ack == await new_frame(message["id"], alice)
    assert await b1.frame() == await new_frame(message["id"], bob)


async def test_resending_a_client_msg_id_returns_the_original_to_that_connection(ws, pair, alice, bob):
    a1, a2, b1 = await ws.connect(alice), await ws.connect(alice), await ws.connect(bob)
    message_id = await post(a1, pair.pk, "once", client_msg_id="c-1")
    await a2.frame()
    await b1.frame()
    again = await a1.request("message.send", {"chat_id": pair.pk, "content": "twice", "client_msg_id": "c-1"})
    assert again == await new_frame(message_id, alice)
    assert again["payload"]["message"]["content"] == "once"
    assert await call(lambda: list(Message.objects.values_list("content", "client_msg_id"))) == [
        ("once", "c-1")
    ]
    await a2.nothing()
    await b1.nothing()


SEND_REFUSALS = [
    pytest.param(
        {"chat_id": "other-pair", "client_msg_id": "c-9"},
        error_frame("NOT_FOUND", event="message.send", client_msg_id="c-9"),
        id="not-a-member",
    ),
    pytest.param({"chat_id": 987654}, error_frame("NOT_FOUND", event="message.send"), id="no-such-chat"),
    pytest.param(
        {"content": " \n "},
        error_frame("VALIDATION_ERROR", field="content", reason="empty", event="message.send"),
        id="empty",
    ),
    pytest.param(
        {"content": "x" * 4001},
        error_frame("VALIDATION_ERROR", field="content", reason="too_long", event="message.send"),
        id="too-long",
    ),
    pytest.param(
        {"message_type": "image", "content": "a.png"},
        error_frame("VALIDATION_ERROR", field="content", reason="not_url", event="message.send"),
        id="image-not-url",
    ),
    pytest.param(
        {"reply_to_id": "other-chat"},
        error_frame("VALIDATION_ERROR", field="reply_to_id", reason="not_in_chat", event="message.send"),
        id="reply-elsewhere",
    ),
    pytest.param(
        {"message_type": "system"},
        error_frame(
            "VALIDATION_ERROR",
            field="message_type",
            reason="invalid_choice",
            fields={"message_type": ['"system" is not a valid choice.']},
            event="message.send",
        ),
        id="system-type",
    ),
]


@pytest.mark.parametrize(("change", "expected"), SEND_REFUSALS)
async def test_refused_send_stores_nothing_and_keeps_the_connection(
    ws, group, alice, bob, carol, change, expected
):
    with_bob = await call(private_chat_id, a=alice, b=bob)  # not Carol's
    elsewhere = await call(send_now, actor=bob, chat_id=with_bob)
    placeholders = {"other-pair": with_bob, "other-chat": elsewhere.pk}
    payload = {"chat_id": group.pk, "content": "hello"}
    payload |= {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    c1, b1 = await ws.connect(carol), await ws.connect(bob)
    assert await c1.error("message.send", payload) == expected
    assert await message_count() == 1
    await b1.nothing()
    await c1.alive()


async def test_muted_member_cannot_send(ws, group, alice, bob):
    mute = await call(
        Mute.objects.create, group=group, user=bob, until=timezone.now() + timedelta(hours=1), operator=alice
    )
    b1 = await ws.connect(bob)
    error = await b1.error("message.send", {"chat_id": group.pk, "content": "let me speak"})
    until = error["payload"]["details"].pop("until")
    assert datetime.fromisoformat(until) == mute.until
    assert error == error_frame("PERMISSION_DENIED", reason="muted", event="message.send")
    assert await message_count() == 0
    await b1.alive()


async def test_too_many_sends_are_rate_limited_across_rest_and_websocket(
    ws, pair, alice, bob, settings, client_for
):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 3, "RATE_LIMIT_WINDOW_SECONDS": 3600}
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    for n in range(2):
        await post(a1, pair.pk, f"ws {n}")
    url = f"/api/chats/{pair.pk}/messages"
    response = await call(
        rest, client_for=client_for, user=alice, method="post", url=url, data={"content": "rest"}
    )
    assert response.status_code == 201
    assert (await a1.frame())["payload"]["message"]["content"] == "rest"
    error = await a1.error(
        "message.send", {"chat_id": pair.pk, "content": "one more", "client_msg_id": "c-4"}
    )
    retry_after = error["payload"]["details"].pop("retry_after")
    assert type(retry_after) is int and 1 <= retry_after <= 3600
    assert error == error_frame(
        "RATE_LIMITED", limit=3, window_seconds=3600, event="message.send", client_msg_id="c-4"
    )
    assert await message_count() == 3
    assert [f["payload"]["message"]["content"] for f in await b1.frames(3)] == ["ws 0", "ws 1", "rest"]
    await b1.nothing()
    await a1.alive()


# ---- message.edit and message.delete --------------------------------------------------------------


async def test_edit_reaches_every_member_with_a_new_seq(ws, group, hello, alice, bob, carol, dave):
    before = await call(message_row, message_id=hello)
    a1, a2, b1, c1 = [await ws.connect(user) for user in (alice, alice, bob, carol)]
    outsider = await ws.connect(dave)
    frame = await a1.request("message.edit", {"message_id": hello, "content": " better "})

    row = await call(message_row, message_id=hello)
    assert (row.content, row.is_edited, row.created_seq) == ("better", True, before.seq)
    assert row.seq > before.seq and row.updated_at is not None
    assert frame == await edit_frame(hello, alice)
    message = frame["payload"]["message"]
    assert (message["content"], message["is_edited"], message["client_msg_id"]) == ("better", True, "c-hello")
    assert is_utc_iso(message["updated_at"])
    assert await a2.frame() == frame
    for user, device in ((bob, b1), (carol, c1)):
        assert await device.frame() == await edit_frame(hello, user)
    await outsider.nothing()


async def test_delete_reaches_every_member_and_history_shows_it_deleted(
    ws, group, hello, alice, bob, carol, dave, client_for
):
    a1, b1, c1 = [await ws.connect(user) for user in (alice, bob, carol)]
    outsider = await ws.connect(dave)
    frame = await a1.request("message.delete", {"message_id": hello})

    row = await call(message_row, message_id=hello)
    assert (row.content, row.deleted_by_id) == ("", alice.pk) and row.deleted_at is not None
    assert frame == await delete_frame(hello)
    payload = dict(frame["payload"])
    assert is_utc_iso(payload.pop("deleted_at"))
    assert payload == {"message_id": hello, "chat_id": group.pk, "deleted_by": alice.pk}
    for device in (b1, c1):
        assert await device.frame() == frame
    await outsider.nothing()
    history = await call(
        rest, client_for=client_for, user=bob, method="get", url=f"/api/chats/{group.pk}/messages"
    )
    [shown] = history.json()["results"]
    assert (shown["id"], shown["is_deleted"], shown["content"]) == (hello, True, "")


@pytest.mark.parametrize(
    ("deleter", "role", "allowed"),
    [
        ("alice", Role.OWNER, True),
        ("carol", Role.ADMIN, True),
        ("carol", Role.MEMBER, False),
    ],
)
async def test_group_owner_and_admin_may_delete_others_messages(
    ws, group, people, bob, deleter, role, allowed
):
    target = await call(send_now, actor=bob, chat_id=group.pk, content="bob's")
    await call(ChatMember.objects.filter(chat_id=group.pk, user=people[deleter]).update, role=role)
    device, b1 = await ws.connect(people[deleter]), await ws.connect(bob)
    frame = await device.request("message.delete", {"message_id": target.pk})
    row = await call(message_row, message_id=target.pk)
    if allowed:
        assert (row.deleted_by_id, row.content) == (people[deleter].pk, "")
        assert frame == await delete_frame(target.pk)
        assert await b1.frame() == frame
    else:
        assert without_message(frame) == error_frame(
            "PERMISSION_DENIED", reason="not_allowed", event="message.delete"
        )
        assert (row.deleted_at, row.content, row.seq) == (None, "bob's", target.seq)
        await b1.nothing()


@pytest.mark.parametrize(
    ("actor", "event", "change", "expected"),
    [
        pytest.param(
            "bob",
            "message.edit",
            {},
            error_frame("PERMISSION_DENIED", reason="not_sender", event="message.edit"),
            id="edit-by-other-member",
        ),
        pytest.param(
            "bob",
            "message.delete",
            {},
            error_frame("PERMISSION_DENIED", reason="not_allowed", event="message.delete"),
            id="delete-by-plain-member",
        ),
        pytest.param(
            "alice",
            "message.edit",
            {"content": "  "},
            error_frame("VALIDATION_ERROR", field="content", reason="empty", event="message.edit"),
            id="edit-to-empty",
        ),
        pytest.param(
            "alice",
            "message.edit",
            {"window": 0},
            error_frame("PERMISSION_DENIED", reason="edit_window", window_seconds=0, event="message.edit"),
            id="edit-too-late",
        ),
    ],
)
async def test_refused_edit_or_delete_changes_nothing(
    ws, group, hello, people, settings, actor, event, change, expected
):
    if "window" in change:
        settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_EDIT_WINDOW_SECONDS": change["window"]}
        change = {}
    before = await call(message_row, message_id=hello)
    device, witness = await ws.connect(people[actor]), await ws.connect(people["carol"])
    payload = {"message_id": hello} | ({"content": "new"} if event == "message.edit" else {}) | change
    assert await device.error(event, payload) == expected
    row = await call(message_row, message_id=hello)
    assert (row.content, row.seq, row.is_edited, row.deleted_at) == ("hello", before.seq, False, None)
    await witness.nothing()
    await device.alive()


async def test_editing_a_deleted_message_is_a_conflict(ws, group, hello, alice):
    a1 = await ws.connect(alice)
    await a1.request("message.delete", {"message_id": hello})
    error = await a1.error("message.edit", {"message_id": hello, "content": "resurrect"})
    assert error == error_frame("CONFLICT", reason="deleted", event="message.edit")
    assert (await call(message_row, message_id=hello)).content == ""


# ---- message.read ---------------------------------------------------------------------------------


def unread(user: User, chat_id: int) -> int:
    return selectors.chat_list(user, chat_id=chat_id)[0]["unread_count"]


async def test_read_receipt_goes_to_the_sender_and_the_readers_other_devices(
    ws, group, hello, alice, bob, carol
):
    newer = (await call(send_now, actor=alice, chat_id=group.pk, content="newer")).pk
    assert await call(unread, user=bob, chat_id=group.pk) == 2
    a1, b1, b2, c1 = [await ws.connect(user) for user in (alice, bob, bob, carol)]
    await b1.send("message.read", {"message_id": newer})

    expected = {
        "type": "message.read",
        "payload": {"message_id": newer, "chat_id": group.pk, "read_by": bob.pk},
    }
    for device in (a1, b2):
        frame = await device.frame()
        assert is_utc_iso(frame["payload"].pop("read_at"))
        assert frame == expected
    for device in (b1, c1):  # not the reading connection, not the rest of the group
        await device.nothing()
    member = await call(ChatMember.objects.get, chat_id=group.pk, user=bob)
    assert member.last_read_message_id == newer
    assert await call(unread, user=bob, chat_id=group.pk) == 0


async def test_read_position_never_moves_back(ws, group, hello, alice, bob):
    newer = (await call(send_now, actor=alice, chat_id=group.pk, content="newer")).pk
    a1, b1, b2 = [await ws.connect(user) for user in (alice, bob, bob)]
    await b1.send("message.read", {"message_id": newer})
    for device in (a1, b2):
        assert (await device.frame())["type"] == "message.read"
    for message_id in (hello, newer):  # older, then the same again: no move, no receipt
        await b1.send("message.read", {"message_id": message_id})
        for device in (a1, b1, b2):
            await device.nothing()
    member = await call(ChatMember.objects.get, chat_id=group.pk, user=bob)
    assert member.last_read_message_id == newer
    await b1.alive()


# ---- a chat or message the user is not in ---------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("message.send", {"chat_id": "group", "content": "hi"}),
        ("message.edit", {"message_id": "hello", "content": "hi"}),
        ("message.delete", {"message_id": "hello"}),
        ("message.read", {"message_id": "hello"}),
        ("typing", {"chat_id": "group", "is_typing": True}),
        ("message.edit", {"message_id": 987654, "content": "hi"}),
        ("message.delete", {"message_id": 987654}),
        ("message.read", {"message_id": 987654}),
        ("typing", {"chat_id": 987654, "is_typing": True}),
    ],
)
async def test_what_the_user_is_not_in_does_not_exist(ws, group, hello, alice, dave, event, payload):
    ids = {"group": group.pk, "hello": hello}
    payload = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    before = await call(message_row, message_id=hello)
    outsider, member = await ws.connect(dave), await ws.connect(alice)
    assert await outsider.error(event, payload) == error_frame("NOT_FOUND", event=event)
    row = await call(message_row, message_id=hello)
    assert (row.content, row.seq, row.deleted_at) == ("hello", before.seq, None)
    assert await call(ChatMember.objects.filter(last_read_message_id__gt=0).count) == 0
    assert await message_count() == 1
    await member.nothing()
    await outsider.alive()


# ---- typing ---------------------------------------------------------------------------------------


async def test_typing_is_relayed_to_the_other_online_members(ws, group, alice, bob, carol):
    a1, a2, b1 = await ws.connect(alice), await ws.connect(alice), await ws.connect(bob)
    offline_carol = await ws.listen(carol)
    for is_typing in (True, False):
        await a1.send("typing", {"chat_id": group.pk, "is_typing": is_typing})
        assert await b1.frame() == typing_frame(alice, group.pk, is_typing)
        for device in (a1, a2):
            await device.nothing()
        assert await offline_carol.events() == []


async def test_typing_start_is_throttled_and_stop_is_not(ws, pair, alice, bob):
    a1, a2, b1 = await ws.connect(alice), await ws.connect(alice), await ws.connect(bob)
    steps = [  # (device, is_typing, relayed)
        (a1, True, True),
        (a1, True, False),  # within TYPING_THROTTLE_SECONDS
        (a2, True, False),  # per user, whichever device
        (a1, False, True),
        (a1, True, True),  # a stop ends the throttle
    ]
    for device, is_typing, relayed in steps:
        await device.send("typing", {"chat_id": pair.pk, "is_typing": is_typing})
        if relayed:
            assert await b1.frame() == typing_frame(alice, pair.pk, is_typing)
        else:
            await b1.nothing()


async def test_unrenewed_typing_ends_by_itself(ws, pair, alice, bob, settings):
    settings.IMSUITE = {**settings.IMSUITE, "TYPING_EXPIRY_SECONDS": 0.2}
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    await a1.send("typing", {"chat_id": pair.pk, "is_typing": True})
    assert await b1.frames(2) == [
        typing_frame(alice, pair.pk, True),
        typing_frame(alice, pair.pk, False),
    ]
    await b1.nothing(0.4)
    await a1.nothing(0)


async def test_closing_while_typing_ends_the_typing(ws, pair, alice, bob):
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    await a1.send("typing", {"chat_id": pair.pk, "is_typing": True})
    assert await b1.frame() == typing_frame(alice, pair.pk, True)
    await a1.close()
    assert await b1.frames(2) == [typing_frame(alice, pair.pk, False), await presence_frame(alice, False)]


# ---- presence -------------------------------------------------------------------------------------


async def test_presence_goes_to_friends_and_private_peers_on_first_open_and_last_close(
    ws, pair, alice, bob, carol, dave
):
    await call(account_services.friendship_create, user_a=alice, user_b=carol)
    await call(account_services.friend_remove, actor=alice, user_id=carol.pk)  # their chat stays
    watchers = [await ws.connect(user) for user in (bob, carol)]
    stranger = await ws.connect(dave)

    first = await ws.connect(alice, absorb_presence=False)
    online = await presence_frame(alice, True)
    assert is_utc_iso(online["payload"]["last_seen"])
    for device in watchers:
        assert await device.frame() == online
    second = await ws.connect(alice, absorb_presence=False)
    await first.close()
    for device in (*watchers, stranger):  # neither the second device nor closing one of two
        await device.nothing()

    await second.close()
    offline = await presence_frame(alice, False)
    assert datetime.fromisoformat(offline["payload"]["last_seen"]) > datetime.fromisoformat(
        online["payload"]["last_seen"]
    )
    for device in watchers:
        assert await device.frame() == offline
    await stranger.nothing()


async def test_explicit_presence_is_relayed_and_last_seen_stored(ws, pair, alice, bob):
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    for is_online in (False, True):
        stored_before = (await call(User.objects.get, pk=alice.pk)).last_seen
        await a1.send("presence", {"is_online": is_online})
        frame = await b1.frame()
        assert frame == await presence_frame(alice, is_online)
        assert (await call(User.objects.get, pk=alice.pk)).last_seen > stored_before
        await a1.nothing()


# ---- notifications and friends --------------------------------------------------------------------


@pytest.mark.parametrize("targeted", [True, False], ids=["to-listed-users", "to-everyone"])
async def test_notification_reaches_the_chosen_users(ws, alice, bob, carol, moderator, targeted):
    devices = [(user, await ws.connect(user)) for user in (alice, bob, bob, carol)]
    listed = [bob, carol] if targeted else []
    await call(
        account_services.notification_send,
        actor=moderator,
        title="Maintenance",
        message="Down at ten",
        type="warning",
        action_url="https://status.example.com" if targeted else "",
        user_ids=[u.pk for u in listed] or None,
    )
    expected = {
        "type": "notification",
        "payload": {
            "title": "Maintenance",
            "message": "Down at ten",
            "type": "warning",
            "action_url": "https://status.example.com" if targeted else None,
        },
    }
    for user, device in devices:  # every connection of each user concerned
        if user in listed or not targeted:
            assert await device.frame() == expected
        else:
            await device.nothing()


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "rejected"])
async def test_friend_request_and_answer_reach_both(ws, alice, bob, carol, accept):
    a1, b1, c1 = [await ws.connect(user) for user in (alice, bob, carol)]
    request = await call(account_services.friend_request_send, actor=alice, user_id=bob.pk, comment=" hi ")
    asked = {
        "id": request.pk,
        "from_user": ref(alice),
        "to_user": ref(bob),
        "message": "hi",
        "status": "pending",
        "created_at": iso(request.created_at),
        "responded_at": None,
    }
    for device in (a1, b1):
        assert await device.frame() == {"type": "friend.request", "payload": {"request": asked}}

    answered = await call(
        account_services.friend_request_answer, actor=bob, request_id=request.pk, accept=accept
    )
    updated = {
        **asked,
        "status": "accepted" if accept else "rejected",
        "responded_at": iso(answered.responded_at),
    }
    for other, device in ((bob, a1), (alice, b1)):
        expected = [{"type": "friend.request", "payload": {"request": updated}}]
        if accept:
            expected.append({"type": "friend.added", "payload": {"user_id": other.pk, "user": ref(other)}})
        assert await device.frames(len(expected)) == expected
        await device.nothing()
    await c1.nothing()


async def test_friend_removed_reaches_both(ws, pair, alice, bob, carol):
    a1, b1, c1 = [await ws.connect(user) for user in (alice, bob, carol)]
    await call(account_services.friend_remove, actor=alice, user_id=bob.pk)
    assert await a1.frame() == {"type": "friend.removed", "payload": {"user_id": bob.pk}}
    assert await b1.frame() == {"type": "friend.removed", "payload": {"user_id": alice.pk}}
    await c1.nothing()


# ---- bad frames -----------------------------------------------------------------------------------


def invalid(field: str, reason: str, event: str | None, message: str) -> dict[str, Any]:
    return error_frame("VALIDATION_ERROR", field=field, reason=reason, fields={field: [message]}, event=event)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"type": "ping"',
            error_frame("VALIDATION_ERROR", reason="malformed_json", event=None),
            id="invalid-json",
        ),
        pytest.param(
            '[{"type": "ping"}]',
            error_frame("VALIDATION_ERROR", reason="not_object", event=None),
            id="array",
        ),
        pytest.param('"ping"', error_frame("VALIDATION_ERROR", reason="not_object", event=None), id="string"),
        pytest.param(
            '{"payload": {}}',
            error_frame("VALIDATION_ERROR", field="type", reason="required", event=None),
            id="missing-type",
        ),
        pytest.param(
            '{"type": 7, "payload": {}}',
            error_frame("VALIDATION_ERROR", field="type", reason="required", event=None),
            id="number-type",
        ),
        pytest.param(
            '{"type": "message.fly", "payload": {}}',
            error_frame("VALIDATION_ERROR", reason="unknown_type", event="message.fly"),
            id="unknown-type",
        ),
        pytest.param(
            '{"type": "ping", "payload": [1]}',
            error_frame("VALIDATION_ERROR", field="payload", reason="invalid", event="ping"),
            id="payload-array",
        ),
        pytest.param(
            '{"type": "message.send", "payload": "hi"}',
            error_frame("VALIDATION_ERROR", field="payload", reason="invalid", event="message.send"),
            id="payload-string",
        ),
        pytest.param(
            '{"type": "message.send", "payload": {"content": "hi"}}',
            invalid("chat_id", "required", "message.send", "This field is required."),
            id="missing-chat_id",
        ),
        pytest.param(
            '{"type": "message.send", "payload": {"chat_id": "1", "content": "hi"}}',
            invalid("chat_id", "invalid", "message.send", "Must be an integer."),
            id="string-chat_id",
        ),
        pytest.param(
            '{"type": "message.send", "payload": {"chat_id": 1, "content": 5}}',
            invalid("content", "invalid", "message.send", "Must be a string."),
            id="number-content",
        ),
        pytest.param(
            '{"type": "message.edit", "payload": {"message_id": 1}}',
            invalid("content", "required", "message.edit", "This field is required."),
            id="edit-missing-content",
        ),
        pytest.param(
            '{"type": "message.read", "payload": {"message_id": true}}',
            invalid("message_id", "invalid", "message.read", "Must be an integer."),
            id="boolean-message_id",
        ),
        pytest.param(
            '{"type": "typing", "payload": {"chat_id": 1, "is_typing": "yes"}}',
            invalid("is_typing", "invalid", "typing", "Must be a valid boolean."),
            id="string-is_typing",
        ),
        pytest.param(
            '{"type": "presence", "payload": {}}',
            invalid("is_online", "required", "presence", "This field is required."),
            id="presence-missing-is_online",
        ),
        pytest.param(
            '{"type": "sync", "payload": {"since_seq": -1}}',
            invalid("since_seq", "min_value", "sync", "Ensure this value is greater than or equal to 0."),
            id="negative-since_seq",
        ),
        pytest.param(
            '{"type": "ping", "payload": {"timestamp": 1, "extra": 2}}',
            invalid("extra", "unknown_field", "ping", "Unknown field."),
            id="unknown-field",
        ),
    ],
)
async def test_bad_frame_gets_an_error_and_the_connection_stays_open(ws, alice, text, expected):
    device = await ws.connect(alice)
    await device.send_text(text)
    assert without_message(await device.frame()) == expected
    await device.alive()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            r'{"type": "ping", "payload": {"timestamp": "a\ud800b"}}',
            {"type": "pong", "payload": {"timestamp": "a\ud800b"}},
            id="pong-timestamp",
        ),
        pytest.param(
            r'{"type": "\udfff", "payload": {}}',
            error_frame("VALIDATION_ERROR", reason="unknown_type", event="\udfff"),
            id="event-type",
        ),
        pytest.param(
            r'{"type": "message.send", "payload": {"chat_id": 1, "content": "x", "client_msg_id": "\ud800"}}',
            error_frame(
                "VALIDATION_ERROR",
                field="client_msg_id",
                reason="surrogate_characters_not_allowed",
                fields={"client_msg_id": ["Surrogate characters are not allowed: U+D800."]},
                event="message.send",
                client_msg_id="\ud800",
            ),
            id="client_msg_id",
        ),
    ],
)
async def test_echoed_lone_surrogates_still_make_valid_utf8_frames(ws, alice, text, expected):
    """JSON may escape a lone surrogate ("\\ud800"); echoed raw it would make a frame that cannot be
    sent as UTF-8 (daphne would fail the connection). It must come back escaped."""
    device = await ws.connect(alice)
    await device.send_text(text)
    frame = await device.frame()
    assert (without_message(frame) if frame["type"] == "error" else frame) == expected
    await device.alive()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param({"bytes_data": b'{"type": "ping"}'}, 1003, id="binary"),
        pytest.param({"text_data": "x" * (64 * 1024 + 1)}, 1009, id="over-64KiB"),
        pytest.param({"text_data": "汉" * 22000}, 1009, id="over-64KiB-as-utf8"),
    ],
)
async def test_unsupported_or_oversized_frame_closes_the_connection(ws, alice, frame, code):
    device = await ws.connect(alice)
    await device.communicator.send_to(**frame)
    await device.closed(code)
    await device.deaf()


async def test_a_frame_of_exactly_64KiB_is_accepted(ws, alice):
    device = await ws.connect(alice)
    envelope = '{"type": "ping", "payload": {"timestamp": "%s"}}'
    padding = "x" * (64 * 1024 - len(envelope % ""))
    await device.send_text(envelope % padding)
    assert await device.frame() == {"type": "pong", "payload": {"timestamp": padding}}


# ---- seq and sync ---------------------------------------------------------------------------------


def subject(frame: dict[str, Any]) -> int:
    """The message a message.new / message.edit / message.delete frame is about."""
    payload = frame["payload"]
    return payload["message"]["id"] if "message" in payload else payload["message_id"]


async def test_seq_strictly_increases_per_connection_across_chats(ws, group, alice, bob, carol):
    with_bob = await call(private_chat_id, a=alice, b=bob)
    with_carol = await call(private_chat_id, a=alice, b=carol)
    devices = {user: await ws.connect(user) for user in (alice, bob, carol)}
    changes: list[tuple[set[User], str, Message]] = []  # who sees it, frame type, row after it

    async def change(audience: set[User], kind: str, service: Any, **kwargs: Any) -> Message:
        changes.append((audience, kind, await call(service, **kwargs)))
        return changes[-1][2]

    everyone = {alice, bob, carol}
    first = await change({alice, bob}, "message.new", send_now, actor=alice, chat_id=with_bob)
    in_group = await change(everyone, "message.new", send_now, actor=carol, chat_id=group.pk)
    await change({alice, carol}, "message.new", send_now, actor=alice, chat_id=with_carol)
    edit, delete = services.message_edit, services.message_delete
    await change({alice, bob}, "message.edit", edit, actor=alice, message_id=first.pk, content="again")
    await change(everyone, "message.delete", delete, actor=carol, message_id=in_group.pk)
    await change(everyone, "message.new", send_now, actor=bob, chat_id=group.pk)

    for user, device in devices.items():
        visible = [(kind, row.pk, row.seq) for audience, kind, row in changes if user in audience]
        got = [(f["type"], subject(f), f["seq"]) for f in await device.frames(len(visible))]
        assert got == visible
        seqs = [seq for _, _, seq in got]
        assert seqs == sorted(set(seqs))  # strictly increasing, with gaps where others' chats were
        await device.nothing()


async def test_a_counter_gone_back_is_repaired_and_connected_clients_get_what_follows(ws, pair, alice, bob):
    """The counter row alone went back (restored apart from the messages): the hub that sees it
    raises it to the highest stored seq, so the next message gets a seq above every one the client
    has seen, and reaches it (a reused seq would have been dropped by the hub and the client)."""
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    for content in ("one", "two", "three"):
        await post(a1, pair.pk, content)
    seen = (await b1.frames(3))[-1]["seq"]
    assert seen >= 3
    await call(SeqCounter.objects.filter(pk=1).update, value=1)
    for _ in range(200):  # the hub looks at the counter every COUNTER_CHECK_SECONDS
        if await call(lambda: SeqCounter.objects.get(pk=1).value) >= seen:
            break
        await asyncio.sleep(0.05)
    assert await call(lambda: SeqCounter.objects.get(pk=1).value) == seen
    after = await post(a1, pair.pk, "after")
    frame = await b1.frame()
    assert frame == await new_frame(after, bob)
    assert frame["seq"] == seen + 1
    await b1.nothing()


async def test_a_sync_never_repeats_what_the_connection_was_sent_live(ws, pair, alice, bob):
    """A connection gets every change after connect.last_seq live; a sync from an older seq then
    replays only what it has not sent (a client reconnecting mid-traffic got them twice)."""
    before = await call(send_now, actor=alice, chat_id=pair.pk, content="before")
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    live = await post(a1, pair.pk, "live")
    live_frame = await new_frame(live, bob)
    assert await b1.frame() == live_frame
    await b1.send("sync", {"since_seq": 0})
    assert await b1.frames(2) == [
        await new_frame(before.pk, bob),
        {"type": "sync.done", "payload": {"last_seq": live_frame["seq"], "has_more": False}},
    ]
    await b1.nothing()


async def test_a_retry_is_not_answered_ahead_of_changes_still_on_their_way(ws, pair, alice, bob, monkeypatch):
    """A send retried while its own message.new, and a change before it, are still on their way
    to the connection: no answer out of seq order (it dropped the earlier change, whose seq was then
    below what the connection had sent); both come live, in order, once each."""
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    go, dispatch = asyncio.Event(), hub_module.Hub.dispatch

    async def held(self: Any, *args: Any, **kwargs: Any) -> None:
        await go.wait()
        await dispatch(self, *args, **kwargs)

    monkeypatch.setattr(hub_module.Hub, "dispatch", held)
    await b1.send("message.send", {"chat_id": pair.pk, "content": "zero", "client_msg_id": "b-0"})
    await a1.send("message.send", {"chat_id": pair.pk, "content": "one", "client_msg_id": "a-1"})
    for _ in range(500):  # both stored, their events held on their way to the connections
        if await call(lambda: Message.objects.filter(chat_id=pair.pk).count()) == 2:
            break
        await asyncio.sleep(0.01)
    await a1.send("message.send", {"chat_id": pair.pk, "content": "one", "client_msg_id": "a-1"})
    await a1.nothing()  # no answer ahead of the changes on their way
    go.set()
    zero, one = [await call(lambda c=c: Message.objects.get(content=c).pk) for c in ("zero", "one")]
    assert await a1.frames(2) == [await new_frame(zero, alice), await new_frame(one, alice)]
    await a1.nothing()


async def test_a_sync_never_repeats_a_retried_sends_answer(ws, pair, alice):
    """A send retried on a new connection is answered with the stored message (seq below the
    connection's connect.last_seq); a sync from an older seq does not send it again."""
    a1 = await ws.connect(alice)
    once = await post(a1, pair.pk, "once", client_msg_id="c-1")
    a2 = await ws.connect(alice)
    await a2.send("message.send", {"chat_id": pair.pk, "content": "once", "client_msg_id": "c-1"})
    answer = await new_frame(once, alice)
    assert await a2.frame() == answer
    await a2.send("sync", {"since_seq": 0})
    done = {"type": "sync.done", "payload": {"last_seq": answer["seq"], "has_more": False}}
    assert await a2.frame() == done
    await a2.nothing()


@pytest.mark.parametrize("since", ["start", "after-first", "latest"])
async def test_sync_replays_each_change_once_in_its_latest_state(ws, group, alice, bob, carol, since):
    first = await call(send_now, actor=alice, chat_id=group.pk, content="first")
    second = await call(send_now, actor=bob, chat_id=group.pk, content="second")
    third = await call(send_now, actor=alice, chat_id=group.pk, content="third")
    await call(services.message_edit, actor=bob, message_id=second.pk, content="second, edited")
    await call(services.message_delete, actor=alice, message_id=third.pk)
    await call(services.message_edit, actor=alice, message_id=first.pk, content="first, edited")
    await call(send_now, actor=alice, chat_id=await call(private_chat_id, a=alice, b=carol))  # not Bob's

    b1 = await ws.connect(bob)
    last_bob_saw = (await call(message_row, message_id=first.pk)).seq
    since_seq = {"start": 0, "after-first": first.created_seq, "latest": last_bob_saw}[since]
    await b1.send("sync", {"since_seq": since_seq})
    if since == "start":  # everything is new to this client
        expected = [
            await new_frame(second.pk, bob),
            await delete_frame(third.pk),
            await new_frame(first.pk, bob),
        ]
    elif since == "after-first":  # the first message was known: it comes as an edit
        expected = [
            await new_frame(second.pk, bob),
            await delete_frame(third.pk),
            await edit_frame(first.pk, bob),
        ]
    else:
        expected = []
    assert [f["seq"] for f in expected] == sorted({f["seq"] for f in expected})
    expected.append({"type": "sync.done", "payload": {"last_seq": last_bob_saw, "has_more": False}})
    assert b1.last_seq == last_bob_saw
    assert await b1.frames(len(expected)) == expected
    await b1.nothing()


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis sequencer (imsuite.event_routes)")
async def test_changes_parked_behind_one_never_published_go_out_in_order(ws, pair, alice, bob, monkeypatch):
    """The publisher of a change dies between its commit and its publish while the next change is
    published: that one waits in the sequencer, until the hub reads the missing one from the
    database (GAP_WAIT_SECONDS after the parking) and both go out, in seq order."""
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    publish, calls = routed_hub.publish, []

    async def first_lost(batch: list, hub: Any) -> None:
        calls.append(batch)
        if len(calls) > 1:
            await publish(batch, hub)

    monkeypatch.setattr(routed_hub, "publish", first_lost)
    await a1.send("message.send", {"chat_id": pair.pk, "content": "lost", "client_msg_id": "c-1"})
    while not calls:  # stored and its publish dropped before the next is sent
        await asyncio.sleep(0.01)
    await a1.send("message.send", {"chat_id": pair.pk, "content": "parked", "client_msg_id": "c-2"})
    acknowledged = await a1.frames(2)
    lost, parked = [await call(lambda c=c: Message.objects.get(content=c).pk) for c in ("lost", "parked")]
    assert acknowledged == [await new_frame(lost, alice), await new_frame(parked, alice)]
    assert await b1.frames(2) == [await new_frame(lost, bob), await new_frame(parked, bob)]
    await b1.nothing()


async def test_a_dropped_live_frame_is_recovered(ws, pair, alice, bob, monkeypatch):
    """The channel layer loses this process's copy of a message event (its hub is out of the hub
    group for a moment, and the event is taken to come from another process, so it is not handed
    to the hub directly): nobody gets the frame live, then the hub notices that the database's
    seq counter is ahead, reads the change and hands it out; a client that syncs gets it too."""
    a1, b1, b2 = await ws.connect(alice), await ws.connect(bob), await ws.connect(bob)
    known = b1.last_seq
    hub, layer = await get_hub(), get_channel_layer()

    if settings.REDIS_URL:  # the publisher dies between its commit and its publish
        monkeypatch.setattr(routed_hub, "publish", lambda *args: asyncio.sleep(0))
    else:
        monkeypatch.setattr(hub_module, "running_hub", lambda: None)
        await layer.group_discard(HUB_GROUP, hub.channel)
    await a1.send("message.send", {"chat_id": pair.pk, "content": "missed"})
    for device in (a1, b1, b2):
        await device.nothing()  # the live frame is lost
    missed = await sync_to_async(lambda: Message.objects.get(content="missed").pk)()
    if not settings.REDIS_URL:
        await layer.group_add(HUB_GROUP, hub.channel)
    monkeypatch.undo()

    assert await a1.frame() == await new_frame(missed, alice)  # the sender's acknowledgement, late
    assert [await b1.frame(), await b2.frame()] == [await new_frame(missed, bob)] * 2

    fresh = await ws.connect(bob)  # a client that reconnects and syncs from its seq gets it
    await fresh.send("sync", {"since_seq": known})
    assert await fresh.frames(2) == [
        await new_frame(missed, bob),
        {"type": "sync.done", "payload": {"last_seq": fresh.last_seq, "has_more": False}},
    ]

    following = await post(a1, pair.pk, "following")
    live = await new_frame(following, bob)
    assert [await b1.frame(), await b2.frame(), await fresh.frame()] == [live, live, live]
    for device in (a1, b1, b2, fresh):
        await device.nothing()


# ---- mentions (issue 19) ------------------------------------------------------------------------


async def test_mentions_in_message_new_edit_and_sync(ws, group, alice, bob, carol):
    b1, c1 = await ws.connect(bob), await ws.connect(carol)
    start = c1.last_seq
    sent = await post(b1, group.pk, "@carol @Alice 看这里 @bob")
    live = await c1.frame()
    assert live == await new_frame(sent, carol)
    assert live["payload"]["message"]["mentions"] == sorted([alice.pk, carol.pk])
    await b1.send("message.edit", {"message_id": sent, "content": "@all 看这里"})  # a plain member
    edited = await c1.frame()
    assert edited == await edit_frame(sent, carol)
    assert edited["payload"]["message"]["mentions"] == []
    c2 = await ws.connect(carol)
    await c2.send("sync", {"since_seq": start})
    replayed = await c2.frame()
    assert replayed == await new_frame(sent, carol)
    assert (replayed["payload"]["message"]["content"], replayed["payload"]["message"]["mentions"]) == (
        "@all 看这里",
        [],
    )
    assert (await c2.frame())["type"] == "sync.done"
    assert await call(lambda: ChatMember.objects.get(chat_id=group.pk, user=carol).unread_mentions) == 0


async def test_a_password_set_in_admin_ends_every_session_of_the_person(ws, alice, bob, moderator):
    sessions = [await call(new_refresh_token, user=alice) for _ in range(2)]
    devices = [await ws.connect(alice, str(session.access_token)) for session in sessions]
    bystander = await ws.connect(bob, str((await call(new_refresh_token, user=bob)).access_token))
    admin = Client()
    await call(admin.force_login, user=moderator)
    form = {
        "password1": "another-Strong-passw0rd",
        "password2": "another-Strong-passw0rd",
        "usable_password": "true",
    }
    url = reverse("admin:auth_user_password_change", args=[alice.pk])
    assert (await call(admin.post, path=url, data=form)).status_code == 302
    for device in devices:
        assert await device.frame() == disconnected("logged_out")
        await device.closed(1008)
        await device.deaf()
    await bystander.nothing()
    await bystander.alive()
