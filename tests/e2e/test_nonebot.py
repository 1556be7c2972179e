"""The onebot11 dialect with the real framework: the NoneBot2 project in nonebot_project/ (with
nonebot-adapter-onebot, from the test extras) runs as a subprocess against a real IM-Suite
(`manage.py serve`: daphne with the reverse bridge in one process, as the embedded mode runs it).
It connects forward (ONEBOT_WS_URLS to /ws/bot?dialect=onebot11) and reverse (IM-Suite connects to
its /onebot/v11/ws), gets a private and a group message from a person, and its answers (a plain
reply, a mention, a reply-to) reach the person's /ws; its /mute command mutes a member."""

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import ClientConnection

from accounts.models import User
from accounts.services import bot_create
from bots.services import reverse_endpoint_create
from chats.services import private_chat_ensure
from groups.models import Mute
from tests.bots.helpers import make_group
from tests.e2e.conftest import (
    START_TIMEOUT_SECONDS,
    WS_TIMEOUT_SECONDS,
    database_env,
    recv_frame,
    run_listening,
    send_frame,
    ws_open,
)

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="NoneBot2: embedded leg")

PROJECT = Path(__file__).parent / "nonebot_project"


class World:
    """Alice (the bot's owner, its friend), Carol, and Alice's group with the bot as an admin."""

    def __init__(self, make_user: Callable[..., User]) -> None:
        self.alice = make_user("alice", nickname="Alice")
        self.carol = make_user("carol", nickname="Carol")
        self.bot, self.token = bot_create(actor=self.alice, username="robo", nickname="Robo")
        self.group = make_group(self.alice, self.bot, self.carol, admins=[self.bot])
        self.private = private_chat_ensure(user_a=self.alice, user_b=self.bot)


@pytest.fixture
def world(transactional_db: None, make_user: Callable[..., User]) -> World:
    return World(make_user)


@pytest.fixture
def processes(e2e_log_dir: Path) -> Iterator[Callable[..., Any]]:
    """Start servers (run_listening) that are all stopped after the test; returns (port, log path)."""
    with ExitStack() as stack:

        def start(name: str, command: Callable[[int], list[str]], env: dict[str, str], cwd: Path) -> Any:
            log = e2e_log_dir / f"{name}-{{port}}.log"
            port = stack.enter_context(run_listening(command, env, log, cwd))
            return port, Path(str(log).format(port=port))

        yield start


@pytest.fixture
def imsuite(world: World, processes: Callable[..., Any]) -> str:
    """IM-Suite with the reverse bridge (`manage.py serve`) on the test database; its base URL."""
    env = database_env() | {"SECRET_KEY": settings.SECRET_KEY, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"}

    def command(port: int) -> list[str]:
        return [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]

    port, _ = processes("serve", command, env, Path(settings.BASE_DIR))
    return f"http://127.0.0.1:{port}"


def nonebot(processes: Callable[..., Any], **env: str) -> tuple[int, Path]:
    """The NoneBot2 project, listening on its own port, with these settings over its .env."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "SQLITE"))}

    def command(port: int) -> list[str]:
        return ["env", f"PORT={port}", sys.executable, "bot.py"]

    return processes("nonebot", command, base | {"LOG_LEVEL": "INFO", **env}, PROJECT)


async def logged(path: Path, text: str) -> None:
    """Wait (bounded) until the log holds `text`."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            pytest.fail(
                f"{text!r} not in {path} after {START_TIMEOUT_SECONDS} s:\n{path.read_text()[-3000:]}"
            )
        await asyncio.sleep(0.1)


@pytest.fixture
async def alice_ws(world: World, imsuite: str) -> AsyncIterator[ClientConnection]:
    ws = await ws_open(imsuite, query=f"token={AccessToken.for_user(world.alice)}")
    assert (await recv_frame(ws))["type"] == "connect"
    yield ws
    await asyncio.wait_for(ws.close(), WS_TIMEOUT_SECONDS)


async def from_bot(ws: ClientConnection, world: World, event_type: str = "message.new") -> dict[str, Any]:
    """The payload of the next frame of this type about the bot (its message, its action)."""
    deadline = time.monotonic() + WS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        frame = await recv_frame(ws)
        payload = frame["payload"]
        if frame["type"] == event_type and (
            payload.get("message", {}).get("sender_id") == world.bot.pk or event_type != "message.new"
        ):
            return payload
    pytest.fail(f"no {event_type} from the bot")


async def say(ws: ClientConnection, chat_id: int, content: str) -> int:
    """Alice sends a message over her /ws; its id (from her own message.new)."""
    await send_frame(ws, "message.send", {"chat_id": chat_id, "content": content, "client_msg_id": content})
    while True:
        frame = await recv_frame(ws)
        message = frame["payload"].get("message") or {}
        if frame["type"] == "message.new" and message.get("client_msg_id") == content:
            return message["id"]


async def converse(ws: ClientConnection, world: World) -> None:
    """Private /ping -> "pong"; group /hello -> a mention of Alice replying to it; /mute @carol 90."""
    await say(ws, world.private.pk, "/ping")
    pong = (await from_bot(ws, world))["message"]
    assert (pong["chat_id"], pong["content"], pong["mentions"], pong["reply_to_id"]) == (
        world.private.pk,
        "pong",
        [],
        None,
    )

    hello_id = await say(ws, world.group.pk, "/hello")
    hello = (await from_bot(ws, world))["message"]
    assert (hello["chat_id"], hello["content"], hello["mentions"], hello["reply_to_id"]) == (
        world.group.pk,
        "@alice hello",
        [world.alice.pk],
        hello_id,
    )

    await say(ws, world.group.pk, "/mute @carol 90")
    ban = await from_bot(ws, world, "group.ban")
    assert (ban["group_id"], ban["user_id"], ban["operator_id"], ban["duration"]) == (
        world.group.pk,
        world.carol.pk,
        world.bot.pk,
        90,
    )
    assert (await from_bot(ws, world))["message"]["content"] == "muted 1 for 90 s"
    assert await asyncio.to_thread(lambda: Mute.objects.filter(group=world.group, user=world.carol).exists())


async def test_forward(
    world: World, imsuite: str, alice_ws: ClientConnection, processes: Callable[..., Any]
) -> None:
    url = imsuite.replace("http://", "ws://") + "/ws/bot?dialect=onebot11"
    _, log = nonebot(processes, ONEBOT_WS_URLS=json.dumps([url]), ONEBOT_ACCESS_TOKEN=world.token)
    await logged(log, f"Bot {world.bot.pk} connected")
    await converse(alice_ws, world)


async def test_reverse(
    world: World, imsuite: str, alice_ws: ClientConnection, processes: Callable[..., Any]
) -> None:
    port, log = nonebot(processes, ONEBOT_WS_URLS="[]", ONEBOT_ACCESS_TOKEN="s3cret")
    url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
    await asyncio.to_thread(
        reverse_endpoint_create,
        actor=world.alice,
        bot_id=world.bot.pk,
        url=url,
        access_token="s3cret",
        dialect="onebot11",
    )
    await logged(log, f"Bot {world.bot.pk} connected")
    await converse(alice_ws, world)
