"""Base of the WebSocket adapters: the client frame envelope, one JSON encoding per frame, and a
dispatch without Channels' per-message connection cleanup (database_sync_to_async already closes
stale connections around every ORM call, and the extra thread hop per frame was measured 2.4-3x
slower)."""

import asyncio
import json
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache, cached_property, partial, update_wrapper
from typing import Any

import orjson
from autobahn.websocket.protocol import PreparedMessage
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http.request import split_domain_port, validate_host

from . import db_outage, patches, shutdown
from .per_loop import PerLoop
from .transport_buffers import drop_unsent, resume_reading, unsent_bytes

logger = logging.getLogger(__name__)


def db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run ORM work from a consumer in the database thread pool. Channels' database_sync_to_async
    is thread-sensitive: every call of every connection of the process would queue for ONE thread.
    Each call is self-contained (its own transaction) and, like Channels' wrapper, closes stale
    database connections before and after itself. An unreachable database raises
    ServiceUnavailable (imsuite.db_outage), which every WebSocket adapter answers like any refusal."""
    run = DatabaseSyncToAsync(func, thread_sensitive=False, executor=_db_threads())

    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await run(*args, **kwargs)
        except Exception as exc:
            if db_outage.is_unavailable(exc):
                raise db_outage.failed(exc) from exc
            raise
        db_outage.succeeded()
        return result

    return call


@cache
def _db_threads() -> ThreadPoolExecutor:
    """DB_THREADS threads (asyncio's default pool has cpu+4: a burst of connections, each waiting
    on a few database round trips, queued behind six threads)."""
    return ThreadPoolExecutor(max_workers=settings.IMSUITE["DB_THREADS"], thread_name_prefix="imsuite-db")


_setup_gates: PerLoop[asyncio.Semaphore] = PerLoop(
    lambda _loop: asyncio.Semaphore(settings.IMSUITE["WS_SETUP_CONCURRENCY"])
)


def setup_gate() -> asyncio.Semaphore:
    """Held while a connection is set up (authentication, groups, presence) or cleaned up. A
    thousand clients reconnecting at once would otherwise ask for thousands of Redis connections
    (channels-redis takes one per group_add; redis-py refuses past its pool's size) and queue a
    thousand database calls behind each other; in turns, each finishes in a few milliseconds."""
    return _setup_gates.get()


def utc_now_iso() -> str:
    """Now, as iso() writes it, made once per millisecond: every frame carries it (its timestamp),
    and formatting it was 2-3 % of the event loop's time at 4,000 messages/s (docs/performance.md,
    step 40). The frames of one millisecond share the first one's microseconds."""
    now = time.time()
    tick = int(now * 1000)
    if tick != _clock[0]:
        _clock[:] = [tick, datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")]
    return _clock[1]


_clock: list[Any] = [-1, ""]  # the millisecond and its text (a race only formats the text twice)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the protocol documents show."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o)
        return super().default(o)


def dumps(value: Any) -> str:
    """A frame's JSON: by orjson, a sixth of json's time (two frames for every message sent), with
    Django's encoder for what orjson does not know; by json for what orjson refuses (a lone
    surrogate, an integer past 64 bits), as before."""
    try:
        return orjson.dumps(value, default=_encode_default, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _json_dumps(value)


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_encode_default = _Encoder().default  # one encoder: every message's datetimes come through it


def _json_dumps(value: Any) -> str:
    text = json.dumps(value, cls=_Encoder, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from a client's JSON ("\ud800"): keep it escaped
        text = json.dumps(value, cls=_Encoder, separators=(",", ":"), allow_nan=False)
    return text


def client_frame(event_type: str, payload: dict[str, Any], **top: Any) -> str:
    """The client protocol's envelope {type, payload, timestamp}, plus top-level extras (seq)."""
    return dumps({"type": event_type, "payload": payload, "timestamp": utc_now_iso(), **top})


class SharedFrame:
    """A text frame that several connections send alike (a message to a group): encoded and
    WebSocket-framed once, however many connections send it."""

    __slots__ = ("_prepared", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._prepared: PreparedMessage | None = None

    @property
    def prepared(self) -> PreparedMessage:
        if self._prepared is None:  # server frames are not masked; compression is not offered
            self._prepared = PreparedMessage(self.text.encode(), False, False, True)
        return self._prepared


_UNKNOWN = object()

# The close code for a connection that did not read what the server sent (WS_SEND_BUFFER_MAX_BYTES),
# and how long the server then waits for the client's close reply before dropping the connection.
CLOSE_SLOW_CONSUMER = 4008
SLOW_CONSUMER_CLOSE_SECONDS = 10.0


def new_connection_id() -> str:
    """A connection's name in presence leases and call signalling: unique across processes."""
    return secrets.token_urlsafe(9)


class FastWebsocketConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer fed by the process's hub (imsuite.hub) instead of a channel-layer
    channel of its own: the hub receives each event once per process and hands it to the
    connections of its audience. A channel per connection cost two channel-layer commands at
    connect and two at close, and a receive task and a queue for as long as it stayed open."""

    _protocol: Any = _UNKNOWN  # the daphne protocol behind base_send, or None elsewhere
    # No channel-layer channel or groups: class-wide, not a None and an empty list per connection.
    channel_layer = None
    groups: tuple[str, ...] = ()
    connection_id: str
    overflowed = False  # closed as a slow consumer
    ended = False  # closed by the server (end): frames still arriving during the close handshake are ignored

    @classmethod
    def as_asgi(cls, **initkwargs: Any) -> Callable[..., Awaitable[None]]:
        """Channels' application for a route, except that it returns the new consumer's coroutine
        instead of awaiting it in a coroutine of its own, which stayed suspended for as long as the
        connection lasted (256 bytes and one more object for the collector per idle connection)."""
        awaiting = super().as_asgi(**initkwargs)

        def app(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
            return cls(**initkwargs)(scope, receive, send)

        return update_wrapper(app, awaiting)  # its name and consumer_class, as routes read

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' consumer loop, with no channel-layer channel: the client's frames only, each
        dispatched in turn, without a task and a wait per frame."""
        self.scope = scope
        self.connection_id = new_connection_id()
        self.base_send = send
        try:
            await self._handle(await receive())  # websocket.connect
            if self._daphne() is not None:
                forget_request(self.scope)
            while True:
                await self._handle(await receive())
        except StopConsumer:
            pass

    async def _handle(self, message: dict[str, Any]) -> None:
        protocol = self._daphne()
        if getattr(protocol, "reading_paused", False):  # see daphne_tuning
            resume_reading(protocol)
        await self.dispatch(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @cached_property
    def send_buffer_max(self) -> float:
        """The cap on unsent bytes; none when twisted's buffers are not what unsent_bytes reads."""
        if not patches.active("send_buffer_cap"):
            return float("inf")
        return settings.IMSUITE["WS_SEND_BUFFER_MAX_BYTES"]

    def _daphne(self) -> Any:
        """The daphne WebSocket protocol behind base_send, or None (a test communicator); looked
        up once per connection: a fifth of a group delivery's time."""
        if self._protocol is _UNKNOWN:
            self._protocol = _daphne_protocol(self.base_send) if patches.active("shared_frames") else None
        return self._protocol

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """Channels' send, except that a frame for a connection that is closing or closed is
        dropped, as daphne drops one for a connection it has forgotten: autobahn raises for it, and
        the hub hands events to a connection until its disconnect has been handled. (What the
        client must not miss it gets by sync when it reconnects.)"""
        protocol = self._daphne()
        if protocol is not None and protocol.state in (protocol.STATE_CLOSING, protocol.STATE_CLOSED):
            return
        await super().send(text_data, bytes_data, close)
        if protocol is not None and unsent_bytes(protocol.transport) > self.send_buffer_max:
            await self._overflow(protocol)

    async def send_shared(self, frame: SharedFrame) -> None:
        """Send a shared frame. Under daphne it goes straight to the connection's WebSocket
        protocol as the prepared frame (what daphne's send would do, without framing the same
        payload again for every recipient); a frame for a connection no longer open is dropped,
        as daphne drops it. Elsewhere (a test communicator) it is an ordinary send."""
        protocol = self._daphne()
        if protocol is None:
            await self.send(text_data=frame.text)
        elif protocol.state == protocol.STATE_OPEN:
            protocol.sendPreparedMessage(frame.prepared)  # goes out at once (imsuite.daphne_tuning)
            if unsent_bytes(protocol.transport) > self.send_buffer_max:
                await self._overflow(protocol)

    async def _overflow(self, protocol: Any) -> None:
        """The client does not read what it is sent: forget the frames waiting for it and close
        (CLOSE_SLOW_CONSUMER), telling it why if it reads again in time. Without a cap the process
        kept every frame for it, growing for as long as it stayed connected; it catches up with
        `sync` when it reconnects."""
        if self.overflowed:
            return
        self.overflowed = True
        unsent = unsent_bytes(protocol.transport)
        drop_unsent(protocol.transport)
        logger.warning("closing a slow consumer: %d bytes unsent (%s)", unsent, self.connection_id)
        protocol.closeHandshakeTimeout = SLOW_CONSUMER_CLOSE_SECONDS
        await self.end("slow_consumer", CLOSE_SLOW_CONSUMER)

    async def end(self, reason: str, code: int) -> None:
        """Close on the server's initiative (a slow consumer, the watchdog, a shutdown); adapters
        whose protocol has a disconnect frame send it first."""
        self.ended = True
        await self.close(code=code)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """A handshake that arrives while the process stops is accepted only to be told so."""
        if shutdown.began():
            await self.accept()
            await self.end(shutdown.SERVER_RESTART, shutdown.CLOSE_GOING_AWAY)
            return
        await super().websocket_connect(message)

    async def websocket_shutdown(self, message: dict[str, Any]) -> None:
        """The process stops (imsuite.shutdown queued this behind the frames already received, so
        those have been handled): what they started is let finish, then the connection closes as
        going away."""
        protocol = self._daphne()
        if self.ended or (protocol is not None and protocol.state != protocol.STATE_OPEN):
            return
        await self.drain()
        await self.end(shutdown.SERVER_RESTART, shutdown.CLOSE_GOING_AWAY)

    async def drain(self) -> None:
        """Wait for the work the connection's frames started and did not wait for (none here)."""


def forget_request(scope: dict[str, Any]) -> None:
    """Once a connection is set up nothing reads its request again: its headers (daphne's one list,
    which every copy of the scope and the protocol share, so it is emptied in place: some 2 KB of
    tuples and bytes per connection) and its query string (a client's access token) go."""
    headers = scope.get("headers")
    if isinstance(headers, list):
        headers.clear()
    scope["query_string"] = b""


def weak_method(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A consumer's coroutine method to hand to an object the consumer keeps, without a reference
    cycle through it: a closed connection is then freed as it closes, not by a later full pass of
    the collector (tests/imsuite/test_connection_cycles.py). Called once the consumer is gone, it
    does nothing."""
    ref = weakref.WeakMethod(method)

    async def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            await bound(*args)

    return call


def _daphne_protocol(send: Any) -> Any:
    """The daphne WebSocket protocol behind an ASGI send callable, or None."""
    if isinstance(send, partial) and getattr(send.func, "__name__", "") == "handle_reply" and send.args:
        protocol = send.args[0]
        if hasattr(protocol, "sendPreparedMessage"):
            return protocol
    return None


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """One request header of an ASGI scope, decoded, or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def host_allowed(scope: dict[str, Any]) -> bool:
    """A WebSocket handshake's Host, if it sends one, is one of ALLOWED_HOSTS, as for HTTP requests
    (Django answers those 400); a handshake to another name is refused (403)."""
    host = header(scope, b"host")
    if host is None:
        return True
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
