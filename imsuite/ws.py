"""Base of the WebSocket adapters: the client frame envelope, one JSON encoding per frame, and a
dispatch without Channels' per-message connection cleanup (database_sync_to_async already closes
stale connections around every ORM call, and the extra thread hop per frame was measured 2.4-3x
slower)."""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder


def db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run ORM work from a consumer in the loop's thread pool. Channels' database_sync_to_async is
    thread-sensitive: every call of every connection of the process would queue for ONE thread.
    Each call is self-contained (its own transaction) and, like Channels' wrapper, closes stale
    database connections before and after itself."""
    return DatabaseSyncToAsync(func, thread_sensitive=False)


def utc_now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the protocol documents show."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o)
        return super().default(o)


def dumps(value: Any) -> str:
    text = json.dumps(value, cls=_Encoder, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from a client's JSON ("\ud800"): keep it escaped
        text = json.dumps(value, cls=_Encoder, separators=(",", ":"))
    return text


def client_frame(event_type: str, payload: dict[str, Any], **top: Any) -> str:
    """The client protocol's envelope {type, payload, timestamp}, plus top-level extras (seq)."""
    return dumps({"type": event_type, "payload": payload, "timestamp": utc_now_iso(), **top})


class FastWebsocketConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# Close codes RFC 6455 lets a server send. autobahn's sendClose, which daphne's close uses, takes
# only 1000 and 3000-4999 from an application and raises for the rest (the client then sees 1011).
SERVER_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011})


def allow_protocol_close_codes() -> None:
    """Let daphne close with the protocol's codes (1008 policy, 1003 binary, 1009 too big) by sending
    autobahn's close frame directly for them; other codes keep autobahn's own checks."""
    from daphne.ws_protocol import WebSocketProtocol

    def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
        code = 1000 if code is None else code
        if code in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            self.sendClose(code=code)

    WebSocketProtocol.serverClose = server_close


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """One request header of an ASGI scope, decoded, or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None
