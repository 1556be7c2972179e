"""Hostile input on a real daphne, one case at a time: every door refuses JSON nested too deeply
and non-finite numbers with its own error (frame, retcode, body) before parsing; bodies over the
limit are 413, declared or chunked; a text frame that is not UTF-8 closes with 1007 and an oversized
frame with 1009 on both WebSocket doors; a bad Host is 400 (HTTP) or 403 (WebSocket) and logged as
one line. The autouse no_server_tracebacks fails any test after which a daphne logged a traceback."""

import asyncio
import json
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.conftest import WS_TIMEOUT_SECONDS, daphne_log_path, recv_frame
from tests.e2e.test_http import JSON
from tests.e2e.test_ws import (  # noqa: F401  (no_server_tracebacks: autouse, applies here too)
    Opener,
    expect,
    expect_close,
    expect_connect,
    http,
    log_once,
    no_server_tracebacks,
    nothing_pending,
    sign_up,
)

DEPTH = settings.IMSUITE["JSON_MAX_DEPTH"]
BODY_LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
FRAME_LIMIT = settings.IMSUITE["WS_MAX_FRAME_BYTES"]
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_TOO_BIG = 1009
TOO_DEEP = {"reason": "too_deep", "max_depth": DEPTH}


def deep_value(levels: int = 100_000) -> str:
    """JSON nested far past Python's recursion limit."""
    return "[" * levels + "]" * levels


def ping_with(raw_timestamp: str) -> str:
    """A ping frame whose timestamp is raw_timestamp, written into the text as it is."""
    return '{"type": "ping", "payload": {"timestamp": ' + raw_timestamp + "}}"


def port_of(base_url: str) -> int:
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    return url.port


def raw_request(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    host: str | None = None,
) -> tuple[int, str, str]:
    """One request on its own connection: (status, content type, body text). body may be bytes or an
    iterator of chunks (sent with Transfer-Encoding: chunked)."""
    conn = HTTPConnection("127.0.0.1", port_of(base_url), timeout=15)
    try:
        conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        chunked = body is not None and not isinstance(body, bytes)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(message_body=body, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def bot_token(base_url: str, owner_token: str) -> str:
    bot = await http(base_url, "POST", "/api/bots", {"username": "robo"}, token=owner_token, expect=201)
    return bot["token"]


async def open_bot(base_url: str, token: str) -> ClientConnection:
    url = f"ws://127.0.0.1:{port_of(base_url)}/ws/bot?token={token}"
    return await connect(url, proxy=None, open_timeout=WS_TIMEOUT_SECONDS, close_timeout=WS_TIMEOUT_SECONDS)


# ---- /ws ----------------------------------------------------------------------------------------


async def test_client_frames_too_deep_or_not_finite_get_an_error_and_the_socket_stays_open(
    daphne_url: str, ws_clients: Opener
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ws, ann, last_seq=0)
    message = f"JSON nests deeper than {DEPTH} levels."
    for frame in (ping_with(deep_value(30_000)), deep_value(30_000)):
        await asyncio.wait_for(ws.send(frame), WS_TIMEOUT_SECONDS)
        await expect(
            ws,
            "error",
            {"error_code": "VALIDATION_ERROR", "message": message, "details": {**TOO_DEEP, "event": None}},
        )
    bad_number = "NaN, Infinity and numbers out of range are not JSON."
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        await asyncio.wait_for(ws.send(ping_with(value)), WS_TIMEOUT_SECONDS)
        details = {"reason": "bad_number", "event": None}
        await expect(
            ws, "error", {"error_code": "VALIDATION_ERROR", "message": bad_number, "details": details}
        )
    await nothing_pending(ws)


async def test_a_text_frame_that_is_not_utf8_closes_with_1007(daphne_url: str, ws_clients: Opener) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ws = await ws_clients(daphne_url, query=f"token={ann.token}")
    await expect_connect(ws, ann, last_seq=0)
    await asyncio.wait_for(
        ws.send(b'{"type": "ping", "payload": {"timestamp": "\xff\xfe"}}', text=True), WS_TIMEOUT_SECONDS
    )
    await expect_close(ws, CLOSE_INVALID_PAYLOAD)


async def test_a_handshake_for_another_host_is_refused(daphne_url: str) -> None:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    for path in ("/ws", "/ws/bot"):
        status, _type, _body = await asyncio.to_thread(
            raw_request, daphne_url, "GET", path, None, headers, "evil.example"
        )
        assert status == 403


# ---- /ws/bot ------------------------------------------------------------------------------------


async def test_bot_frames_too_deep_or_not_finite_get_no_answer_and_too_big_closes_1009(
    daphne_url: str,
) -> None:
    """A frame that is no JSON object is no action: never answered (issue 20: two peers answering
    each other's complaints loop), and the connection goes on. The answer to the next action is
    the next frame, so nothing came for the ones before it."""
    ann = await sign_up(daphne_url, "ann", "Ann")
    token = await bot_token(daphne_url, ann.token)
    bot = await open_bot(daphne_url, token)
    try:
        cases = [deep_value(30_000), '{"action": "get_login_info", "echo": NaN}', '{"action": "x", "echo": 1']
        for frame in cases:
            await asyncio.wait_for(bot.send(frame), WS_TIMEOUT_SECONDS)
        await asyncio.wait_for(bot.send('{"action": "get_login_info", "echo": 7}'), WS_TIMEOUT_SECONDS)
        answer = await recv_frame(bot)
        assert (answer["status"], answer["retcode"], answer["echo"]) == ("ok", 0, 7)  # still open

        await asyncio.wait_for(
            bot.send('{"action": "x", "pad": "%s"}' % ("x" * FRAME_LIMIT)), WS_TIMEOUT_SECONDS
        )
        await expect_close(bot, CLOSE_TOO_BIG)
    finally:
        await asyncio.wait_for(bot.close(), WS_TIMEOUT_SECONDS)


# ---- REST ---------------------------------------------------------------------------------------


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error_code": code, "message": message, "details": details}


TOO_LARGE = error_body(
    "PAYLOAD_TOO_LARGE",
    f"The body is larger than {BODY_LIMIT} bytes.",
    reason="too_large",
    max_bytes=BODY_LIMIT,
)


def post_json(base_url: str, path: str, body: Any, host: str | None = None) -> tuple[int, Any]:
    status, content_type, text = raw_request(base_url, "POST", path, body, {"Content-Type": JSON}, host)
    assert content_type == JSON, (status, content_type, text)
    return status, json.loads(text)


async def test_rest_bodies_too_deep_not_finite_or_too_large_are_refused_with_the_error_body(
    daphne_url: str,
) -> None:
    sign_in = "/api/auth/token"  # unauthenticated: the parser runs before anything else
    deep = ('{"username": ' + deep_value() + "}").encode()
    assert await asyncio.to_thread(post_json, daphne_url, sign_in, deep) == (
        400,
        error_body("VALIDATION_ERROR", f"JSON nests deeper than {DEPTH} levels.", **TOO_DEEP),
    )
    assert await asyncio.to_thread(
        post_json, daphne_url, sign_in, b'{"username": "a", "password": Infinity}'
    ) == (
        400,
        error_body(
            "VALIDATION_ERROR", "NaN, Infinity and numbers out of range are not JSON.", reason="bad_number"
        ),
    )

    big = b'{"username": "' + b"x" * BODY_LIMIT + b'"}'
    assert await asyncio.to_thread(post_json, daphne_url, sign_in, big) == (413, TOO_LARGE)  # Content-Length
    assert await asyncio.to_thread(post_json, daphne_url, sign_in, chunks(big)) == (413, TOO_LARGE)


async def test_a_chunked_body_within_the_limit_is_read(daphne_url: str) -> None:
    body = json.dumps({"username": "carl", "password": "correct-horse-9", "nickname": "Carl"}).encode()
    status, created = await asyncio.to_thread(post_json, daphne_url, "/api/auth/register", chunks(body, 7))
    assert (status, created["username"], created["nickname"]) == (201, "carl", "Carl")


async def test_a_bad_host_is_a_400_logged_in_one_line(daphne_url: str, e2e_log_dir: Path) -> None:
    status, _type, _text = await asyncio.to_thread(
        raw_request, daphne_url, "GET", "/api/health", None, None, "evil.example"
    )
    assert status == 400
    log = await log_once(
        daphne_log_path(e2e_log_dir, daphne_url),
        lambda lines: any("Invalid HTTP_HOST header: 'evil.example'" in ln for ln in lines),
    )
    assert "Traceback" not in log  # no_server_tracebacks checks the same after the test
