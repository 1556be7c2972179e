"""Seeded fuzzing of every door of a REAL daphne: the client WebSocket (/ws), the bot WebSocket
(/ws/bot) and the REST API (every path and method of its OpenAPI schema, plus unknown paths, bad
methods and bad Hosts). Frames and requests are valid ones mutated, wrong types, huge strings, deep
nesting, NaN, invalid UTF-8, random bytes, unknown events and oversized bodies.

The outcome that must hold for every one of them: no 5xx, no INTERNAL_ERROR or retcode 1500, an
error only with a documented code, a close only with a documented code, every frame the server
sends valid JSON (no NaN), and no traceback in the server's log (no_server_tracebacks). FUZZ_SEED
replays a run; the counts are printed (pytest -s) for the record.

It runs on the PostgreSQL + Redis leg only, where hostile values also meet PostgreSQL's types
(integers past bigint, NUL characters in text), and in well under a minute.
"""

import asyncio
import json
import os
import random
import string
from collections import Counter
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bots.actions import ACTIONS
from bots.protocol import RETCODES
from chats import schemas
from chats.consumers import ClientConsumer
from imsuite.errors import ErrorCode
from tests.e2e.conftest import WS_TIMEOUT_SECONDS
from tests.e2e.test_hostile_input import open_bot, port_of
from tests.e2e.test_ws import (  # noqa: F401  (no_server_tracebacks: autouse, applies here too)
    Person,
    http,
    no_server_tracebacks,
    two_friends,
)

SEED = int(os.environ.get("FUZZ_SEED", "17"))
CLIENT_FRAMES, BOT_FRAMES, REST_REQUESTS = 4500, 1500, 4200
BATCH = 40  # frames sent before a barrier that waits for their answers
# Every stable code but INTERNAL_ERROR (a bug, whatever the input).
DOCUMENTED_CODES = {v for k, v in vars(ErrorCode).items() if k.isupper()} - {ErrorCode.INTERNAL_ERROR}
DOCUMENTED_RETCODES = {0} | set(RETCODES.values()) - {RETCODES[ErrorCode.INTERNAL_ERROR]}
CLOSE_UNSUPPORTED, CLOSE_INVALID_PAYLOAD, CLOSE_POLICY, CLOSE_TOO_BIG = 1003, 1007, 1008, 1009
FRAME_LIMIT = settings.IMSUITE["WS_MAX_FRAME_BYTES"]
BODY_LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
FIELDS = [
    "chat_id", "content", "client_msg_id", "message_id", "timestamp", "is_typing", "since_seq", "status",
    "call_id", "sdp", "candidate", "user_id", "group_id", "limit", "before", "type", "kind", "media",
    "username", "password", "nickname", "refresh", "name", "member_ids", "duration", "url", "approve",
    "groupId", "userId", "message", "messageId", "card", "title", "flag", "comment", "age", "sex", "role",
]  # fmt: skip
BAD_HOSTS = ["evil.example", "", "a" * 300, "127.0.0.1:99999", "[::1", "localhost:x", "xn--ls8h", "..", "*"]
BAD_METHODS = ["PROPFIND", "FOO", "TRACE", "PURGE", "OPTIONS", "HEAD", "M-SEARCH"]
CONTENT_TYPES = [
    "application/json", "application/json; charset=latin-1", "text/plain", "application/xml", "",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
]  # fmt: skip


CLIENT_SCHEMAS = {
    "message.send": schemas.MessageSendInput,
    "message.edit": schemas.MessageEditEvent,
    "message.delete": schemas.MessageRef,
    "message.read": schemas.MessageRef,
    "typing": schemas.TypingInput,
    "chat.notify": schemas.NotifyEvent,
    "presence": schemas.PresenceInput,
    "ping": schemas.PingInput,
    "sync": schemas.SyncInput,
    "call.offer": schemas.CallOfferInput,
    "call.answer": schemas.CallAnswerInput,
    "call.ice": schemas.CallIceInput,
    "call.end": schemas.CallEndInput,
}


def strict_json(text: str) -> Any:
    """What the server sends must be JSON by the RFC: no NaN or Infinity."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"the server sent {constant}: {text[:300]}")

    return json.loads(text, parse_constant=refuse)


class Hostile:
    """Hostile values, texts and bytes from one seeded generator."""

    def __init__(self, rng: random.Random, ids: list[int]) -> None:
        self.rng = rng
        self.ids = ids

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def character(self, _: int = 0) -> str:
        """Any character; a lone surrogate only as JSON's escape (ensure_ascii), never raw in the text."""
        point = self.rng.randint(0, 0x2FFFF)
        return chr(point + 0x800 if 0xD800 <= point < 0xE000 else point)

    def string(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                lambda: "",
                lambda: "".join(rng.choices(string.printable, k=rng.randint(1, 40))),
                lambda: "x" * rng.choice([4001, 20_000, 60_000]),
                lambda: "".join(map(self.character, range(rng.randint(1, 30)))),
                lambda: "\x00\u202e\ufeff\U0001f600",
                lambda: rng.choice(["null", "true", "../../etc/passwd", "<script>", "' OR 1=1 --", "%s%n"]),
                lambda: str(rng.choice(self.ids)),
            ]
        )()

    def number(self) -> int | float:
        return self.rng.choice(
            [0, -1, 1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, self.rng.choice(self.ids)]
        )

    def value(self, depth: int = 0) -> Any:
        kind = self.rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return self.rng.choice([True, False])
        if kind in (2, 3):
            return self.number()
        if kind == 4:
            return self.string()
        if kind in (5, 6):
            return {self.rng.choice(FIELDS): self.value(depth + 1) for _ in range(self.rng.randint(0, 4))}
        return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]

    def params(self, names: list[str] | None = None) -> dict[str, Any]:
        """Parameters: mostly the schema's own names with plausible values, some hostile, some unknown."""
        if not names:
            return {self.rng.choice(FIELDS): self.value(1) for _ in range(self.rng.randint(0, 5))}
        chosen = [name for name in names if self.chance(0.8)]
        if self.chance(0.1):
            chosen.append(self.rng.choice(FIELDS))
        return {name: self.plausible(name) if self.chance(0.7) else self.value(1) for name in chosen}

    def plausible(self, name: str) -> Any:
        if name == "client_msg_id":
            return f"fuzz-{self.rng.getrandbits(32)}"
        if name.lower().endswith("id") or name.endswith("_seq"):
            return self.rng.choice(self.ids)
        if name in ("is_typing", "approve"):
            return self.chance(0.5)
        return "".join(self.rng.choices(string.ascii_letters + " ", k=self.rng.randint(1, 20)))

    def mutate(self, text: str) -> str:
        """A JSON text, often made wrong: truncated, a character changed, NaN or deep nesting put in,
        or replaced by garbage."""
        rng = self.rng
        choice = rng.randrange(10)
        if choice == 0 and text:
            return text[: rng.randrange(len(text))]
        if choice == 1 and text:
            at = rng.randrange(len(text))
            return text[:at] + rng.choice('{}[]",:\\0aNI-') + text[at + 1 :]
        if choice == 2:
            return text.replace(
                ":", ": " + rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]) + ",", 1
            )
        if choice == 3:
            levels = rng.choice([33, 100, 5000, 30_000])
            return (
                text.replace(":", ": " + "[" * levels + "]" * levels + ",", 1)
                if ":" in text
                else "[" * levels
            )
        if choice == 4:
            return "".join(rng.choices(string.printable, k=rng.randint(0, 200)))
        return text

    def body(self) -> tuple[bytes, bool]:
        """A request body, and whether to send it chunked (no Content-Length)."""
        rng = self.rng
        choice = rng.randrange(12)
        if choice == 0:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        elif choice == 1:
            body = b'{"username": "\xff\xfe", "password": "\xc3"}'
        elif choice == 2 and self.chance(0.05):
            body = b'{"content": "' + b"x" * (BODY_LIMIT + rng.randint(1, 1000)) + b'"}'
        else:
            body = self.mutate(json.dumps(self.params())).encode("utf-8", "surrogatepass")
        return body, self.chance(0.08)


# ---- the client WebSocket --------------------------------------------------------------------------


def client_frame(h: Hostile) -> tuple[str | bytes, int | None]:
    """A client frame (text, or bytes to send as they are) and the close code it must cause, if any."""
    rng = h.rng
    roll = rng.random()
    if roll < 0.006:
        return b'{"type": "ping", "payload": {"timestamp": "\xff\xfe\xfd"}}', CLOSE_INVALID_PAYLOAD
    if roll < 0.012:
        return json.dumps({"type": "ping", "payload": {"timestamp": "x" * FRAME_LIMIT}}), CLOSE_TOO_BIG
    if roll < 0.016:
        return b"\x00\x01binary", CLOSE_UNSUPPORTED
    frame_type = rng.choice(
        [*ClientConsumer.handlers, "hello", "", "__init__", "websocket.disconnect", None, 7]
    )
    schema = CLIENT_SCHEMAS.get(frame_type)
    payload = h.params(list(schema().fields) if schema else None) if h.chance(0.9) else h.value()
    frame: dict[str, Any] = {"type": frame_type, "payload": payload}
    if h.chance(0.1):
        frame = h.value()
    return sized(h.mutate(json.dumps(frame, ensure_ascii=h.chance(0.5))))


def sized(text: str) -> tuple[str, int | None]:
    """A generated text frame, and 1009 if it came out larger than the limit."""
    return text, CLOSE_TOO_BIG if len(text.encode()) > FRAME_LIMIT else None


async def open_client(base_url: str, person: Person) -> ClientConnection:
    url = f"ws://127.0.0.1:{port_of(base_url)}/ws?token={person.token}"
    ws = await connect(url, proxy=None, open_timeout=WS_TIMEOUT_SECONDS, close_timeout=WS_TIMEOUT_SECONDS)
    connected = strict_json(await asyncio.wait_for(ws.recv(), WS_TIMEOUT_SECONDS))
    assert (connected["type"], connected["payload"]["user_id"]) == ("connect", person.id), connected
    return ws


async def client_answers(ws: ClientConnection, marker: str, seen: Counter) -> None:
    """Read every frame up to the pong of the barrier marker; each must be valid, and an error documented."""
    while True:
        frame = strict_json(await asyncio.wait_for(ws.recv(), WS_TIMEOUT_SECONDS))
        seen[f"frame {frame['type']}"] += 1
        if frame["type"] == "error":
            code = frame["payload"]["error_code"]
            assert code in DOCUMENTED_CODES, frame
            seen[f"error {code} {frame['payload']['details'].get('reason', '')}".strip()] += 1
        if frame["type"] == "pong" and frame["payload"].get("timestamp") == marker:
            return


async def fuzz_client(base_url: str, person: Person, h: Hostile, seen: Counter) -> None:
    ws = await open_client(base_url, person)
    sent = 0
    while sent < CLIENT_FRAMES:
        closing = None
        for _ in range(BATCH):
            frame, closing = client_frame(h)
            sent += 1
            if closing == CLOSE_UNSUPPORTED:
                await ws.send(frame)  # a binary frame
            elif isinstance(frame, bytes):
                await ws.send(frame, text=True)
            else:
                await ws.send(frame)
            if closing:
                break
        if closing:
            try:
                while True:  # answers to the frames before it, then the close
                    strict_json(await asyncio.wait_for(ws.recv(), WS_TIMEOUT_SECONDS))
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == closing, closed
                seen[f"close {closing}"] += 1
            ws = await open_client(base_url, person)
            continue
        marker = f"barrier-{sent}"
        await ws.send(json.dumps({"type": "ping", "payload": {"timestamp": marker}}))
        await client_answers(ws, marker, seen)
    await ws.close()
    seen["client frames"] = sent


# ---- the bot WebSocket -----------------------------------------------------------------------------


def bot_frame(h: Hostile, echo: int) -> tuple[str | bytes, int | None]:
    rng = h.rng
    roll = rng.random()
    if roll < 0.01:
        return b'{"action": "get_login_info", "echo": "\xc0\xaf"}', CLOSE_INVALID_PAYLOAD
    if roll < 0.02:
        return json.dumps({"action": "get_login_info", "pad": "x" * FRAME_LIMIT}), CLOSE_TOO_BIG
    action = rng.choice([*ACTIONS, "", "unknown_action", "__class__", None, 1])
    frame: dict[str, Any] = {"action": action, "echo": echo}
    params = h.params(list(ACTIONS[action][0]().fields) if action in ACTIONS else None)
    if h.chance(0.5):
        frame["params"] = params
    else:
        frame.update(params)
    return sized(h.mutate(json.dumps(frame, ensure_ascii=h.chance(0.5))))


async def fuzz_bot(base_url: str, token: str, h: Hostile, seen: Counter) -> None:
    bot = await open_bot(base_url, token)
    sent = 0
    while sent < BOT_FRAMES:
        frame, closing = bot_frame(h, sent)
        sent += 1
        await bot.send(frame, text=True) if isinstance(frame, bytes) else await bot.send(frame)
        if closing:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(bot.recv(), WS_TIMEOUT_SECONDS)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == closing
            seen[f"bot close {closing}"] += 1
            bot = await open_bot(base_url, token)
            continue
        # At most one answer per frame, none for a frame that is no action (bots.protocol): a probe
        # action after it shows where its answer would have ended. Events may come between.
        probe = f"probe-{sent}"
        await bot.send(json.dumps({"action": "get_login_info", "echo": probe}))
        answers = []
        while True:
            answer = strict_json(await asyncio.wait_for(bot.recv(), WS_TIMEOUT_SECONDS))
            if "retcode" not in answer:
                seen["bot event"] += 1
            elif answer["echo"] == probe:
                break
            else:
                answers.append(answer)
        assert len(answers) <= 1, answers
        for answer in answers:
            assert answer["retcode"] in DOCUMENTED_RETCODES, answer
            seen[f"bot retcode {answer['retcode']}"] += 1
        seen["bot unanswered"] += not answers
    await bot.close()
    seen["bot frames"] = sent


# ---- REST ------------------------------------------------------------------------------------------


def schema_operations(base_url: str) -> list[tuple[str, str]]:
    """(method, path template) of every operation in the OpenAPI schema."""
    conn = HTTPConnection("127.0.0.1", port_of(base_url), timeout=15)
    conn.request("GET", "/api/schema/?format=json", headers={"Accept": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    schema = json.loads(response.read())
    conn.close()
    methods = {"get", "post", "put", "patch", "delete"}
    return [(m.upper(), path) for path, item in schema["paths"].items() for m in item if m in methods]


def request_plan(
    h: Hostile, operations: list[tuple[str, str]], tokens: list[str]
) -> Iterator[dict[str, Any]]:
    rng = h.rng
    for _ in range(REST_REQUESTS):
        method, path = rng.choice(operations)
        roll = rng.random()
        if roll < 0.05:
            path = rng.choice(
                ["/api/" + h.string()[:50], "/admin/", "/admin/login/", "/", "/ws", "/static/../x"]
            )
        elif roll < 0.1:
            method = rng.choice(BAD_METHODS)
        ident = lambda: rng.choice([str(rng.choice(h.ids)), "0", "-1", str(2**63), str(10**30), "abc", "1.5"])  # noqa: E731
        path = "".join(ident() if part.startswith("{") else part for part in _split_template(path))
        path = quote(path, safe="/%?=&.-_~") + _query(h)
        accept = rng.choice(["*/*", "text/html", "application/xml"]) if h.chance(0.1) else "application/json"
        headers = {"Accept": accept}
        if h.chance(0.06):
            headers["Host"] = rng.choice(BAD_HOSTS)
        others = ["", "garbage", "Bearer", "Bearer a.b.c", "Basic Zm9vOmJhcg=="]
        auth = tokens[0] if h.chance(0.6) else rng.choice([*tokens, *others])
        if auth:
            headers["Authorization"] = (
                auth if " " in auth or auth in ("garbage", "Bearer") else f"Bearer {auth}"
            )
        body, chunked = None, False
        if method in ("POST", "PUT", "PATCH") or h.chance(0.05):
            body, chunked = h.body()
            headers["Content-Type"] = rng.choice(CONTENT_TYPES) if h.chance(0.15) else "application/json"
        yield {"method": method, "path": path, "headers": headers, "body": body, "chunked": chunked}


def _split_template(path: str) -> list[str]:
    parts, rest = [], path
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        parts += [before, "{" + name + "}"]
    return [*parts, rest]


def _query(h: Hostile) -> str:
    if not h.chance(0.3):
        return ""
    names = ["limit", "before", "search", "since", "format", "page", "x"]
    values = ["-1", "0", "101", str(2**64), "abc", "%00", "%zz", "1e3", "", "a&b=c", h.string()[:40]]
    pairs = [
        f"{h.rng.choice(names)}={quote(h.rng.choice(values), safe='%&=')}" for _ in range(h.rng.randint(1, 3))
    ]
    return "?" + "&".join(pairs)


def send_request(conn: HTTPConnection, request: dict[str, Any]) -> tuple[int, str, bytes]:
    headers, body = request["headers"], request["body"]
    conn.putrequest(
        request["method"], request["path"], skip_host="Host" in headers, skip_accept_encoding=True
    )
    for name, value in headers.items():
        conn.putheader(name, value)
    if body is not None and request["chunked"]:
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders(iter([body[i : i + 8192] for i in range(0, len(body), 8192)]), encode_chunked=True)
    else:
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type", ""), response.read()


def fuzz_rest(base_url: str, requests: Iterator[dict[str, Any]], seen: Counter) -> None:
    """Every request over one keep-alive connection (opened again when the server closes it)."""
    conn = HTTPConnection("127.0.0.1", port_of(base_url), timeout=15)
    for request in requests:
        try:
            status, content_type, text = send_request(conn, request)
        except (HTTPException, ConnectionError):
            conn.close()  # the server closed the kept-alive connection between two requests: once more
            status, content_type, text = send_request(conn, request)
        seen[f"rest {status}"] += 1
        seen["rest requests"] += 1
        assert status < 500, (request["method"], request["path"], request["headers"], status, text[:500])
        assert b"Traceback" not in text
        if request["method"] == "HEAD":  # no body to look at
            continue
        if content_type == "application/json" and status >= 400:
            assert strict_json(text.decode())["error_code"] in DOCUMENTED_CODES, text[:500]
        elif status >= 400 and request["path"].startswith("/api/") and "Host" not in request["headers"]:
            # twisted answers a multipart body it cannot parse itself: 400, no body
            twisted_refused = (
                status == 400 and not text and "multipart" in request["headers"].get("Content-Type", "")
            )
            assert twisted_refused, (request, status, content_type, text[:300])
    conn.close()


# ---- the run ---------------------------------------------------------------------------------------


@pytest.fixture
def pg_redis_leg() -> None:
    if not os.environ.get("DATABASE_URL"):
        pytest.skip(
            "the fuzz run is on the PostgreSQL + Redis leg only (hostile values meet PostgreSQL's types)"
        )


async def test_ten_thousand_hostile_frames_and_requests(pg_redis_leg: None, daphne_url: str) -> None:
    ann, ben, chat_id = await two_friends(daphne_url)
    bot = await http(daphne_url, "POST", "/api/bots", {"username": "fuzzbot"}, token=ann.token, expect=201)
    ids = [ann.id, ben.id, chat_id, bot["id"], 1]
    rng = random.Random(SEED)
    seen: Counter = Counter()
    operations = await asyncio.to_thread(schema_operations, daphne_url)
    assert len(operations) > 40
    plan = list(
        request_plan(Hostile(random.Random(rng.random()), ids), operations, [ann.token, bot["token"]])
    )
    await asyncio.gather(
        fuzz_client(daphne_url, ben, Hostile(random.Random(rng.random()), ids), seen),
        fuzz_bot(daphne_url, bot["token"], Hostile(random.Random(rng.random()), ids), seen),
        asyncio.to_thread(fuzz_rest, daphne_url, iter(plan), seen),
    )
    total = seen["client frames"] + seen["bot frames"] + seen["rest requests"]
    print(
        f"\nfuzz seed {SEED}: {total} frames and requests\n"
        + "\n".join(f"{k}: {v}" for k, v in sorted(seen.items()))
    )
    assert total >= 10_000
    assert not any(key.startswith("rest 5") for key in seen)
