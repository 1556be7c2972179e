"""The load generator: worker processes of websockets clients (and an HTTP client for history).

Each worker runs one asyncio loop, opens its connections, waits for the orchestrator's "go",
sends open-loop at a fixed rate (a message's send time does not wait for earlier answers), and
reports latencies from send to receipt, losses and its own CPU time. Message contents carry the
sender's id and the send time, so any worker can measure any delivery on the machine's one clock.
"""

import asyncio
import contextlib
import gc
import http.client
import json
import random
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import websockets

KINDS = ("imsuite", "channels", "ws")


def connect_url(kind: str, base: str, user: dict[str, Any]) -> str:
    if kind == "imsuite":
        return f"{base}/ws?token={user['token']}"
    if kind == "channels":
        return f"{base}/?user={user['id']}"
    return f"{base}/?user={user['id']}&chats={','.join(map(str, user['chats']))}"


def message_frame(kind: str, chat_id: int, content: str) -> str:
    if kind == "imsuite":
        return json.dumps(
            {
                "type": "message.send",
                "payload": {"chat_id": chat_id, "content": content, "client_msg_id": content},
            }
        )
    return json.dumps({"chat_id": chat_id, "content": content})


def received_content(kind: str, text: str) -> str | None:
    frame = json.loads(text)
    if kind == "imsuite":
        return frame["payload"]["message"]["content"] if frame.get("type") == "message.new" else None
    return frame.get("content")


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _open(kind: str, base: str, user: dict[str, Any], local_ip: str | None = None) -> Any:
    extra = {"local_addr": (local_ip, 0)} if local_ip else {}
    ws = await websockets.connect(
        connect_url(kind, base, user),
        compression=None,
        ping_interval=None,
        open_timeout=60,
        max_size=None,
        **extra,
    )
    if kind == "imsuite":
        first = json.loads(await ws.recv())
        if first.get("type") != "connect":
            raise RuntimeError(f"unexpected first frame {first}")
    return ws


async def _open_all(
    kind: str, base: str, users: list[dict[str, Any]], parallel: int = 100, tolerate: bool = False
) -> list[Any]:
    """Open a connection per user, `parallel` at a time; with `tolerate`, a failed opening is
    returned as its exception (the connection scenarios count them) instead of ending the run."""
    gate = asyncio.Semaphore(parallel)

    async def one(index: int, user: dict[str, Any]) -> Any:
        async with gate:
            return await _open(kind, base, user, f"127.0.0.{2 + index % 50}")

    return await asyncio.gather(*(one(i, u) for i, u in enumerate(users)), return_exceptions=tolerate)


# The timeline's step: the worst latency of the messages sent in each such stretch of time tells
# a lone stall (one stretch) from a swell (several growing and shrinking).
TIMELINE_NS = 250_000_000


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    per_message_max: dict[str, float] = field(default_factory=dict)
    worst_by_send_time: dict[int, float] = field(default_factory=dict)  # send time // TIMELINE_NS
    received: int = 0


async def _reader(kind: str, ws: Any, user_id: int, tallies: dict[str, Tally]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for text in ws:
            now = time.time_ns()
            content = received_content(kind, text)
            if not content or not content.startswith("b|"):
                continue
            _, sender, key, sent_ns = content.split("|")
            if int(sender) == user_id:
                continue  # the sender's own acknowledgement is not a delivery
            record(tallies[key.split(":", 1)[0]], key, (now - int(sent_ns)) / 1e6, int(sent_ns))


class CollectorPauses:
    """The generator's own garbage-collector pauses (a gc callback): while one runs, no frame is
    read, so a long one would show as the server's latency."""

    def __init__(self) -> None:
        self.began = 0.0
        self.worst = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self.began = time.perf_counter()
        else:
            self.worst = max(self.worst, time.perf_counter() - self.began)


async def keep_pace(due: float) -> float:
    """Wait until `due` (time.time()) for an open-loop send; how late it is already, in seconds
    (0 on time): a late generator sends at once, and reports its worst lag."""
    delay = due - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
        return 0.0
    return -delay


def record(tally: Tally, key: str, latency: float, sent_ns: int) -> None:
    """One delivery of message `key`, sent at `sent_ns`, `latency` ms after it was sent."""
    tally.received += 1
    tally.latencies_ms.append(latency)
    if latency > tally.per_message_max.get(key, -1.0):
        tally.per_message_max[key] = latency
    stretch = sent_ns // TIMELINE_NS
    if latency > tally.worst_by_send_time.get(stretch, -1.0):
        tally.worst_by_send_time[stretch] = latency


def messaging_worker(job: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Open job["users"], then send job["rate"] messages/s for job["seconds"] from job["senders"]
    ([user index, chat id] pairs, used round-robin), and count what every connection receives.
    With job["phases"] (each a dict of name, rate, seconds, senders, drain_seconds), one such
    stretch after the other on the same connections, timed from "go" so that every worker's
    phases line up, and a result per phase."""
    raise_fd_limit()
    results.put(asyncio.run(_messaging(job, ready, go)))


async def _messaging(job: dict[str, Any], ready: Any, go: Any) -> dict[str, Any]:
    kind, base, users = job["kind"], job["base"], job["users"]
    phases = job.get("phases") or [{"name": "", **job}]
    sockets = await _open_all(kind, base, users)
    tallies = {phase["name"]: Tally() for phase in phases}
    readers = [
        asyncio.create_task(_reader(kind, ws, u["id"], tallies)) for ws, u in zip(sockets, users, strict=True)
    ]
    ready.put(job["worker"])
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    begin, out = time.time(), {}
    for phase in phases:
        await asyncio.sleep(max(0.0, begin - time.time()))
        out[phase["name"]] = await _send_phase(job, phase, sockets, tallies[phase["name"]], begin)
        begin += phase["seconds"] + phase["drain_seconds"]
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    if job.get("phases"):
        return {"worker": job["worker"], "phases": out}
    return {"worker": job["worker"], **out[""]}


async def _send_phase(
    job: dict[str, Any], phase: dict[str, Any], sockets: list[Any], tally: Tally, start: float
) -> dict[str, Any]:
    """Send open-loop from `start` as `phase` says, listen until its end and its drain."""
    kind, users = job["kind"], job["users"]
    cpu0 = time.process_time()
    rate, senders = phase["rate"], phase["senders"]
    total = int(rate * phase["seconds"])
    offline_chats, offline_sent = set(job.get("offline_chats", ())), 0
    worst_lag = 0.0
    pauses = CollectorPauses()
    gc.callbacks.append(pauses)
    for i in range(total):
        worst_lag = max(worst_lag, await keep_pace(start + i / rate))
        user_index, chat_id = senders[i % len(senders)]
        offline_sent += chat_id in offline_chats
        content = f"b|{users[user_index]['id']}|{phase['name']}:{job['worker']}-{i}|{time.time_ns()}"
        await sockets[user_index].send(message_frame(kind, chat_id, content))
    sent_seconds = time.time() - start
    # Every worker listens for the whole sending time, whether it sends or not, and then drains.
    await asyncio.sleep(max(0.0, start + phase["seconds"] - time.time()) + phase["drain_seconds"])
    gc.callbacks.remove(pauses)
    return {
        "sent": total,
        "offline_sent": offline_sent,
        "sent_seconds": sent_seconds,
        "received": tally.received,
        "latencies_ms": tally.latencies_ms,
        "per_message_max": tally.per_message_max,
        "worst_by_send_time": tally.worst_by_send_time,
        "cpu_seconds": time.process_time() - cpu0,
        "wall_seconds": time.time() - start,
        "worst_send_lag_ms": worst_lag * 1000,
        "generator_gc_max_ms": pauses.worst * 1000,
    }


def connections_worker(job: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Hold job["users"] connected and idle until "go" (the orchestrator measures the server's
    memory meanwhile); with job["burst"], time opening them instead."""
    raise_fd_limit()
    results.put(asyncio.run(_connections(job, ready, go)))


async def _connections(job: dict[str, Any], ready: Any, go: Any) -> dict[str, Any]:
    kind, base, users = job["kind"], job["base"], job["users"]
    if job.get("burst"):
        ready.put(job["worker"])
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        start, cpu0 = time.time(), time.process_time()
        opened = await _open_all(kind, base, users, parallel=len(users), tolerate=True)
        seconds, cpu = time.time() - start, time.process_time() - cpu0
        # No worker closes before every worker has opened all of its own: a close costs the
        # server work too, and it would be counted in the other workers' burst.
        await asyncio.get_running_loop().run_in_executor(None, job["barrier"].wait, 120)
    else:  # opened steadily (a few dozen at a time per worker), then held
        opened = await _open_all(kind, base, users, parallel=25, tolerate=True)
        seconds = cpu = 0.0
        ready.put(job["worker"])
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    held = sum(1 for ws in sockets if ws.state == websockets.protocol.State.OPEN)
    for ws in sockets:
        await ws.close()
    return {
        "worker": job["worker"],
        "opened": len(sockets),
        "failed": len(opened) - len(sockets),
        "held": held,
        "seconds": seconds,
        "cpu_seconds": cpu,
    }


def history_worker(job: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """Fetch job["requests"] 50-message pages at random depths of a long chat, one at a time, or
    as many as job["seconds"] allow (the reference's OFFSET pages can take seconds each)."""
    ready.put(job["worker"])
    go.wait()
    host, port = job["host"], job["port"]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    rng = random.Random(job["worker"])  # noqa: S311  (page depths, not secrets)
    latencies, cpu0 = [], time.process_time()
    deadline = time.monotonic() + job["seconds"]
    for _ in range(job["requests"]):
        if time.monotonic() > deadline:
            break
        depth = rng.randrange(job["depth"])
        if job["kind"] == "imsuite":
            path = f"/api/chats/{job['chat_id']}/messages?limit=50&before={job['top_id'] - depth + 1}"
            headers = {"Authorization": f"Bearer {job['token']}"}
        else:
            path, headers = f"/history/{job['chat_id']}?page={depth // 50}", {}
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status != 200 or len(json.loads(body)["results"]) != 50:
            raise RuntimeError(f"history page failed: {response.status} {body[:200]!r}")
    results.put(
        {"worker": job["worker"], "latencies_ms": latencies, "cpu_seconds": time.process_time() - cpu0}
    )


UPLOAD_BOUNDARY = "bench-upload-boundary-7f3a9c"


def multipart_file(content: bytes, name: str = "bench.bin") -> bytes:
    """A multipart/form-data body with one `file` part, as a browser's form would send it."""
    head = (
        f"--{UPLOAD_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{UPLOAD_BOUNDARY}--\r\n".encode()


def upload_worker(job: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """POST one job["megabytes"] upload per user of job["users"] to /api/uploads, all at once (a
    thread each), once job["begin"] is set; reports each upload's time and status."""
    import threading

    body = multipart_file(random.Random(0).randbytes(job["megabytes"] * 1024 * 1024))  # noqa: S311
    ready.put(job["worker"])
    go.wait()
    job["begin"].wait(300)
    outcomes: list[dict[str, Any]] = []

    def upload(user: dict[str, Any]) -> None:
        conn = http.client.HTTPConnection(job["host"], job["port"], timeout=120)
        headers = {
            "Authorization": f"Bearer {user['token']}",
            "Content-Type": f"multipart/form-data; boundary={UPLOAD_BOUNDARY}",
        }
        start = time.perf_counter()
        conn.request("POST", "/api/uploads", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        outcomes.append(
            {
                "status": response.status,
                "seconds": time.perf_counter() - start,
                "end": time.time(),
                "answer": answer[:300].decode(errors="replace"),
            }
        )
        conn.close()

    threads = [threading.Thread(target=upload, args=(user,)) for user in job["users"]]
    start, cpu0 = time.time(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(
        {
            "worker": job["worker"],
            "start": start,
            "outcomes": outcomes,
            "body_bytes": len(body),
            "cpu_seconds": time.process_time() - cpu0,
        }
    )
