"""HTTP request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE answered 413 with the API's error body.

Django answers a declared Content-Length over the limit only where a view reads request.body, and a
body sent in chunks (no Content-Length) it never reads at all: DRF saw an empty body. This ASGI
layer, in front of everything HTTP, refuses a declared length over the limit before the body is
read, reads a chunked body up to the limit (413 past it), and hands it on with its length, so every
view sees the body it was sent.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from .safe_json import too_large
from .ws import dumps

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        length = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
        if length is None and chunked is None:  # no body: GET, HEAD, most DELETEs
            await self.app(scope, receive, send)
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length is not None:  # an unreadable length is refused like a long one (twisted refuses it first)
            if not length.isdigit() or int(length) > limit:
                await _refuse(send, limit)
            else:
                await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[dict]]:
    """A receive that yields the body read ahead, then what the connection says next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict:
        return pending.pop() if pending else await receive()

    return replayed


async def _refuse(send: Any, limit: int) -> None:
    body = dumps(too_large(limit).as_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
