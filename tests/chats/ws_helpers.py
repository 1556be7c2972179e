"""Helpers for the client WebSocket consumer tests (tests/chats/test_ws.py).

A Device is one client connection to imsuite.asgi.application, driven with channels'
WebsocketCommunicator. Connections (the `ws` fixture) opens devices and ends whatever is still open
when the test ends. Expected frames are built from the database rows, not by the code under test.
"""

import asyncio
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import presence_audience
from chats.consumers import ClientConsumer
from chats.models import Chat, ChatMember, Message
from imsuite.asgi import application
from imsuite.hub import get_hub

PATH = "/ws"
WAIT = 5.0  # the longest a due frame may take; only a failing test waits this long
QUIET = 0.25  # how long a connection is watched to show that nothing arrives
SEQ_TYPES = frozenset(
    {"message.new", "message.edit", "message.delete", "message.reaction", "message.preview"}
)


# ---- values as the wire carries them --------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """A stored datetime as frames carry it: ISO 8601 in UTC with a Z."""
    return value and value.isoformat().replace("+00:00", "Z")


def is_utc_iso(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("Z") and datetime.fromisoformat(value).tzinfo is not None


def access_token(user: User, lifetime: timedelta | None = None) -> str:
    """An access JWT for the user (writes nothing); `lifetime` overrides its expiry, negative = expired."""
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def ref(user: User) -> dict[str, Any]:
    """The short user object of typing, presence, sender and friend frames."""
    return {"id": user.pk, "nickname": user.nickname or user.username, "avatar_url": user.avatar_url}


def unwrap(text: str) -> dict[str, Any]:
    """One server frame: checks the envelope, returns it without its (varying) timestamp."""
    text.encode()  # a text frame goes out as UTF-8: no lone surrogate may be left in it
    frame = json.loads(text)
    extra = {"seq"} if frame.get("type") in SEQ_TYPES else set()
    assert set(frame) == {"type", "payload", "timestamp"} | extra, frame
    assert is_utc_iso(frame.pop("timestamp")), frame
    if extra:
        assert type(frame["seq"]) is int, frame
    return frame


async def call(function: Any, **kwargs: Any) -> Any:
    """Run a (sync, database-touching) service or query from an async test."""
    return await sync_to_async(function)(**kwargs)


# ---- expected frames from the database ------------------------------------------------------------


def _message(message_id: int) -> Message:
    return Message.objects.select_related("chat__group", "sender").get(pk=message_id)


def _chat(chat: Chat, viewer: User) -> dict[str, Any]:
    if chat.type == Chat.Type.GROUP:
        title = chat.group.name
    else:
        title = (
            ChatMember.objects.select_related("user").exclude(user=viewer).get(chat=chat).user.display_name
        )
    return {"id": chat.pk, "type": chat.type, "title": title}


def message_body(row: Message, viewer: User) -> dict[str, Any]:
    body = {
        "id": row.pk,
        "chat_id": row.chat_id,
        "sender_id": row.sender_id,
        "content": row.content,
        "message_type": row.message_type,
        "reply_to_id": row.reply_to_id,
        "client_msg_id": row.client_msg_id,
        "created_at": iso(row.created_at),
        "is_edited": row.is_edited,
        "updated_at": iso(row.updated_at),
        "is_deleted": row.deleted_at is not None,
        "deleted_by": row.deleted_by_id,
        "deleted_at": iso(row.deleted_at),
        "attachments": [],
        "mentions": [] if row.deleted_at else (row.mentions or []),
    }
    if row.sender_id != viewer.pk:  # the sender's correlation id is nobody else's business
        del body["client_msg_id"]
    return body


@sync_to_async
def new_frame(message_id: int, viewer: User) -> dict[str, Any]:
    row = _message(message_id)
    payload = {
        "message": message_body(row, viewer),
        "chat": _chat(row.chat, viewer),
        "sender": ref(row.sender),
    }
    return {"type": "message.new", "seq": row.seq, "payload": payload}


@sync_to_async
def edit_frame(message_id: int, viewer: User) -> dict[str, Any]:
    row = _message(message_id)
    payload = {"message": message_body(row, viewer), "chat": _chat(row.chat, viewer)}
    return {"type": "message.edit", "seq": row.seq, "payload": payload}


@sync_to_async
def delete_frame(message_id: int) -> dict[str, Any]:
    row = _message(message_id)
    payload = {
        "message_id": row.pk,
        "chat_id": row.chat_id,
        "deleted_by": row.deleted_by_id,
        "deleted_at": iso(row.deleted_at),
    }
    return {"type": "message.delete", "seq": row.seq, "payload": payload}


@sync_to_async
def presence_frame(user: User, is_online: bool) -> dict[str, Any]:
    """The presence frame about this user, with the last_seen stored on their row."""
    row = User.objects.get(pk=user.pk)
    payload = {"user_id": row.pk, "is_online": is_online, "last_seen": iso(row.last_seen), "user": ref(row)}
    return {"type": "presence", "payload": payload}


def error_frame(code: str, **details: Any) -> dict[str, Any]:
    """An error frame; its human-readable message is not pinned (see `without_message`)."""
    return {"type": "error", "payload": {"error_code": code, "details": details}}


def without_message(frame: dict[str, Any]) -> dict[str, Any]:
    assert frame["type"] == "error", frame
    payload = dict(frame["payload"])
    assert isinstance(payload.pop("message"), str) and payload, frame
    return {**frame, "payload": payload}


# ---- connections ----------------------------------------------------------------------------------


def consumer_of(communicator: WebsocketCommunicator) -> ClientConsumer:
    """The consumer instance behind a communicator, found along the chain of awaiting coroutines
    (router -> URL router -> consumer)."""
    coroutine = communicator.future.get_coro()
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None)
        candidate = frame.f_locals.get("self") if frame is not None else None
        if isinstance(candidate, ClientConsumer):
            return candidate
        coroutine = getattr(coroutine, "cr_await", None)
    raise AssertionError("no ClientConsumer behind this communicator")


class Device:
    """One client connection."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.user: User | None = None
        self.live = False  # connected and not yet closed by either side
        self.last_seq: int | None = None  # from the connect frame

    async def send(self, event_type: Any, payload: Any = None) -> None:
        frame = {"type": event_type} if payload is None else {"type": event_type, "payload": payload}
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def frames(self, count: int) -> list[dict[str, Any]]:
        return [unwrap(await self.communicator.receive_from(WAIT)) for _ in range(count)]

    async def frame(self) -> dict[str, Any]:
        [frame] = await self.frames(1)
        return frame

    async def request(self, event_type: str, payload: Any = None) -> dict[str, Any]:
        """Send a frame and return the one frame that answers it."""
        await self.send(event_type, payload)
        return await self.frame()

    async def error(self, event_type: Any, payload: Any = None) -> dict[str, Any]:
        """Send a frame that must fail; its error frame without the human-readable message."""
        return without_message(await self.request(event_type, payload))

    async def nothing(self, quiet: float = QUIET) -> None:
        if not await self.communicator.receive_nothing(quiet):
            raise AssertionError(f"unexpected output: {await self.communicator.receive_output()}")

    async def alive(self) -> None:
        """The connection is open and answering (a ping gets its pong)."""
        assert await self.request("ping", {"timestamp": "still-there"}) == {
            "type": "pong",
            "payload": {"timestamp": "still-there"},
        }

    async def deaf(self) -> None:
        """A connection the server has closed ignores what the client still sends before the close
        handshake ends (a daphne connection goes on delivering frames until then)."""
        await self.send("ping", {"timestamp": "anyone?"})
        await self.nothing()

    async def closed(self, code: int) -> None:
        """The next thing the server does is close the connection with this code."""
        assert await self.communicator.receive_output(WAIT) == {"type": "websocket.close", "code": code}
        self.live = False

    async def close(self) -> None:
        """The client goes away; returns once the server has cleaned up after it."""
        self.live = False
        if not self.communicator.future.done():
            await self.communicator.disconnect(timeout=WAIT)

    @property
    def connection_id(self) -> str:
        return consumer_of(self.communicator).connection_id


class Listener:
    """A bare sink in this event loop's hub for a user: takes the events meant for that user,
    whether or not the user is online."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.got: list[str] = []

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        self.got.append(name)

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        self.got.append(name)

    async def events(self) -> list[str]:
        await asyncio.sleep(QUIET)
        got, self.got = self.got, []
        return got


class Connections:
    def __init__(self) -> None:
        self.devices: list[Device] = []
        self.listeners: list[Listener] = []

    async def open(
        self, query: str = "", headers: Iterable[tuple[bytes, bytes]] = (), subprotocols: Iterable[str] = ()
    ) -> tuple[Device, bool, Any]:
        """A raw handshake: the device, whether it was accepted, and the subprotocol or close code."""
        communicator = WebsocketCommunicator(
            application, PATH + query, headers=list(headers), subprotocols=list(subprotocols)
        )
        device = Device(communicator)
        self.devices.append(device)
        accepted, detail = await communicator.connect(WAIT)
        return device, accepted, detail

    async def connect(self, user: User, token: str | None = None, *, absorb_presence: bool = True) -> Device:
        """A signed-in device whose connect frame was checked. When it is the user's first, the
        `presence` online frame it causes at the open devices of friends and peers is read and
        checked too (absorb_presence=False leaves those frames to the test)."""
        first = not any(d.live and d.user.pk == user.pk for d in self.devices)
        device, accepted, _ = await self.open(query=f"?token={token or access_token(user)}")
        assert accepted
        hello = await device.frame()
        server_time, last_seq = hello["payload"].pop("server_time"), hello["payload"].pop("last_seq")
        assert hello == {"type": "connect", "payload": {"status": "connected", "user_id": user.pk}}
        assert is_utc_iso(server_time) and type(last_seq) is int
        device.user, device.live, device.last_seq = user, True, last_seq
        if first and absorb_presence:
            audience = await call(presence_audience, user_id=user.pk)
            expected = await presence_frame(user, True)
            for peer in self.devices:
                if peer.live and peer.user.pk in audience:
                    assert await peer.frame() == expected
        return device

    async def listen(self, user: User) -> Listener:
        listener = Listener(user.pk)
        (await get_hub()).attach(user.pk, listener)
        self.listeners.append(listener)
        return listener

    async def close_all(self) -> None:
        await asyncio.gather(*(device.close() for device in self.devices))
        if self.listeners:  # a listener was attached, so the hub has started
            hub = await get_hub()
            for listener in self.listeners:
                hub.detach(listener.user_id, listener)
