"""Routing with Redis between two real daphne processes (issue 23, imsuite.event_routes): a process
receives nothing of the chats of users it does not serve; a connection opening there receives from
the next change on, with no gap; once the user's last connection there has closed, the process
receives their chats' changes no more.

What a process receives is read from its stream in Redis, which is all its hub reads."""

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from imsuite import event_routes, redis_nodes
from tests.e2e.conftest import recv_frame, send_frame
from tests.e2e.test_ws import Opener, Person, expect_connect, expect_presence, sign_up, two_friends

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="routing lives in Redis: the PostgreSQL + Redis leg"
)

ROUTE_REMOVAL_SECONDS = 15.0  # the hub's heartbeat (5 s) removes the routes of users gone, with room


async def routes_of(person: Person) -> set[str]:
    value = await redis_nodes.async_client().hget(f"{event_routes.tag()}:routes", str(person.id))
    return set(value.decode().split()) if value else set()


async def received(process: str, after: str = "-") -> tuple[str, list[dict[str, Any]]]:
    """What the process's stream holds after entry `after`, and its last entry's id."""
    entries = await redis_nodes.async_client().xrange(event_routes.stream_key(process), min=after)
    events = [
        event
        for entry_id, fields in entries
        if entry_id.decode() != after
        for event in json.loads(fields[b"e"])
    ]
    return (entries[-1][0].decode() if entries else after), events


async def send(ws: ClientConnection, chat_id: int, content: str) -> int:
    """A message from ws's user; its seq, from the sender's own message.new."""
    await send_frame(ws, "message.send", {"chat_id": chat_id, "content": content, "client_msg_id": content})
    frame = await recv_frame(ws)
    assert (frame["type"], frame["payload"]["message"]["content"]) == ("message.new", content)
    return frame["seq"]


async def message(ws: ClientConnection) -> tuple[int, str]:
    frame = await recv_frame(ws)
    assert frame["type"] == "message.new", frame
    return frame["seq"], frame["payload"]["message"]["content"]


async def test_a_process_receives_only_the_chats_of_the_users_it_serves(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    ws_clients: Opener,
) -> None:
    second_url = start_daphne(server_env)
    ann, ben, chat_id = await two_friends(daphne_url)
    cat = await sign_up(second_url, "cat", "Cat")  # nobody's friend, on the second process

    ann_ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ann_ws, ann, last_seq=0)
    ben_ws = await ws_clients(daphne_url, query=f"token={ben.token}")
    await expect_connect(ben_ws, ben, last_seq=0)
    await expect_presence(ann_ws, ben, True)
    cat_ws = await ws_clients(second_url, query=f"token={cat.token}")
    await expect_connect(cat_ws, cat, last_seq=0)
    (first,), (second,) = await routes_of(ann), await routes_of(cat)
    assert first != second and await routes_of(ben) == {first}

    for n in range(3):  # Ann and Ben chat on the first process: the second receives nothing
        seq = await send(ann_ws, chat_id, f"hello {n}")
        assert await message(ben_ws) == (seq, f"hello {n}")
    last, events = await received(second)
    assert events == []

    # Ben opens a connection on the second process: it receives from the next change on.
    ben_there = await ws_clients(second_url, query=f"token={ben.token}")
    await expect_connect(ben_there, ben, last_seq=seq)
    assert await routes_of(ben) == {first, second}
    seq = await send(ann_ws, chat_id, "now there too")
    assert await message(ben_ws) == await message(ben_there) == (seq, "now there too")
    last, events = await received(second, last)
    assert [(event["event"], event["seq"]) for event in events] == [("message.new", seq)]

    # His connection there closes: the second process stops receiving his chats.
    await asyncio.wait_for(ben_there.close(), 5)
    for _ in range(int(ROUTE_REMOVAL_SECONDS * 10)):
        if await routes_of(ben) == {first}:
            break
        await asyncio.sleep(0.1)
    assert await routes_of(ben) == {first}
    seq = await send(ann_ws, chat_id, "only here again")
    assert await message(ben_ws) == (seq, "only here again")
    assert (await received(second, last))[1] == []
