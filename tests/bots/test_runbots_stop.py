"""The reverse-bot process (`manage.py runbots`, a real process) stops gracefully on SIGTERM: the
bot backend's connection is closed with 1001 (going away), the hub's routes leave Redis, and the
process exits 0 within its bound."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.server import serve

from imsuite import event_routes, redis_nodes
from tests.e2e.conftest import STOP_TIMEOUT_SECONDS, database_env, stop_process

from .helpers import WAIT, call
from .test_reverse import Backend, register

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="runbots needs Redis: the PostgreSQL + Redis leg"
    ),
]

CLOSE_GOING_AWAY = 1001


async def routed(user_id: int) -> bytes | None:
    return await redis_nodes.async_client().hget(f"{event_routes.tag()}:routes", str(user_id))


async def test_runbots_closes_its_bots_with_1001_and_leaves_on_sigterm(alice, bot, tmp_path: Path):
    backend = Backend()
    async with serve(backend.handler, "127.0.0.1", 0) as server:
        backend.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/onebot/v11/ws"
        await call(register, alice, bot, backend.url)
        with open(tmp_path / "runbots.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "runbots"],
                env=database_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                connection = await backend.connection(timeout=30)  # subscribed to the bot's events
                assert await routed(bot.pk) is not None
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(connection.wait_closed(), WAIT)
                assert connection.close_code == CLOSE_GOING_AWAY
                assert await asyncio.to_thread(process.wait, STOP_TIMEOUT_SECONDS) == 0
            finally:
                if process.poll() is None:
                    stop_process(process)
    assert await routed(bot.pk) is None  # nothing is routed to a process that is gone
