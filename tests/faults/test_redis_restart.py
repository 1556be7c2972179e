"""A Redis restart (kill -9, start empty) under two real daphne processes on the test PostgreSQL
database and a Redis of the test's own: what Redis forgot must not matter.

- a signed-out session stays signed out (REST 401 and WebSocket refused): revocations are stored
  in the database, the cache only speeds the check up;
- a user deactivated while Redis is down, with no event reaching the process that holds their
  connection, is closed there by that process's own periodic check, and can no longer send;
- a connected user is online again within one lease period (the renewal recreates the lease);
- every message the server acknowledged is stored, once.

PG+Redis leg only: the embedded leg has no Redis to restart.
"""

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from accounts import services as account_services
from accounts.models import User
from accounts.sessions import new_refresh_token
from chats.models import Chat, Message
from tests.e2e.conftest import (
    FALLBACK_SECRET_KEY,
    WS_TIMEOUT_SECONDS,
    daphne_log_path,
    database_env,
    e2e_log_dir,  # noqa: F401  (a fixture this module uses)
    recv_frame,
    run_daphne,
    send_frame,
    wait_until_the_database_is_idle,
    ws_open,
)
from tests.e2e.test_http import call
from tests.faults.redis_server import RedisServer, redis_server

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="a fault test of the PG+Redis leg"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

LEASE_SECONDS = 3  # PRESENCE_TTL_SECONDS of the servers: renewed every second
RIGHTS_CHECK_SECONDS = 1
CLOSE_POLICY = 1008


@pytest.fixture
def servers(transactional_db: None, e2e_log_dir: Path) -> Iterator[tuple[RedisServer, str, str]]:  # noqa: F811
    """Our Redis and two daphne processes that use it (and the test database)."""
    with redis_server() as redis, ExitStack() as stack:
        env = {
            **database_env(),
            "REDIS_URL": redis.url,
            "CHANNEL_LAYER_PREFIX": f"fault{redis.port}",
            "PRESENCE_TTL_SECONDS": str(LEASE_SECONDS),
            "RIGHTS_CHECK_SECONDS": str(RIGHTS_CHECK_SECONDS),
            "WS_IDLE_SECONDS": "60",
        }
        env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or FALLBACK_SECRET_KEY)
        first = stack.enter_context(run_daphne(env, e2e_log_dir))
        second = stack.enter_context(run_daphne(env, e2e_log_dir))
        yield redis, first, second
    wait_until_the_database_is_idle()


async def rest(base_url: str, method: str, path: str, body: Any = None, *, token: str = "") -> Any:
    """(status, JSON body) of one REST call, off the event loop."""
    reply = await asyncio.to_thread(call, base_url, method, path, body, token=token or None)
    return reply.status, reply.json() if reply.text else None


async def connected(base_url: str, token: str) -> ClientConnection:
    ws = await ws_open(base_url, query=f"token={token}")
    frame = await recv_frame(ws)
    assert (frame["type"], frame["payload"]["status"]) == ("connect", "connected"), frame
    return ws


async def refused(base_url: str, token: str, reason: str) -> None:
    """The AUTHENTICATION_FAILED error frame with this reason, then close 1008."""
    ws = await ws_open(base_url, query=f"token={token}")
    frame = await recv_frame(ws)
    assert (frame["type"], frame["payload"]["error_code"]) == ("error", "AUTHENTICATION_FAILED"), frame
    assert frame["payload"]["details"] == {"reason": reason}
    await closed_with(ws, CLOSE_POLICY)


async def closed_with(ws: ClientConnection, code: int) -> None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), WS_TIMEOUT_SECONDS)
    assert ws.close_code == code


async def send_and_settle(ws: ClientConnection, chat_id: int, cmid: str) -> bool:
    """Send one message; True once the server acknowledged it (message.new with its client_msg_id),
    False if it refused it (an error frame naming it). Other frames (presence) are skipped."""
    await send_frame(ws, "message.send", {"chat_id": chat_id, "content": cmid, "client_msg_id": cmid})
    deadline = time.monotonic() + WS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        frame = await recv_frame(ws)
        payload = frame["payload"]
        if frame["type"] == "message.new" and payload["message"]["client_msg_id"] == cmid:
            return True
        if frame["type"] == "error" and payload["details"].get("client_msg_id") == cmid:
            return False
    pytest.fail(f"{cmid} was neither acknowledged nor refused")


async def next_of(ws: ClientConnection, frame_type: str) -> dict[str, Any]:
    """The next frame of this type (others skipped), within WS_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + WS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        frame = await recv_frame(ws, timeout=max(0.1, deadline - time.monotonic()))
        if frame["type"] == frame_type:
            return frame
    pytest.fail(f"no {frame_type} frame within {WS_TIMEOUT_SECONDS} s")


async def eventually(check: Any, within: float) -> None:
    """Poll check() (async, bounded) until it is true."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not true within {within} s"
        await asyncio.sleep(0.1)


def people() -> dict[str, Any]:
    alice, bob, mod = (
        account_services.user_register(username=name, password="a-Strong-passw0rd")
        for name in ("alice", "bob", "mod")
    )
    User.objects.filter(pk=mod.pk).update(is_staff=True, is_superuser=True)
    account_services.friendship_create(user_a=alice, user_b=bob)
    low, high = sorted((alice.pk, bob.pk))
    return {
        "alice": alice,
        "bob": bob,
        "mod": User.objects.get(pk=mod.pk),
        "chat": Chat.objects.get(private_key=f"{low}:{high}").pk,
        "signed_out": new_refresh_token(alice),
        "alice_live": new_refresh_token(alice),
        "bob_token": new_refresh_token(bob),
    }


async def test_a_redis_restart_forgets_no_sign_out_no_deactivation_and_no_presence(servers, e2e_log_dir):  # noqa: F811
    redis, first, second = servers
    p = await sync_to_async(people)()
    alice_ws = await connected(first, str(p["alice_live"].access_token))
    bob_ws = await connected(second, str(p["bob_token"].access_token))
    acknowledged = {
        cmid
        for cmid in ["before-0", "before-1", "before-2"]
        if await send_and_settle(alice_ws, p["chat"], cmid)
    }
    assert acknowledged == {"before-0", "before-1", "before-2"}

    signed_out = p["signed_out"]
    assert (await rest(first, "POST", "/api/auth/logout", {"refresh": str(signed_out)}))[0] == 204
    old_access = str(signed_out.access_token)

    redis.kill()
    # Bob is deactivated while Redis is down: the event cannot reach the process holding his
    # connection (this test process publishes to another channel layer altogether).
    await sync_to_async(account_services.user_set_active)(actor=p["mod"], user_id=p["bob"].pk, active=False)
    frame = await next_of(bob_ws, "disconnect")  # after Alice's messages
    assert (frame["type"], frame["payload"]) == (
        "disconnect",
        {"status": "disconnected", "reason": "deactivated"},
    )
    await closed_with(bob_ws, CLOSE_POLICY)
    # Sends go on with PostgreSQL alone: the rate limit counts nothing while Redis is away.
    assert await send_and_settle(alice_ws, p["chat"], "during-0")
    acknowledged.add("during-0")
    redis.start()  # empty

    status, body = await rest(first, "GET", "/api/users/me", token=old_access)
    assert (status, body["error_code"]) == (401, "AUTHENTICATION_FAILED"), body
    await refused(first, old_access, "session_revoked")
    await refused(second, old_access, "session_revoked")

    bob_access = str(p["bob_token"].access_token)
    status, body = await rest(
        second, "POST", f"/api/chats/{p['chat']}/messages", {"content": "still here?"}, token=bob_access
    )
    assert (status, body["error_code"]) == (401, "AUTHENTICATION_FAILED"), body
    await refused(second, bob_access, "user_inactive")

    alice_access = str(p["alice_live"].access_token)

    async def alice_online() -> bool:
        status, body = await rest(second, "GET", f"/api/users/{p['alice'].pk}", token=alice_access)
        assert status == 200, body
        return body["is_online"]

    await eventually(alice_online, within=LEASE_SECONDS)

    for cmid in ["after-0", "after-1"]:
        assert await send_and_settle(alice_ws, p["chat"], cmid)
        acknowledged.add(cmid)
    await alice_ws.close()

    stored = await sync_to_async(
        lambda: sorted(Message.objects.filter(sender=p["alice"]).values_list("client_msg_id", flat=True))
    )()
    assert stored == sorted(acknowledged)  # every acknowledged message, once (none refused was stored)
    for server in (first, second):  # the outage is told in warning lines, never a traceback
        written = daphne_log_path(e2e_log_dir, server).read_text(errors="replace")
        assert "Traceback" not in written, written[-4000:]
