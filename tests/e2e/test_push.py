"""UnifiedPush end to end: a real daphne, the real timers process (`manage.py runtimers`), and an
endpoint on loopback. A person registers their device over REST; another sends them a message over
the WebSocket; the timers process POSTs the push to the device's endpoint."""

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from push.models import PushState
from tests.e2e.conftest import ROOT, recv_frame, send_frame, stop_process, ws_open
from tests.e2e.test_ws import http, two_friends
from tests.push.endpoint import Endpoint

START_SECONDS = 20.0  # for runtimers to make its first round (the pusher's cursor)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def start_timers(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`manage.py runtimers`, once its pusher has made its first round (the cursor row exists)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runtimers"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    deadline = time.monotonic() + START_SECONDS
    try:
        while not PushState.objects.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                pytest.fail(f"runtimers did not start its pusher; {log}:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
    finally:
        connection.close()  # this thread's: the flush after the test waits for no one
    return process


async def test_a_message_over_the_websocket_reaches_the_offline_device(
    daphne_url: str, server_env: dict[str, str], endpoint: Endpoint, tmp_path: Path
) -> None:
    ann, ben, chat_id = await two_friends(daphne_url)
    device = {"kind": "unifiedpush", "endpoint": endpoint.url("/ben/phone"), "label": "phone"}
    await http(daphne_url, "POST", "/api/push/subscriptions", device, token=ben.token, expect=201)
    timers = await asyncio.to_thread(start_timers, server_env, tmp_path / "runtimers.log")
    try:
        ws = await ws_open(daphne_url, additional_headers={"Authorization": f"Bearer {ann.token}"})
        assert (await recv_frame(ws))["type"] == "connect"
        send = {"chat_id": chat_id, "content": "are you there?", "client_msg_id": "push-e2e-1"}
        await send_frame(ws, "message.send", send)
        while (frame := await recv_frame(ws))["type"] != "message.new":
            pass
        message_id = frame["payload"]["message"]["id"]
        (push,) = await asyncio.to_thread(endpoint.wait_for, 1, 15.0)
        await ws.close()
    finally:
        await asyncio.to_thread(stop_process, timers)
    assert push.path == "/ben/phone"
    assert (push.headers["content-type"], push.headers["urgency"]) == ("application/json", "normal")
    assert push.body == {
        "type": "message",
        "chat_id": chat_id,
        "chat_title": "Ann",
        "sender_name": "Ann",
        "text": "are you there?",
        "count": 1,
        "message_id": message_id,
        "mentioned": False,
    }
    assert "Traceback" not in (tmp_path / "runtimers.log").read_text()
