"""A graceful stop (issue 23, point 4): SIGTERM to a real daphne process, with real WebSocket clients.

- every client hears `disconnect {reason: "server_restart"}`, then close 1001; a new connection is
  refused; the process exits 0 within its bound;
- sends received before the signal are stored and acknowledged before the close, and a client that
  reconnects to another process and syncs gets each message exactly once; (PostgreSQL) a send held
  in the database by the test when the signal comes is waited for, stored and acknowledged;
- a client that goes on sending through the stop loses nothing: what was acknowledged is stored,
  what was not is resent (same client_msg_id) and stored once;
- (PostgreSQL) a stop that cannot finish (a send held for ever) still ends the process in its bound;
- a process that is not accepting for a moment (stopped by SIGSTOP here; busy in a restart's storm
  of reconnections in life) still has its clients' handshakes completed by the kernel, past
  twisted's queue of 50 (LISTEN_BACKLOG), and serves each of them once it goes on;
- (PG+Redis leg) the process removes its routes and stream in Redis, and its users with no connection
  elsewhere are announced offline at once, those with one stay online.
"""

import asyncio
import os
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from chats.models import Message, SeqCounter
from imsuite import event_routes, redis_nodes
from imsuite.shutdown import HARD_STOP_EXIT_CODE, HARD_STOP_SECONDS
from tests.e2e.conftest import (
    WS_TIMEOUT_SECONDS,
    daphne_command,
    daphne_log_path,
    database_env,
    e2e_log_dir,  # noqa: F401  (a fixture this module uses)
    recv_frame,
    send_frame,
    start_listening,
    stop_process,
    wait_until_the_database_is_idle,
    ws_open,
)
from tests.faults.test_redis_restart import closed_with, connected, eventually, next_of, people, rest

GRACE_SECONDS = 5  # past it and HARD_STOP_SECONDS, a process ends itself (exit status 70)
LONG_GRACE_SECONDS = 60  # for a send held in the database by the test while the process stops
SHORT_GRACE_SECONDS = 2  # for one held for ever
CLOSE_GOING_AWAY = 1001
RESTART = {"status": "disconnected", "reason": "server_restart"}
STORM = 300  # clients connecting at once to a process that is not accepting
HANDSHAKE_SECONDS = 0.5  # a handshake the kernel drops is retried only a second later
BURST = 20  # sends received just before the signal
STREAM_MAX = 400  # sends of the client that keeps sending (it stops at the close)

needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="routes in Redis: leg 2")
needs_postgres = pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="a PostgreSQL lock: leg 2")


class Daphne:
    """A daphne process of the test, on the test database, that the test stops with a signal."""

    def __init__(self, process: subprocess.Popen, port: int, log_dir: Path, grace: float) -> None:
        self.process, self.port, self.grace = process, port, grace
        self.url = f"http://127.0.0.1:{port}"
        self.log = daphne_log_path(log_dir, self.url)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def exits_cleanly(self) -> None:
        """Exit status 0 within the bound, and no traceback in its output."""
        assert self.process.wait(timeout=self.grace + HARD_STOP_SECONDS) == 0
        written = self.log.read_text(errors="replace")
        assert "Traceback" not in written, written[-4000:]


@pytest.fixture
def daphnes(transactional_db: None, e2e_log_dir: Path) -> Iterator[Callable[[], Daphne]]:  # noqa: F811
    """Start daphne processes (SHUTDOWN_GRACE_SECONDS=GRACE_SECONDS); all are gone after the test."""
    env = {
        **database_env(),
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "RATE_LIMIT_MESSAGES": "1000000",  # the stream test sends hundreds of messages
    }
    env["SECRET_KEY"] = settings.SECRET_KEY  # the tokens are made by this process (people())
    with ExitStack() as stack:

        def start(grace: float = GRACE_SECONDS) -> Daphne:
            own = {**env, "SHUTDOWN_GRACE_SECONDS": str(grace)}
            process, port = start_listening(daphne_command(), own, e2e_log_dir / "daphne-{port}.stderr.log")
            stack.callback(stop_process, process)
            return Daphne(process, port, e2e_log_dir, grace)

        yield start
    wait_until_the_database_is_idle()


async def told_to_go(ws: ClientConnection) -> None:
    """The disconnect frame (reason server_restart), then close 1001 (other frames skipped)."""
    frame = await next_of(ws, "disconnect")
    assert frame["payload"] == RESTART, frame
    assert isinstance(frame["timestamp"], str)
    await closed_with(ws, CLOSE_GOING_AWAY)


async def acknowledged_until(ws: ClientConnection, frame_type: str) -> list[str]:
    """The client_msg_ids acknowledged (message.new of one's own sends) before the next frame of
    this type; nothing else may come in between (no error). After a disconnect (server_restart),
    the close 1001, and no frame in between."""
    acked = []
    while True:
        frame = await recv_frame(ws)
        if frame["type"] == frame_type:
            if frame_type == "disconnect":
                assert frame["payload"] == RESTART, frame
                await closed_with(ws, CLOSE_GOING_AWAY)
            return acked
        assert frame["type"] == "message.new", frame
        acked.append(frame["payload"]["message"]["client_msg_id"])


async def send_message(ws: ClientConnection, chat_id: int, cmid: str) -> None:
    await send_frame(ws, "message.send", {"chat_id": chat_id, "content": cmid, "client_msg_id": cmid})


async def synced(ws: ClientConnection, since: int) -> Counter:
    """How many times each client_msg_id comes in a sync from `since` (one page)."""
    await send_frame(ws, "sync", {"since_seq": since})
    seen: Counter = Counter()
    while True:
        frame = await recv_frame(ws)
        if frame["type"] == "sync.done":
            assert frame["payload"]["has_more"] is False, frame
            return seen
        if frame["type"] == "message.new":
            seen[frame["payload"]["message"]["client_msg_id"]] += 1


@contextmanager
def seq_counter_locked() -> Iterator[Callable[[], bool]]:
    """The seq counter's table locked against writes by a connection of the test's own (a send
    commits only after it), and a check whether a server transaction is waiting for the lock."""
    import psycopg

    table = SeqCounter._meta.db_table
    with psycopg.connect(**connection.get_connection_params()) as locker:
        locker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

        def waiting() -> bool:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> %s"
            )
            with psycopg.connect(**connection.get_connection_params()) as watcher:
                return watcher.execute(query, [locker.info.backend_pid]).fetchone()[0] > 0

        yield waiting
        locker.rollback()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


async def eventually_true(check: Callable[[], bool]) -> None:
    """Poll check() off the event loop (bounded: WS_TIMEOUT_SECONDS) until it is true."""
    await eventually(lambda: asyncio.to_thread(check), within=WS_TIMEOUT_SECONDS)


def stored_by(user: Any) -> Counter:
    return Counter(Message.objects.filter(sender=user).values_list("client_msg_id", flat=True))


async def test_a_stopping_server_tells_each_client_closes_with_1001_refuses_newcomers_and_exits(daphnes):
    server = daphnes()
    p = await sync_to_async(people)()
    alice = await connected(server.url, str(p["alice_live"].access_token))
    bob = await connected(server.url, str(p["bob_token"].access_token))
    server.terminate()
    await told_to_go(alice)
    await told_to_go(bob)
    with pytest.raises(OSError):  # the port is closed before any client is told
        await ws_open(server.url, query=f"token={p['bob_token'].access_token}")
    server.exits_cleanly()


def test_a_process_not_accepting_for_a_moment_still_completes_a_storm_of_handshakes(daphnes):
    server = daphnes()
    clients: list[socket.socket] = []
    server.process.send_signal(signal.SIGSTOP)
    try:
        for _ in range(STORM):  # each within HANDSHAKE_SECONDS, or TimeoutError: it was dropped
            clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=HANDSHAKE_SECONDS))
    finally:
        server.process.send_signal(signal.SIGCONT)
    for client in clients:
        client.sendall(b"GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    for client in clients:
        with client:
            client.settimeout(WS_TIMEOUT_SECONDS)
            assert client.makefile("rb").readline().split(b" ")[:2] == [b"HTTP/1.0", b"200"]


async def two_servers_alice_synced(daphnes: Any) -> tuple[Any, Any, dict[str, Any], str, Any, int]:
    """Two daphnes; Alice connected to the first and synced: (first, second, people, her token,
    her connection, the seq she is synced to)."""
    first, second = daphnes(), daphnes()
    p = await sync_to_async(people)()
    token = str(p["alice_live"].access_token)
    alice = await connected(first.url, token)
    await send_frame(alice, "sync", {"since_seq": 0})
    since = (await next_of(alice, "sync.done"))["payload"]["last_seq"]
    return first, second, p, token, alice, since


async def test_sends_received_before_the_signal_are_acknowledged_then_synced_once_elsewhere(daphnes):
    first, second, p, token, alice, since = await two_servers_alice_synced(daphnes)
    sent = [f"burst-{n}" for n in range(BURST)]
    for cmid in sent:
        await send_message(alice, p["chat"], cmid)
    await send_frame(alice, "ping", {})
    acked = await acknowledged_until(alice, "pong")  # every send has been read; most are being stored
    first.terminate()
    acked += await acknowledged_until(alice, "disconnect")
    assert acked == sent  # each, in order, before the close
    first.exits_cleanly()
    assert await sync_to_async(stored_by)(p["alice"]) == Counter(sent)

    again = await connected(second.url, token)
    assert await synced(again, since) == Counter(sent)  # each exactly once
    await again.close()


@needs_postgres
async def test_a_send_still_being_stored_when_the_signal_comes_is_acknowledged_before_the_close(daphnes):
    server = daphnes(grace=LONG_GRACE_SECONDS)
    p = await sync_to_async(people)()
    alice = await connected(server.url, str(p["alice_live"].access_token))
    with seq_counter_locked() as waiting_for_it:
        await send_message(alice, p["chat"], "held")
        await eventually_true(waiting_for_it)  # the server's transaction waits for the counter
        server.terminate()
        await eventually_true(lambda: refused(server.port))  # the stop has begun
        assert server.process.poll() is None  # and waits for the send
    assert await acknowledged_until(alice, "disconnect") == ["held"]
    server.exits_cleanly()
    assert await sync_to_async(stored_by)(p["alice"]) == Counter(["held"])


@needs_postgres
async def test_a_stop_that_cannot_finish_ends_the_process_within_its_bound(daphnes):
    server = daphnes(grace=SHORT_GRACE_SECONDS)
    p = await sync_to_async(people)()
    alice = await connected(server.url, str(p["alice_live"].access_token))
    with seq_counter_locked() as waiting_for_it:  # held until the process is gone: it cannot finish
        await send_message(alice, p["chat"], "never")
        await eventually_true(waiting_for_it)
        server.terminate()
        await closed_with(alice, CLOSE_GOING_AWAY)  # after the grace, without a disconnect frame
        assert server.process.wait(timeout=SHORT_GRACE_SECONDS + HARD_STOP_SECONDS + 5) == HARD_STOP_EXIT_CODE
    assert "exiting at once" in server.log.read_text(errors="replace")
    assert await sync_to_async(stored_by)(p["alice"]) == Counter()  # never acknowledged, never stored


async def test_a_client_sending_through_the_stop_loses_nothing_and_doubles_nothing(daphnes):
    first, second, p, token, alice, since = await two_servers_alice_synced(daphnes)
    sent: list[str] = []

    async def keep_sending() -> None:
        """Until the connection closes under it (or STREAM_MAX); the signal goes after the 20th."""
        for n in range(STREAM_MAX):
            cmid = f"stream-{n}"
            try:
                await send_message(alice, p["chat"], cmid)
            except ConnectionClosed:
                return
            sent.append(cmid)
            if n == 20:
                first.terminate()
            await asyncio.sleep(0)  # let the acknowledgements be read meanwhile

    sending = asyncio.create_task(keep_sending())
    acked = await acknowledged_until(alice, "disconnect")
    await asyncio.wait_for(sending, WS_TIMEOUT_SECONDS)
    first.exits_cleanly()
    assert acked == sent[: len(acked)]  # acknowledged in the order sent, none of them twice
    stored = await sync_to_async(stored_by)(p["alice"])
    assert set(acked) <= set(stored)  # every acknowledged send is stored...
    assert set(stored) <= set(sent) and max(stored.values()) == 1  # ...and nothing twice

    # Like the web client's outbox: every send not acknowledged goes again, with its client_msg_id.
    again = await connected(second.url, token)
    unacknowledged = [cmid for cmid in sent if cmid not in acked]
    for cmid in unacknowledged:
        await send_message(again, p["chat"], cmid)
    resent: list[str] = []
    while len(resent) < len(unacknowledged):
        frame = await next_of(again, "message.new")
        resent.append(frame["payload"]["message"]["client_msg_id"])
    assert resent == unacknowledged
    assert await sync_to_async(stored_by)(p["alice"]) == Counter(sent)  # each send once
    # A sync brings the rest, and nothing this connection already had: each send once.
    assert await synced(again, since) + Counter(resent) == Counter(sent)
    await again.close()


async def routes(*users: Any) -> dict[int, set[str]]:
    """Where these users are routed in Redis: user id -> the processes serving them."""
    routed = await redis_nodes.async_client().hmget(f"{event_routes.tag()}:routes", [u.pk for u in users])
    return {user.pk: set(value.decode().split()) for user, value in zip(users, routed, strict=True) if value}


@needs_redis
async def test_a_stopped_process_removes_its_routes_and_only_users_gone_with_it_go_offline(daphnes):
    first, second = daphnes(), daphnes()
    p = await sync_to_async(people)()
    alice_token, bob_token = str(p["alice_live"].access_token), str(p["bob_token"].access_token)
    alice = await connected(first.url, alice_token)  # Alice is connected to the first process only
    (first_hub,) = (await routes(p["alice"]))[p["alice"].pk]
    bob_on_first = await connected(first.url, bob_token)
    bob_on_second = await connected(second.url, bob_token)  # Bob to both
    (second_hub,) = (await routes(p["bob"]))[p["bob"].pk] - {first_hub}
    assert await routes(p["alice"], p["bob"]) == {
        p["alice"].pk: {first_hub},
        p["bob"].pk: {first_hub, second_hub},
    }

    first.terminate()
    await told_to_go(alice)
    await told_to_go(bob_on_first)
    frame = await next_of(bob_on_second, "presence")  # at once, not when Alice's lease expires
    while frame["payload"]["user_id"] != p["alice"].pk:
        frame = await next_of(bob_on_second, "presence")
    assert frame["payload"]["is_online"] is False
    first.exits_cleanly()
    assert await routes(p["alice"], p["bob"]) == {p["bob"].pk: {second_hub}}  # none to the first
    client = redis_nodes.async_client()
    assert await client.zscore(f"{event_routes.tag()}:procs", first_hub) is None
    assert await client.exists(event_routes.stream_key(first_hub)) == 0

    status, body = await rest(second.url, "GET", f"/api/users/{p['alice'].pk}", token=bob_token)
    assert (status, body["is_online"]) == (200, False)
    status, body = await rest(second.url, "GET", f"/api/users/{p['bob'].pk}", token=bob_token)
    assert (status, body["is_online"]) == (200, True)  # his connection to the second process holds
    await bob_on_second.close()
