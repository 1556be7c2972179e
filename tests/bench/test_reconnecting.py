"""The rolling-restart benchmark's device (bench/reconnecting.py) against a loopback server that
stops the way a restarting process does: its `connect` frame, `disconnect {reason:
"server_restart"}` and close 1001 all reach the device together."""

import asyncio
import json
from typing import Any

import websockets

from bench.reconnecting import Counts, Device


def _frame(kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "payload": payload})


async def test_a_device_reconnects_when_its_server_stops_with_the_connect_frame(monkeypatch: Any) -> None:
    monkeypatch.setattr("bench.reconnecting.JITTER_SECONDS", (0.0, 0.0))
    syncs: list[int] = []
    connections = 0

    async def server(ws: Any) -> None:
        nonlocal connections
        connections += 1
        await ws.send(_frame("connect", {"last_seq": 7}))
        if connections == 1:  # stopping: the three frames leave in one turn of the loop
            await ws.send(_frame("disconnect", {"reason": "server_restart"}))
            await ws.close(1001)
            return
        async for text in ws:
            syncs.append(json.loads(text)["payload"]["since_seq"])
            await ws.send(_frame("sync.done", {"last_seq": 7, "has_more": False}))

    async with websockets.serve(server, "127.0.0.1", 0) as listening:
        port = listening.sockets[0].getsockname()[1]
        counts = Counts()
        device = Device({"id": 1, "token": "t"}, [f"ws://127.0.0.1:{port}"], 0, counts)
        device.max_seq, stop = 5, asyncio.Event()
        await device._reconnect(stop)
        reader = asyncio.create_task(device.run(stop))
        await asyncio.wait_for(device.ready.wait(), 10)
        stop.set()
        await device.ws.close()
        await reader

    assert (connections, syncs, counts.reconnects, counts.closes) == (2, [5], 2, 1)
    assert (device.state, device.max_seq, device.connection) == ("ready", 7, 3)
