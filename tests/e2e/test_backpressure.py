"""Bounded memory per connection on a real daphne (issue 17, point 5): a client that does not read
what it is sent is closed past WS_SEND_BUFFER_MAX_BYTES (`disconnect {reason: slow_consumer}`, close
4008), whether pongs or sync pages pile up for it; sync comes in pages and is rate limited; a flood
of frames on one socket is read no faster than it is answered. The server's memory is read from
/proc (VmHWM, the peak resident size) before and after.

Memory matters the same on both legs, so these run on the embedded leg only (each ~5-15 s)."""

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from chats.sending import SendRequest, message_send_many
from tests.e2e.conftest import WS_TIMEOUT_SECONDS, daphne_log_path, recv_frame, send_frame

from . import test_ws
from .test_ws import Opener, Person, expect_connect, http, log_once, sign_up, two_friends

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="memory bounds: checked on the embedded leg"
)

no_server_tracebacks = test_ws.no_server_tracebacks

CAP = 256 * 1024  # the test server's WS_SEND_BUFFER_MAX_BYTES
PING_TEXT = "p" * 60_000  # echoed in each pong: 60 kB a frame
PINGS = 400  # 24 MB of pongs, far past the cap and the kernel's socket buffers (at most ~4 MB)
GROWTH_BOUND = 12 * 1024 * 1024  # the server's peak may grow this much; without the cap, 24 MB+
CLOSE_SLOW_CONSUMER = 4008
FLOOD_GROWTH_BOUND = 10 * 1024 * 1024  # without the in-flight bound, 37 MB


def server_pid(base_url: str) -> int:
    """The daphne child process of this test process that listens on base_url's port."""
    wanted = ["-p", str(urlsplit(base_url).port)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode().split("\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and any(args[i : i + 2] == wanted for i in range(len(args))):
            return int(entry.name)
    raise AssertionError(f"no daphne child on {base_url}")


def memory_kb(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


class SlowClient:
    """A WebSocket client on a plain blocking socket with a small receive buffer, which reads only
    when told to: what the server sends it piles up in the server."""

    def __init__(self, base_url: str, token: str, path: str = "/ws") -> None:
        port = urlsplit(base_url).port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(WS_TIMEOUT_SECONDS)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path}?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 "), head

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the socket")
        return chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next server frame (opcode, payload); server frames are unmasked and unfragmented."""
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._take(2))
        elif size == 127:
            size = int.from_bytes(self._take(8))
        return first & 0x0F, self._take(size)

    def json_frame(self) -> dict[str, Any]:
        opcode, data = self.frame()
        assert opcode == 1, (opcode, data[:80])
        return json.loads(data)

    def send(self, event_type: str, payload: dict[str, Any]) -> None:
        self.send_raw({"type": event_type, "payload": payload})

    def send_raw(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame).encode()
        size = bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + len(data).to_bytes(2)
        self.sock.sendall(bytes([0x81]) + size + b"\0\0\0\0" + data)  # a zero mask leaves the data as is

    def until_closed(self) -> tuple[list[dict[str, Any]], int]:
        """Read to the close frame: the text frames before it, and its code."""
        frames = []
        while True:
            opcode, data = self.frame()
            if opcode == 8:
                return frames, int.from_bytes(data[:2])
            frames.append(json.loads(data))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def slow_clients() -> Iterator[list[SlowClient]]:
    opened: list[SlowClient] = []
    yield opened
    for client in opened:
        client.close()


async def slow_consumer_is_closed(
    url: str, log: Path, client: SlowClient, flood: Callable[[], None]
) -> list[dict[str, Any]]:
    """Flood a client that does not read; wait until the server says it closed it (its peak memory
    grown by less than GROWTH_BOUND); the text frames the client then reads up to the close (4008)."""
    pid = server_pid(url)
    before = memory_kb(pid, "VmHWM")
    await asyncio.to_thread(flood)
    await log_once(log, lambda lines: any("closing a slow consumer" in line for line in lines))
    growth = (memory_kb(pid, "VmHWM") - before) * 1024
    frames, code = await asyncio.to_thread(client.until_closed)
    client.close()
    assert code == CLOSE_SLOW_CONSUMER
    assert growth < GROWTH_BOUND, f"the server grew by {growth} bytes"
    return frames


async def offline_to(url: str, friend: Person, user_id: int) -> None:
    """Wait (bounded) until the user shows offline in the friend's list: the server has cleaned up
    after the closed connection (and is not stopped in the middle of it)."""
    deadline = time.monotonic() + WS_TIMEOUT_SECONDS
    while True:
        friends = await http(url, "GET", "/api/friends", token=friend.token, expect=200)
        if [f["is_online"] for f in friends if f["id"] == user_id] == [False]:
            return
        assert time.monotonic() < deadline, f"user {user_id} still online"
        await asyncio.sleep(0.05)  # polling, bounded by the deadline


def told_why(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """/ws says why before it closes: the frames before that."""
    assert frames[-1]["type"] == "disconnect"
    assert frames[-1]["payload"] == {"status": "disconnected", "reason": "slow_consumer"}
    return frames[:-1]


async def test_a_bot_that_does_not_read_its_answers_is_closed_with_bounded_memory(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    e2e_log_dir: Path,
    slow_clients: list[SlowClient],
) -> None:
    """The same on /ws/bot, whose protocol has no frame for it: the close (4008) alone."""
    url = start_daphne({**server_env, "WS_SEND_BUFFER_MAX_BYTES": str(CAP)})
    owner = await sign_up(url, "ann", "Ann")
    bot = await http(url, "POST", "/api/bots", {"username": "echo_bot"}, token=owner.token, expect=201)
    client = SlowClient(url, bot["token"], path="/ws/bot")
    slow_clients.append(client)

    def flood() -> None:
        for _ in range(PINGS):
            # A refused action (no such message): answered at once. An unknown action would count
            # as a frame the server cannot use, and those are read slowly on purpose (bots.protocol).
            client.send_raw({"action": "delete_msg", "params": {"messageId": 10**12}, "echo": PING_TEXT})

    frames = await slow_consumer_is_closed(url, daphne_log_path(e2e_log_dir, url), client, flood)
    assert 0 < len(frames) < PINGS
    assert {(frame["status"], frame["echo"] == PING_TEXT) for frame in frames} == {("failed", True)}


async def test_a_client_that_does_not_read_its_pongs_is_closed_with_bounded_memory(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    e2e_log_dir: Path,
    slow_clients: list[SlowClient],
) -> None:
    url = start_daphne({**server_env, "WS_SEND_BUFFER_MAX_BYTES": str(CAP), "WS_IDLE_SECONDS": "600"})
    ann, ben, _chat = await two_friends(url)
    client = SlowClient(url, ann.token)
    slow_clients.append(client)
    assert client.json_frame()["type"] == "connect"

    def flood() -> None:
        for _ in range(PINGS):
            client.send("ping", {"timestamp": PING_TEXT})

    frames = await slow_consumer_is_closed(url, daphne_log_path(e2e_log_dir, url), client, flood)
    frames = told_why(frames)
    assert {frame["type"] for frame in frames} == {"pong"}
    assert 0 < len(frames) < PINGS  # those waiting past the cap were dropped
    await offline_to(url, ben, ann.id)


async def test_a_sync_flood_is_paged_rate_limited_and_bounded(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    e2e_log_dir: Path,
    ws_clients: Opener,
    slow_clients: list[SlowClient],
    settings: Any,
) -> None:
    """1,200 messages of 4,000 characters (about 5 MB): pages of 500, at most 8 syncs in the window;
    a client that asks eight times from 0 and reads nothing is closed (unpaged: 40 MB buffered)."""
    env = {**server_env, "WS_SEND_BUFFER_MAX_BYTES": str(CAP), "RATE_LIMIT_SYNCS": "8"}
    url = start_daphne({**env, "RATE_LIMIT_WINDOW_SECONDS": "3600"})
    ann, ben, chat_id = await two_friends(url)
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 10_000}

    def history() -> list[int]:
        actor = User.objects.get(pk=ann.id)
        requests = [
            SendRequest(actor=actor, chat_id=chat_id, content=f"{n:04}" + "x" * 3996) for n in range(1200)
        ]
        return [result[0].seq for result in message_send_many(requests)]

    seqs = await sync_to_async(history)()

    ws = await ws_clients(url, query=f"token={ben.token}")
    await expect_connect(ws, ben, last_seq=seqs[-1])
    for since, page in ((0, seqs[:500]), (seqs[499], seqs[500:1000]), (seqs[999], seqs[1000:])):
        await send_frame(ws, "sync", {"since_seq": since})
        got = [(await recv_frame(ws))["seq"] for _ in page]
        assert got == page
        done = await recv_frame(ws)
        assert (done["type"], done["payload"]) == (
            "sync.done",
            {"last_seq": page[-1], "has_more": page[-1] != seqs[-1]},
        )
    for _ in range(5):  # up to the limit
        await send_frame(ws, "sync", {"since_seq": seqs[-1]})
        done = await recv_frame(ws)
        assert (done["type"], done["payload"]) == ("sync.done", {"last_seq": seqs[-1], "has_more": False})
    await send_frame(ws, "sync", {"since_seq": 0})
    refused = await recv_frame(ws)
    assert refused["payload"]["error_code"] == "RATE_LIMITED"
    assert refused["payload"]["details"]["event"] == "sync"
    assert refused["payload"]["details"]["retry_after"] >= 1

    client = SlowClient(url, ann.token)  # another user: a budget of its own
    slow_clients.append(client)
    assert client.json_frame()["type"] == "connect"

    def flood() -> None:
        for _ in range(8):
            client.send("sync", {"since_seq": 0})

    frames = await slow_consumer_is_closed(url, daphne_log_path(e2e_log_dir, url), client, flood)
    frames = told_why(frames)
    assert {frame["type"] for frame in frames} <= {"message.new", "sync.done"}
    assert len(frames) < 8 * 501
    await offline_to(url, ben, ann.id)


FLOOD = 20_000


async def test_a_flood_of_sends_is_read_no_faster_than_it_is_answered(
    daphne_url: str,
    start_daphne: Callable[[dict[str, str]], str],
    server_env: dict[str, str],
    ws_clients: Opener,
) -> None:
    """20,000 message.send frames on one socket: every one answered (stored, or RATE_LIMITED past
    the budget), another client still answered meanwhile, and the server's peak memory bounded
    (a task and a frame each, unbounded: +25 MB)."""
    url = start_daphne(server_env)
    ann, ben, chat_id = await two_friends(url)
    flooder = await ws_clients(url, query=f"token={ann.token}")
    await expect_connect(flooder, ann, last_seq=0)
    other = await ws_clients(url, query=f"token={ben.token}")
    await expect_connect(other, ben, last_seq=0)
    pid = server_pid(url)
    before = memory_kb(pid, "VmHWM")

    async def answers() -> dict[str, str]:
        """client_msg_id -> what answered it (message.new or the error code), until all are in."""
        got: dict[str, str] = {}
        while len(got) < FLOOD:
            frame = await recv_frame(flooder)
            if frame["type"] == "message.new":
                got[frame["payload"]["message"]["client_msg_id"]] = "message.new"
            elif frame["type"] == "error":
                got[frame["payload"]["details"]["client_msg_id"]] = frame["payload"]["error_code"]
        return got

    reading = asyncio.create_task(answers())
    for n in range(FLOOD):
        payload = {"chat_id": chat_id, "content": f"flood {n}", "client_msg_id": f"f{n}"}
        await flooder.send(json.dumps({"type": "message.send", "payload": payload}))
        if n == FLOOD // 2:  # another connection is answered in the middle of it
            await send_frame(other, "ping", {"timestamp": "mid-flood"})
    got = await asyncio.wait_for(reading, 60)
    growth = (memory_kb(pid, "VmHWM") - before) * 1024
    assert set(got) == {f"f{n}" for n in range(FLOOD)}
    assert set(got.values()) == {"message.new", "RATE_LIMITED"}
    stored = sum(answer == "message.new" for answer in got.values())
    to_ben = [await recv_frame(other) for _ in range(stored + 1)]  # the stored messages and the pong
    assert [frame["payload"] for frame in to_ben if frame["type"] == "pong"] == [{"timestamp": "mid-flood"}]
    assert sum(frame["type"] == "message.new" for frame in to_ben) == stored
    assert growth < FLOOD_GROWTH_BOUND, f"the server grew by {growth} bytes"
    for ws, person, friend in ((flooder, ann, ben), (other, ben, ann)):  # cleaned up before the server stops
        await asyncio.wait_for(ws.close(), WS_TIMEOUT_SECONDS)
        await offline_to(url, friend, person.id)
