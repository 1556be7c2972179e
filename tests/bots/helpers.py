"""Helpers for the bot sandbox protocol tests (../shared/spec/bot-sandbox-protocol.md).

A BotSocket is a bot backend on /ws/bot (forward mode), a PersonSocket a person's client connection
on /ws; both are channels' WebsocketCommunicator on imsuite.asgi.application. `sockets` opens them
and closes whatever is still open when the test ends. Data is made in sync fixtures before the
sockets connect, or with `call` (sync_to_async) from the tests.

The fixtures are in conftest.py beside this module.
"""

import io
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Friendship, User
from accounts.services import friendship_create
from chats.models import Message
from chats.services import message_send, private_chat_ensure
from groups.models import Group
from groups.services import group_create, member_update
from imsuite.asgi import application

WAIT = 5.0  # the longest a due frame may take; only a failing test waits this long
QUIET = 0.3  # how long a connection is watched to show that nothing arrives


# ---- data -------------------------------------------------------------------------------------------


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a (sync, database-touching) service or query from an async test."""
    return await sync_to_async(function)(*args, **kwargs)


def befriend(a: User, b: User) -> None:
    if not Friendship.objects.filter(user=a, friend=b).exists():
        friendship_create(user_a=a, user_b=b)


def make_group(owner: User, *members: User, admins: Iterable[User] = (), name: str = "Team") -> Group:
    """A group of `owner` with `members` (made the owner's friends first), `admins` among them."""
    for member in members:
        if not (member.is_bot and member.owner_id == owner.pk):
            befriend(owner, member)
    group = group_create(actor=owner, name=name, member_ids=[m.pk for m in members])
    for admin in admins:
        member_update(actor=owner, group_id=group.pk, user_id=admin.pk, role="admin")
    return group


def send(actor: User, chat_id: int, content: str = "hello") -> Message:
    return message_send(actor=actor, chat_id=chat_id, content=content)[0]


def send_private(actor: User, to: User, content: str = "hello") -> Message:
    return send(actor, private_chat_ensure(user_a=actor, user_b=to).pk, content)


def send_files(actor: User, chat_id: int, caption: str, *attachment_ids: int) -> Message:
    return message_send(actor=actor, chat_id=chat_id, content=caption, attachment_ids=list(attachment_ids))[0]


# ---- media ------------------------------------------------------------------------------------------

BASE = "http://chat.example.test"  # PUBLIC_BASE_URL in the media tests


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "PNG")
    return out.getvalue()


def bot_client(token: str) -> APIClient:
    """An API client authenticated as a bot backend: its bot token as on /ws/bot."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def person_client(user: User) -> APIClient:
    """An API client signed in as a person (an access token alone: made without the database)."""
    return bot_client(str(AccessToken.for_user(user)))


def upload(client: APIClient, data: bytes, name: str) -> dict[str, Any]:
    """POST /api/uploads; the attachment object."""
    response = client.post("/api/uploads", {"file": SimpleUploadedFile(name, data)}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def signed(attachment_id: int, variant: str = "file") -> Any:
    """Equal to an absolute signed link of this attachment (`BASE`/media/<id>/<variant>?exp=&sig=)."""
    pattern = rf"{re.escape(BASE)}/media/{attachment_id}/{variant}\?exp=\d+&sig=[\w-]+"
    return _Matching(pattern)


class _Matching:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(self.pattern, other) is not None

    def __repr__(self) -> str:
        return f"<string matching {self.pattern!r}>"


def download(url: str) -> bytes:
    """What an absolute media link serves (asked of this server without the base)."""
    assert url.startswith(BASE + "/"), url
    response = Client().get(url.removeprefix(BASE))
    if response.status_code == 302:  # an object store: the presigned link serves the bytes
        with urllib.request.urlopen(response["Location"], timeout=WAIT) as stored:
            return stored.read()
    assert response.status_code == 200, response
    return b"".join(response.streaming_content) if response.streaming else response.content


# ---- expected frames --------------------------------------------------------------------------------


class _Text:
    """Equal to any non-empty string containing `part`: a response's human-readable message."""

    def __init__(self, part: str = "") -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other) and self.part in other

    def __repr__(self) -> str:
        return f"<text containing {self.part!r}>"


def ok(data: Any = None, echo: Any = None) -> dict[str, Any]:
    return {"status": "ok", "retcode": 0, "data": data, "message": "", "echo": echo}


def failed(retcode: int, echo: Any = None, mentions: str = "") -> dict[str, Any]:
    return {"status": "failed", "retcode": retcode, "data": None, "message": _Text(mentions), "echo": echo}


def timeless(frame: dict[str, Any]) -> dict[str, Any]:
    """An Event without its `time`, which must be the current unix time in whole seconds, and its
    `cursor` (bots.stream), which must be a positive integer (tests/bots/test_stream.py checks them)
    on every frame of the stream."""
    stamp = frame.pop("time", None)
    assert type(stamp) is int and abs(stamp - time.time()) <= 5, stamp
    cursor = frame.pop("cursor", None)
    if frame.get("post_type") != "meta_event":  # OneBot lifecycle and heartbeats: not in the stream
        assert type(cursor) is int and cursor > 0, cursor
    return frame


# ---- connections ------------------------------------------------------------------------------------


class BotSocket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, frame: Any) -> None:
        """A frame: text as is, anything else as JSON."""
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def reply(self) -> dict[str, Any]:
        return json.loads(await self.communicator.receive_from(WAIT))

    async def act(self, action: str, echo: Any = None, **params: Any) -> dict[str, Any]:
        """A flat frame as in the document (echo only if given); its one response."""
        await self.send({"action": action, **params, **({} if echo is None else {"echo": echo})})
        return await self.reply()

    async def event(self) -> dict[str, Any]:
        return timeless(await self.reply())

    async def nothing(self) -> None:
        if not await self.communicator.receive_nothing(QUIET):
            raise AssertionError(f"unexpected output: {await self.communicator.receive_output()}")

    async def closed(self, code: int = 1008) -> None:
        assert await self.communicator.receive_output(WAIT) == {"type": "websocket.close", "code": code}


class PersonSocket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def frame(self) -> dict[str, Any]:
        frame = json.loads(await self.communicator.receive_from(WAIT))
        return {"type": frame["type"], "payload": frame["payload"]}

    async def until(self, event_type: str, where: Callable[[dict[str, Any]], bool] = bool) -> dict[str, Any]:
        """The payload of the next frame of this type (that `where` accepts); other frames before it
        (presence, the person's own events) are passed over."""
        while True:
            frame = await self.frame()
            if frame["type"] == event_type and where(frame["payload"]):
                return frame["payload"]


class Sockets:
    def __init__(self) -> None:
        self.communicators: list[WebsocketCommunicator] = []

    async def open(self, path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> tuple[Any, bool]:
        communicator = WebsocketCommunicator(application, path, headers=list(headers))
        self.communicators.append(communicator)
        accepted, _ = await communicator.connect(WAIT)
        return communicator, accepted

    async def open_bot(
        self, query: str = "", headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> tuple[BotSocket, bool]:
        communicator, accepted = await self.open("/ws/bot" + query, headers)
        return BotSocket(communicator), accepted

    async def bot(self, token: str) -> BotSocket:
        socket, accepted = await self.open_bot(f"?token={token}")
        assert accepted
        return socket

    async def person(self, user: User) -> PersonSocket:
        communicator, accepted = await self.open(f"/ws?token={AccessToken.for_user(user)}")
        assert accepted
        socket = PersonSocket(communicator)
        assert (await socket.frame())["type"] == "connect"
        return socket

    async def close_all(self) -> None:
        for communicator in self.communicators:
            if not communicator.future.done():
                await communicator.disconnect(timeout=WAIT)
