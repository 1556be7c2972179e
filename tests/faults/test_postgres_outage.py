"""PostgreSQL goes away under a real daphne and comes back (issue 17, point 4).

The server runs on a PostgreSQL cluster of this test's own (tests/faults/pg_cluster.py) and the
shared Redis; two people and a bot are connected. The cluster is stopped as a crash would stop it,
for ten seconds: every send is answered SERVICE_UNAVAILABLE within 5 s, a REST send and a history
page 503, a new socket gets the error frame and close 1013, a bot's action retcode 1503 (a new bot
socket, close 1013 too), health names the database. The cluster starts again: a send succeeds
within 2 s and reaches a connection that lived through the outage, and every message acknowledged
before or after is stored once, none that was refused. The server logs no traceback, and each kind
of failure once. PostgreSQL + Redis leg only.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import ROOT, base_env, recv_frame, run_daphne, send_frame, ws_open
from tests.e2e.test_http import call
from tests.e2e.test_ws import Person, http, two_friends

from .pg_cluster import PgCluster, pg_cluster

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"),
    reason="a PostgreSQL outage: the PostgreSQL + Redis leg only",
)

OUTAGE_SECONDS = 10.0  # how long sends keep being tried against the stopped cluster
ANSWER_SECONDS = 5.0  # the longest a send may wait for its answer during the outage
BACK_SECONDS = 2.0  # after PostgreSQL accepts connections again, a send succeeds within this
RETRY_PAUSE_SECONDS = 0.1  # between a client's tries while the service comes back
TRY_PAUSE_SECONDS = 0.25  # between a client's sends during the outage


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as running:
        yield running


@pytest.fixture
def server(cluster: PgCluster, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """daphne on the cluster's migrated database; its URL and its log."""
    env = base_env() | {
        "DATABASE_URL": cluster.create_database("imsuite"),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "fault-test-secret-key-0123456789abcdef",
        "CHANNEL_LAYER_PREFIX": f"{os.environ.get('CHANNEL_LAYER_PREFIX', 'imsuite')}-pgfault",
    }
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    with run_daphne(env, tmp_path) as url:
        yield url, next(tmp_path.glob("daphne-*.log"))


async def connected(url: str, person: Person) -> ClientConnection:
    ws = await ws_open(url, additional_headers={"Authorization": f"Bearer {person.token}"})
    assert (await recv_frame(ws))["type"] == "connect"
    return ws


async def answer(ws: ClientConnection, client_msg_id: str) -> dict[str, Any]:
    """The answer to the sender's message.send of this client_msg_id: its message.new or its error
    (other frames, such as presence, are passed over), within ANSWER_SECONDS."""
    deadline = time.monotonic() + ANSWER_SECONDS
    while True:
        frame = await recv_frame(ws, timeout=max(0.01, deadline - time.monotonic()))
        payload = frame["payload"]
        if frame["type"] == "message.new" and payload["message"].get("client_msg_id") == client_msg_id:
            return frame
        if frame["type"] == "error" and payload["details"].get("client_msg_id") == client_msg_id:
            return frame


async def received(ws: ClientConnection, content: str) -> None:
    """The recipient's message.new of this content arrives (other frames are passed over)."""
    deadline = time.monotonic() + ANSWER_SECONDS
    while True:
        frame = await recv_frame(ws, timeout=max(0.01, deadline - time.monotonic()))
        if frame["type"] == "message.new" and frame["payload"]["message"]["content"] == content:
            return


def unavailable(frame: dict[str, Any], client_msg_id: str) -> None:
    assert frame["type"] == "error", frame
    assert frame["payload"]["error_code"] == "SERVICE_UNAVAILABLE"
    details = frame["payload"]["details"]
    assert details == {
        "retry_after": details["retry_after"],
        "event": "message.send",
        "client_msg_id": client_msg_id,
    }
    assert type(details["retry_after"]) is int and details["retry_after"] >= 1


async def send(ws: ClientConnection, chat_id: int, client_msg_id: str) -> dict[str, Any]:
    await send_frame(
        ws, "message.send", {"chat_id": chat_id, "content": client_msg_id, "client_msg_id": client_msg_id}
    )
    return await answer(ws, client_msg_id)


def bot_url(url: str, token: str) -> str:
    return f"ws://127.0.0.1:{urlsplit(url).port}/ws/bot?token={token}"


async def a_bot_is_told_to_try_again(bot_ws: ClientConnection, url: str, bot_token: str, to: int) -> None:
    """A connected bot's action is answered retcode 1503; a new bot socket gets 1503 and close 1013."""
    action = {"action": "send_private_msg", "userId": to, "message": "x", "echo": "during"}
    await asyncio.wait_for(bot_ws.send(json.dumps(action)), ANSWER_SECONDS)
    failed = json.loads(await asyncio.wait_for(bot_ws.recv(), ANSWER_SECONDS))
    assert (failed["status"], failed["retcode"], failed["echo"]) == ("failed", 1503, "during"), failed
    fresh = await connect(bot_url(url, bot_token), proxy=None, open_timeout=ANSWER_SECONDS)
    refused = json.loads(await asyncio.wait_for(fresh.recv(), ANSWER_SECONDS))
    assert (refused["status"], refused["retcode"], refused["echo"]) == ("failed", 1503, None), refused
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(fresh.recv(), ANSWER_SECONDS)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def a_new_socket_is_told_to_try_again(url: str, person: Person) -> None:
    ws = await ws_open(url, additional_headers={"Authorization": f"Bearer {person.token}"})
    frame = await recv_frame(ws, timeout=ANSWER_SECONDS)
    assert (frame["type"], frame["payload"]["error_code"]) == ("error", "SERVICE_UNAVAILABLE"), frame
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), ANSWER_SECONDS)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def the_outage(url: str, cluster: PgCluster, ann: Person, ben: Person, chat_id: int) -> list[str]:
    """Stop the cluster and try everything against it; the client_msg_ids refused."""
    ann_ws = await connected(url, ann)
    robo = await http(url, "POST", "/api/bots", {"username": "robo"}, token=ann.token, expect=201)
    bot_ws = await connect(bot_url(url, robo["token"]), proxy=None, open_timeout=ANSWER_SECONDS)
    # Answered only once the bot's connection is set up: the outage must not catch it half-way.
    await asyncio.wait_for(
        bot_ws.send(json.dumps({"action": "get_login_info", "echo": "ready"})), ANSWER_SECONDS
    )
    ready = json.loads(await asyncio.wait_for(bot_ws.recv(), ANSWER_SECONDS))
    assert (ready["status"], ready["echo"]) == ("ok", "ready"), ready
    cluster.stop()
    stopped, refused = time.monotonic(), []
    # A burst: queued batches are answered together, not each after the pool's timeout in turn.
    burst = [f"down-{i}" for i in range(3)]
    for client_msg_id in burst:
        await send_frame(
            ann_ws, "message.send", {"chat_id": chat_id, "content": "x", "client_msg_id": client_msg_id}
        )
    for client_msg_id in burst:
        unavailable(await answer(ann_ws, client_msg_id), client_msg_id)
    refused += burst
    await a_new_socket_is_told_to_try_again(url, ben)
    await a_bot_is_told_to_try_again(bot_ws, url, robo["token"], ann.id)
    history = f"/api/chats/{chat_id}/messages"
    sent, paged, health = await asyncio.gather(  # at once: each waits for the database's answer
        asyncio.to_thread(call, url, "POST", history, {"content": "rest"}, token=ann.token),
        asyncio.to_thread(call, url, "GET", history, token=ann.token),  # chats.history_fast's door
        asyncio.to_thread(call, url, "GET", "/api/health"),
    )
    for reply in (sent, paged):
        assert (reply.status, reply.json()["error_code"]) == (503, "SERVICE_UNAVAILABLE")
        assert reply.json()["details"]["retry_after"] >= 1
    assert (health.status, health.json()) == (
        503,
        {"status": "error", "database": "error", "channel_layer": "ok", "cache": "ok"},
    )
    while time.monotonic() - stopped < OUTAGE_SECONDS:  # the outage goes on; so do the tries
        client_msg_id = f"down-{len(refused)}"
        unavailable(await send(ann_ws, chat_id, client_msg_id), client_msg_id)
        refused.append(client_msg_id)
        await asyncio.sleep(TRY_PAUSE_SECONDS)
    for ws in (ann_ws, bot_ws):
        await ws.close()
    return refused


async def test_sends_fail_fast_during_an_outage_and_succeed_within_2_s_after_it(server, cluster):
    url, log = server
    ann, ben, chat_id = await two_friends(url)
    ann_ws, ben_ws = await connected(url, ann), await connected(url, ben)
    acknowledged = []
    for i in range(3):
        assert (await send(ann_ws, chat_id, f"before-{i}"))["type"] == "message.new"
        acknowledged.append(f"before-{i}")

    refused = await the_outage(url, cluster, ann, ben, chat_id)

    cluster.start()
    back, tries = time.monotonic(), 0
    while True:  # a client retrying as told; bounded by the 2 s the service has to come back
        tries += 1
        client_msg_id = f"after-{tries}"
        frame = await send(ann_ws, chat_id, client_msg_id)
        if frame["type"] == "message.new":
            break
        unavailable(frame, client_msg_id)
        assert time.monotonic() - back < BACK_SECONDS, (
            f"still refused {BACK_SECONDS} s after PostgreSQL was back"
        )
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    acknowledged.append(client_msg_id)
    await received(ben_ws, client_msg_id)  # a connection that lived through the outage gets it
    await a_connection_works_again(url, ben)

    history = await http(url, "GET", f"/api/chats/{chat_id}/messages?limit=100", token=ben.token, expect=200)
    stored = [message["content"] for message in reversed(history["results"])]
    assert stored == acknowledged  # each acknowledged message once, in order; nothing refused stored
    assert not set(refused) & set(stored)
    for ws in (ann_ws, ben_ws):
        await ws.close()

    written = log.read_text(errors="replace")
    assert "Traceback" not in written, written[-4000:]
    warnings = [line for line in written.splitlines() if "database unavailable (" in line]
    assert warnings and len(warnings) == len(set(warnings)), warnings  # each kind of failure once
    assert "database available again" in written
    assert "Service Unavailable:" not in written  # django.request's line per 503: the warning says it once


async def a_connection_works_again(url: str, person: Person) -> None:
    ws = await connected(url, person)
    await ws.close()
