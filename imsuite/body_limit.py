"""HTTP request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE answered 413 with the API's error body.

Django answers a declared Content-Length over the limit only where a view reads request.body, and a
body sent in chunks (no Content-Length) it never reads at all: DRF saw an empty body. This ASGI
layer, in front of everything HTTP, refuses a declared length over the limit before the body is
read, reads a chunked body up to the limit (413 past it), and hands it on with its length, so every
view sees the body it was sent.
"""

import re
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, Any

from django.conf import settings

from .errors import DomainError, ErrorCode
from .safe_json import too_large
from .ws import dumps

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


# Where files are uploaded: their limit is UPLOAD_MAX_BYTES, with room for the multipart framing.
UPLOAD_PATHS = re.compile(r"/api/(uploads|users/me/avatar|groups/[0-9]+/avatar)")
MULTIPART_SLACK = 64 * 1024
# A chunked body (no Content-Length) is read ahead to learn its length: kept in memory up to this,
# on disk past it (an upload is never held whole in memory), and handed on in parts of this size.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
REPLAY_CHUNK_BYTES = 64 * 1024


def upload_too_large(limit: int) -> DomainError:
    return DomainError(
        ErrorCode.VALIDATION_ERROR,
        f"A file may be at most {limit} bytes.",
        {"field": "file", "reason": "too_large", "max_bytes": limit},
        status=413,
    )


def largest_body() -> int:
    """The largest body any path accepts: twisted keeps no more than this and one byte of any
    (imsuite.daphne_tuning.cap_kept_bodies), enough for this layer to refuse a longer one."""
    return max(settings.IMSUITE["UPLOAD_MAX_BYTES"] + MULTIPART_SLACK, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _limit(path: str) -> tuple[int, DomainError]:
    if UPLOAD_PATHS.fullmatch(path):
        limit = settings.IMSUITE["UPLOAD_MAX_BYTES"]
        return limit + MULTIPART_SLACK, upload_too_large(limit)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit, too_large(limit)


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
        limit, refusal = _limit(scope["path"])
        if length is not None:  # an unreadable length is refused like a long one (twisted refuses it first)
            if not length.isdigit() or int(length) > limit:
                await _refuse(send, refusal)
            else:
                await self.app(scope, receive, send)
            return
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115  (closed by _replay)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return
            size += body.write(message.get("body", b""))
            if size > limit:
                body.close()
                await _refuse(send, refusal)
                return
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}
        body.seek(0)
        await self.app(scope, _replay(body, receive), send)


def _replay(body: IO[bytes], receive: Any) -> Callable[[], Awaitable[dict]]:
    """A receive that yields the body read ahead, a part at a time, then what the connection says
    next (a disconnect)."""

    async def replayed() -> dict:
        if body.closed:
            return await receive()
        chunk = body.read(REPLAY_CHUNK_BYTES)
        more = len(chunk) == REPLAY_CHUNK_BYTES
        if not more:
            body.close()
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replayed


async def _refuse(send: Any, refusal: DomainError) -> None:
    body = dumps(refusal.as_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": refusal.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
