"""The resumable bot event stream on the real server (issue 20, point 6): a bot's connection is
killed while events flow, it reconnects with `?since=<cursor>`, and every event arrives exactly once,
in order. daphne over TCP on 127.0.0.1, bots on /ws/bot through the websockets client library."""

import asyncio
import json
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect

from accounts.services import bot_create
from tests.bots.helpers import make_group
from tests.e2e.conftest import WS_TIMEOUT_SECONDS

SENT = 25  # within RATE_LIMIT_MESSAGES (30 per window) for the one sender
KILLED_AFTER = 8
SENT_WHILE_DEAD = 5  # sent after the listener was killed, before it comes back


async def bot_socket(base_url: str, token: str, query: str = "") -> ClientConnection:
    port = urlsplit(base_url).port
    return await connect(
        f"ws://127.0.0.1:{port}/ws/bot?token={token}{query}", proxy=None, open_timeout=WS_TIMEOUT_SECONDS
    )


# The bot was made (its owner its first contact) and joined the group in the set-up: those notices
# may come after the bot connected (they are published after the set-up's commit), before the first
# message.
SETUP_NOTICES = {"on_group_increase", "on_group_admin", "on_private_add"}


async def next_frame(ws: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), WS_TIMEOUT_SECONDS))


async def next_answer(ws: ClientConnection) -> dict:
    """The answer to the bot's last action: the talker hears the set-up notices too, in any order."""
    while True:
        frame = await next_frame(ws)
        if "status" in frame:
            return frame
        assert frame["event"] in SETUP_NOTICES, frame


@pytest.fixture
def bots(alice) -> tuple[str, str, int]:
    """Alice's two bots in a group of hers: a sender's token, a listener's token, the group id."""
    sender, sender_token = bot_create(actor=alice, username="talker", nickname="Talker")
    listener, listener_token = bot_create(actor=alice, username="listener", nickname="Listener")
    group = make_group(alice, sender, listener)
    return sender_token, listener_token, group.pk


async def test_a_killed_bot_resumes_with_its_cursor_exactly_once_in_order(daphne_url, bots):
    sender_token, listener_token, group_id = bots
    talker = await bot_socket(daphne_url, sender_token)

    killed, sent_while_dead = asyncio.Event(), asyncio.Event()

    async def talk() -> None:
        for i in range(SENT):
            if i == KILLED_AFTER + 2:  # the listener has the first ones (or they are on their way)
                await killed.wait()
            if i == KILLED_AFTER + 2 + SENT_WHILE_DEAD:
                sent_while_dead.set()
            await talker.send(
                json.dumps({"action": "send_group_msg", "groupId": group_id, "message": f"m{i}"})
            )
            assert (await next_answer(talker))["status"] == "ok"
            await asyncio.sleep(0.02)

    listener = await bot_socket(daphne_url, listener_token)
    talking = asyncio.create_task(talk())
    received: list[tuple[str, int]] = []
    while len(received) < KILLED_AFTER:
        frame = await next_frame(listener)
        if frame["event"] in SETUP_NOTICES:  # the group's making, which may reach it after it connects
            continue
        assert frame["event"] == "on_message", frame
        received.append((frame["message"], frame["cursor"]))
    listener.transport.abort()  # killed: no close handshake, whatever was on its way is lost
    killed.set()
    await asyncio.wait_for(sent_while_dead.wait(), WS_TIMEOUT_SECONDS)  # events flow meanwhile

    listener = await bot_socket(daphne_url, listener_token, f"&since={received[-1][1]}")
    try:
        while len(received) < SENT:
            frame = await next_frame(listener)
            assert frame["event"] == "on_message", frame
            received.append((frame["message"], frame["cursor"]))
        await talking
        with pytest.raises(TimeoutError):  # nothing twice: no further frame
            await asyncio.wait_for(listener.recv(), 1.0)
    finally:
        await listener.close()
        await talker.close()
    assert [text for text, _ in received] == [f"m{i}" for i in range(SENT)]
    cursors = [cursor for _, cursor in received]
    assert cursors == sorted(set(cursors))  # strictly increasing
