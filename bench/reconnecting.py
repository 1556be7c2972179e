"""The rolling-restart scenario's clients: devices that survive their server process going away.

Each device behaves as docs/protocol.md asks of a real client: it keeps the largest seq it has
seen; when its connection closes (a server's `disconnect {reason: "server_restart"}` and 1001) it
waits a random 0.2-2 s, connects to one of the servers (a refused one is skipped), sends `sync`
from that seq (page after page), and then sends again, under the same client_msg_id, every
message it has not seen acknowledged; what it writes meanwhile waits for that. The worker counts
what the issue asks: messages acknowledged to their sender that never reached the recipient
(lost), a message delivered twice to one device (by message id) or stored twice (two messages
with one client_msg_id), and the latency from the first send to the recipient's first receipt.
"""

import asyncio
import contextlib
import json
import random
import time
from typing import Any

import websockets

from bench.loadgen import Tally, keep_pace, message_frame, raise_fd_limit, record

JITTER_SECONDS = (0.2, 2.0)  # docs/protocol.md: reconnect after a fraction of a second to two
CONNECT_ATTEMPTS = 40  # per reconnection, over all servers (bounded)
FIRST_FRAME_SECONDS = 10.0  # a connection that says nothing (no connect, no disconnect) is given up
CLOSE_SECONDS = 2.0  # the closing handshake with a server being given up, before dropping it
LOOP_TICK_SECONDS = 0.1  # how often the worker checks that its own event loop is not starved
RESEND_AFTER_ERROR_SECONDS = 0.5


class Device:
    """One user's one client: a connection at a time, its seq, its unacknowledged sends."""

    def __init__(self, user: dict[str, Any], bases: list[str], home: int, worker: "Counts") -> None:
        self.user, self.bases, self.home, self.counts = user, bases, home, worker
        self.ws: Any = None
        self.ready = asyncio.Event()  # connected, and the sync after a reconnect is done
        self.max_seq = 0
        self.pending: dict[str, str] = {}  # client_msg_id -> the frame, until acknowledged
        self.seen: dict[int, int] = {}  # message id -> the connection (1, 2, ...) it first came on
        self.connection = 1
        self.state, self.since = "starting", time.monotonic()  # where it is, for a run that hangs

    def _now(self, state: str) -> None:
        self.state, self.since = state, time.monotonic()

    def stuck(self) -> dict[str, Any]:
        """What a device that still waits at the end of the drain is doing, and since when."""
        return {
            "user": self.user["id"],
            "state": self.state,
            "seconds": round(time.monotonic() - self.since, 1),
            "connections": self.connection,
            "max_seq": self.max_seq,
            "pending": len(self.pending),
        }

    async def start(self) -> None:
        """The first connection: a new client starts from the server's newest seq (no sync)."""
        self.ws, self.max_seq = await self._connect(self.bases[self.home])
        self.ready.set()
        self._now("ready")

    async def _connect(self, base: str) -> tuple[Any, int]:
        """An open connection to `base` and its `connect` frame's last_seq. A server that sends no
        first frame within FIRST_FRAME_SECONDS is given up, as a real client would (counted)."""
        self._now(f"opening {base}")
        ws = await websockets.connect(
            f"{base}/ws?token={self.user['token']}",
            compression=None,
            ping_interval=None,
            open_timeout=30,
            close_timeout=CLOSE_SECONDS,
        )
        self._now(f"awaiting the connect frame of {base}")
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), FIRST_FRAME_SECONDS))
        except TimeoutError:
            self.counts.silent_servers += 1
            first = {"type": None}
        if first.get("type") != "connect":  # a stopping process answers disconnect and 1001
            self._now(f"closing the connection to {base}, which sent {first.get('type')}")
            await ws.close()
            raise ConnectionRefusedError(f"no connect frame from {base}: {first.get('type')}")
        return ws, first["payload"]["last_seq"]

    async def send(self, chat_id: int, content: str) -> None:
        """Write a message; it goes out now if the device is ready, else after its next sync."""
        frame = message_frame("imsuite", chat_id, content)
        self.pending[content] = frame
        if self.ready.is_set():
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(frame)

    async def run(self, stop: asyncio.Event) -> None:
        """Read frames; reconnect and sync whenever the connection closes, until `stop`."""
        while not stop.is_set():
            with contextlib.suppress(websockets.ConnectionClosed):
                async for text in self.ws:
                    await self._handle(json.loads(text), time.time_ns())
            self.ready.clear()
            if stop.is_set():
                return
            self._now("waiting to reconnect")
            self.counts.closes += 1
            await self._reconnect(stop)

    async def _reconnect(self, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.uniform(*JITTER_SECONDS))  # noqa: S311  (jitter, not a secret)
        for attempt in range(CONNECT_ATTEMPTS):
            if stop.is_set():
                return
            base = random.choice(self.bases)  # noqa: S311  (a load balancer's pick)
            try:
                self.ws, _newest = await self._connect(base)  # the sync starts from max_seq
            except (OSError, websockets.WebSocketException):  # refused, or a stopping process
                self.counts.refused += 1
                await asyncio.sleep(0.1 * (attempt + 1))
                continue
            self.counts.reconnects += 1
            self.connection += 1
            self.counts.moved_to[base] = self.counts.moved_to.get(base, 0) + 1
            self._now(f"syncing with {base}")
            # The process may be stopping already: its disconnect and close can come with the connect
            # frame. Then run() finds the connection closed and reconnects again.
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(json.dumps({"type": "sync", "payload": {"since_seq": self.max_seq}}))
            return
        self.counts.gave_up += 1
        self._now("gave up")

    async def _handle(self, frame: dict[str, Any], now: int) -> None:
        kind, payload = frame.get("type"), frame.get("payload") or {}
        if kind == "message.new":
            self.max_seq = max(self.max_seq, frame.get("seq", 0))
            self._message(payload["message"], now)
        elif kind == "sync.done":
            if payload["has_more"]:
                sync = {"type": "sync", "payload": {"since_seq": payload["last_seq"]}}
                await self.ws.send(json.dumps(sync))
                return
            self.max_seq = max(self.max_seq, payload["last_seq"])
            self.counts.sent_after_sync += len(self.pending)
            for pending in list(self.pending.values()):
                await self.ws.send(pending)
            self.ready.set()
            self._now("ready")
        elif kind == "error":
            self.counts.errors += 1
            details = payload.get("details") or {}
            later = asyncio.get_running_loop().call_later
            if details.get("event") == "sync":  # rate limited: sync again from the largest seq seen
                sync = json.dumps({"type": "sync", "payload": {"since_seq": self.max_seq}})
                later(details.get("retry_after", 1), lambda: asyncio.ensure_future(self._send_now(sync)))
            elif details.get("client_msg_id") in self.pending:
                frame = self.pending[details["client_msg_id"]]
                later(RESEND_AFTER_ERROR_SECONDS, lambda: asyncio.ensure_future(self._send_now(frame)))
        elif kind == "disconnect":
            self.counts.told[payload.get("reason")] = self.counts.told.get(payload.get("reason"), 0) + 1

    async def _send_now(self, frame: str) -> None:
        """A frame again after an error; a closed connection drops it (the reconnect's sync and
        resends stand in for it)."""
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(frame)

    def _message(self, message: dict[str, Any], now: int) -> None:
        content = message["content"]
        if message["sender_id"] == self.user["id"]:  # the acknowledgement of one's own send
            if self.pending.pop(message["client_msg_id"], None) is not None:
                self.counts.acked.add(message["client_msg_id"])
            return
        if message["id"] in self.seen:  # the same message again on this device
            if self.seen[message["id"]] == self.connection:
                self.counts.duplicates_on_one_connection += 1
            else:
                self.counts.duplicates_across_reconnects += 1
            return
        self.seen[message["id"]] = self.connection
        if content in self.counts.received:
            self.counts.stored_twice += 1  # another message for the same client_msg_id
            return
        self.counts.received.add(content)
        _, _, key, sent_ns = content.split("|")
        record(self.counts.tally, key, (now - int(sent_ns)) / 1e6, int(sent_ns))


class Counts:
    """What one worker's devices saw."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.acked: set[str] = set()
        self.received: set[str] = set()
        self.duplicates_on_one_connection = self.duplicates_across_reconnects = 0
        self.stored_twice = self.errors = self.sent_after_sync = 0
        self.closes = self.reconnects = self.refused = self.gave_up = self.silent_servers = 0
        self.told: dict[str, int] = {}
        self.moved_to: dict[str, int] = {}
        self.worst_send_lag = self.worst_loop_lag = 0.0


async def _watch_loop(counts: Counts) -> None:
    """Keep the worker's worst event-loop lag: a starved generator reads nothing and gives no
    device up on time, which would look like the servers' slowness (the JSON tells them apart)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LOOP_TICK_SECONDS
        await asyncio.sleep(LOOP_TICK_SECONDS)
        counts.worst_loop_lag = max(counts.worst_loop_lag, loop.time() - due)


def restart_worker(job: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Connect job["users"] to job["bases"][job["home"]], then send job["rate"] messages/s from
    job["senders"] (as the messaging worker) until job["stop"] is set (at most job["max_seconds"]),
    through whatever restarts the orchestrator makes meanwhile; then wait up to
    job["drain_seconds"] for every send to be acknowledged and delivered, and count."""
    raise_fd_limit()
    results.put(asyncio.run(_restarts(job, ready, go)))


async def _restarts(job: dict[str, Any], ready: Any, go: Any) -> dict[str, Any]:
    counts = Counts()
    devices = [Device(user, job["bases"], job["home"], counts) for user in job["users"]]
    await asyncio.gather(*(device.start() for device in devices))
    stop = asyncio.Event()
    readers = [asyncio.create_task(device.run(stop)) for device in devices]
    readers.append(asyncio.create_task(_watch_loop(counts)))
    ready.put(job["worker"])
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, go.wait)
    start, rate, senders = time.time(), job["rate"], job["senders"]
    sent = 0
    for i in range(int(rate * job["max_seconds"])):
        if i % 50 == 0 and job["stop"].is_set():
            break
        counts.worst_send_lag = max(counts.worst_send_lag, await keep_pace(start + i / rate))
        index, chat_id = senders[i % len(senders)]
        await devices[index].send(
            chat_id, f"b|{job['users'][index]['id']}|{job['worker']}-{i}|{time.time_ns()}"
        )
        sent += 1
    sent_seconds = time.time() - start
    deadline = time.time() + job["drain_seconds"]
    while time.time() < deadline and (any(d.pending for d in devices) or not counts.acked <= counts.received):
        await asyncio.sleep(0.1)
    stuck = [d.stuck() for d in devices if d.pending or d.state != "ready"]
    failed = [repr(task.exception()) for task in readers if task.done() and task.exception()]
    stop.set()
    for device in devices:
        await device.ws.close()
    for task in readers:
        task.cancel()
    return {
        "worker": job["worker"],
        "sent": sent,
        "sent_seconds": sent_seconds,
        "acknowledged": len(counts.acked),
        "unacknowledged": sum(len(d.pending) for d in devices),
        "delivered": len(counts.received),
        "lost": len(counts.acked - counts.received),
        "duplicates_on_one_connection": counts.duplicates_on_one_connection,
        "duplicates_across_reconnects": counts.duplicates_across_reconnects,
        "stored_twice": counts.stored_twice,
        "latencies_ms": counts.tally.latencies_ms,
        "worst_by_send_time": counts.tally.worst_by_send_time,
        "closes": counts.closes,
        "reconnects": counts.reconnects,
        "refused_attempts": counts.refused,
        "gave_up": counts.gave_up,
        "silent_servers": counts.silent_servers,
        "stuck": stuck[:10],
        "devices_failed": failed[:10],  # a device whose reader ended with an error (none expected)
        "sent_after_sync": counts.sent_after_sync,
        "errors": counts.errors,
        "told": counts.told,
        "reconnected_to": counts.moved_to,
        "worst_send_lag_ms": counts.worst_send_lag * 1000,
        "generator_loop_lag_max_ms": counts.worst_loop_lag * 1000,
    }
