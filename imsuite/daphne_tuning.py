"""Changes to how daphne and autobahn run a WebSocket, made once at startup (imsuite.asgi):

- a listening socket queues LISTEN_BACKLOG unaccepted connections, not twisted's 50;
- frames go out at once (`write_now`) instead of waiting for the event loop's next turn;
- the protocol's close codes (1008, 1003, 1009, 1013) can be sent;
- a new connection no longer pretty-prints its 29 options for a debug line that is off;
- a socket whose frames pile up unread is no longer read until the application catches up;
- a frame autobahn refuses (invalid UTF-8, too big) closes with its code instead of a dropped socket;
- an open WebSocket no longer keeps what only its handshake needed (shed_handshake_state);
- a closed WebSocket leaves no reference cycle for the collector to find (close_without_cycles);
- an HTTP request body reaches the application a chunk at a time from twisted's file, not all at once,
  twisted no longer parses a form body (an upload) in memory for arguments nobody reads, and keeps
  no more of a body than the largest one any path accepts.

Each one replaces an autobahn or daphne method with the same behaviour on the path it changes
and leaves every other path (compression, chopped writes, other close codes, debug logging
turned on) to the original.
"""

import asyncio
import collections
import functools
import inspect
import io
import os
import pprint
from collections.abc import Callable
from typing import IO, Any, NamedTuple

from . import patches


def write_now(transport: Any, data: bytes) -> None:
    """Twisted's transport.write, but sent at once when nothing waits ahead of it. Twisted only
    buffers a write and registers the socket with the event loop, sending on its next turn and
    unregistering after: two epoll_ctl calls and a loop callback per frame, an eighth of a
    process's time when a group message goes out to a thousand members. What the socket does not
    take now (its buffer is full: a slow reader) is buffered as before, behind what was sent.
    The socket is written directly, as twisted's writeSomeData would (its two calls and memoryview
    slice were a seventh of a group delivery's instructions): an error (a full buffer, a lost
    connection) leaves the frame to transport.write, which lets twisted notice it."""
    if (
        not getattr(transport, "TLS", True)
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport.dataBuffer
        and not transport._tempDataBuffer
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:
            sent = 0
        if sent:
            data = data[sent:]
    if data:
        transport.write(data)


@patches.installs("pause_reading")
def pause_reading_when_behind(max_unread: int) -> None:
    """daphne queues every frame it reads for the application without a bound: a client sending
    faster than its frames were handled grew the process without limit. Once `max_unread` frames
    wait, the socket is no longer read (the client's frames wait in the kernel, then its sends
    block) until the application has taken half of them (resume_reading)."""
    from daphne.ws_protocol import WebSocketProtocol

    original = WebSocketProtocol.onMessage

    @functools.wraps(original)
    def on_message(self: WebSocketProtocol, payload: bytes, isBinary: bool) -> None:
        original(self, payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if queue is not None and queue.qsize() >= max_unread and not self.reading_paused:
            self.reading_paused = True
            self.transport.pauseProducing()

    WebSocketProtocol.max_unread = max_unread
    WebSocketProtocol.reading_paused = False
    WebSocketProtocol.onMessage = on_message


@patches.installs("send_frames_at_once")
def send_frames_at_once() -> None:
    """autobahn's sendData, through write_now for the plain case: a frame without a queue ahead
    of it (sync writes and chopped writes are queued by autobahn). The original also formatted a
    debug line per frame, whether or not debug logging was on."""
    from autobahn.websocket.protocol import WebSocketProtocol

    original = WebSocketProtocol.sendData
    connecting = (WebSocketProtocol.STATE_CONNECTING, WebSocketProtocol.STATE_PROXY_CONNECTING)

    @functools.wraps(original)
    def send_data(
        self: WebSocketProtocol, data: bytes, sync: bool = False, chopsize: int | None = None
    ) -> None:
        if sync or chopsize or self.send_queue or self.logOctets:
            original(self, data, sync, chopsize)
            return
        write_now(self.transport, data)
        if self.state == WebSocketProtocol.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        elif self.state in connecting:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

    WebSocketProtocol.sendData = send_data


class _Deferred:
    """function(*args) as text, computed only if a log line is really written."""

    __slots__ = ("args", "function")

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __str__(self) -> str:
        return str(self.function(*self.args))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _deferring(function: Any) -> Any:
    return functools.wraps(function)(functools.partial(_Deferred, function))


@patches.installs("lazy_debug_lines")
def format_debug_lines_lazily() -> None:
    """autobahn pretty-prints its options on every connection and the transport's details on every
    handshake, and colours the names of its methods and values (`hltype`, `hlval`: click's ANSI
    styling) fifteen times per connection, all as arguments of debug lines that are almost never
    written: 5 % of the time of a burst of connections, and 17 µs per connection opened and closed.
    Its modules' pformat, hltype and hlval are made lazy; the one use that needs a string at once
    (Timings.__str__) gets one."""
    from autobahn import util
    from autobahn.twisted import websocket
    from autobahn.websocket import protocol

    protocol.pformat = _deferring(pprint.pformat)
    for module in (protocol, websocket):
        module.hltype, module.hlval = _deferring(util.hltype), _deferring(util.hlval)
    protocol.Timings.__str__ = lambda self: pprint.pformat(self._timings)


# Close codes RFC 6455 lets a server send. autobahn's sendClose, which daphne's close uses, takes
# only 1000 and 3000-4999 from an application and raises for the rest (the client then sees 1011).
SERVER_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1013})


@patches.installs("protocol_close_codes")
def allow_protocol_close_codes() -> None:
    """Let daphne close with the protocol's codes (1008 policy, 1003 binary, 1009 too big, 1013 try
    again later) by sending autobahn's close frame directly for them; other codes keep autobahn's
    own checks."""
    from daphne.ws_protocol import WebSocketProtocol

    @functools.wraps(WebSocketProtocol.serverClose)
    def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
        code = 1000 if code is None else code
        if code in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            self.sendClose(code=code)

    WebSocketProtocol.serverClose = server_close


@patches.installs("frame_limits")
def refuse_bad_frames_with_a_close() -> None:
    """autobahn fails a connection whose client breaks the protocol (a text frame that is not UTF-8,
    a frame over the size limit) by dropping the TCP connection (`failByDrop`, on by default): the
    client cannot tell why. With it off, autobahn sends the close code (1007, 1009, 1002) first.
    daphne's frame and message size limits (1 MiB unless its command line says otherwise) are
    lowered to WS_MAX_FRAME_BYTES, so a larger frame is refused as it arrives, not buffered whole."""
    from daphne.ws_protocol import WebSocketFactory
    from django.conf import settings

    original = WebSocketFactory.setProtocolOptions
    limit = settings.IMSUITE["WS_MAX_FRAME_BYTES"]

    @functools.wraps(original)
    def set_protocol_options(self: WebSocketFactory, **options: Any) -> None:
        for size in ("maxFramePayloadSize", "maxMessagePayloadSize"):
            options[size] = min(options.get(size) or limit, limit)  # autobahn's 0 means no limit
        original(self, **options, failByDrop=False)

    WebSocketFactory.setProtocolOptions = set_protocol_options


# What an HTTP request body is handed to the application in: as Django's multipart parser reads.
BODY_CHUNK_BYTES = 64 * 1024


class StreamedBody(asyncio.Queue):
    """daphne's application queue for one HTTP request, its body read from twisted's file a chunk at
    a time: the next chunk is read once the application has taken the previous one, on the loop's
    next turn (so one upload never holds the loop for its whole body). daphne's own body message is
    dropped (stream_request_bodies leaves it the file read to its end: one empty message). An
    application that wants the body in a file anyway (Django) takes the file itself (take_file)."""

    def stream(self, body: IO[bytes], size: int) -> None:
        self._body, self._offset, self._size = body, 0, size
        self._next: dict | None = None
        self._started = False
        self._refill()

    def take_file(self) -> IO[bytes] | None:
        """The whole body as a file of its own (twisted closes its own when the request ends), at
        its start; nothing more is queued. None once a chunk was taken, or for a body twisted kept
        in memory (under 100 kB)."""
        if self._started or self._body.closed:
            return None
        try:
            body = os.fdopen(os.dup(self._body.fileno()), "rb")
        except io.UnsupportedOperation:  # a BytesIO
            return None
        self._queue.remove(self._next)
        self._started = True
        body.seek(0)
        return body

    def _put(self, message: dict) -> None:
        if message["type"] != "http.request" or message is self._next:
            super()._put(message)

    def _get(self) -> dict:
        message = super()._get()
        if message is self._next:
            self._started = True
            if message["more_body"]:
                asyncio.get_running_loop().call_soon(self._refill)
        return message

    def _refill(self) -> None:
        if self._body.closed:  # the request is over: answered, or the client left (http.disconnect)
            return
        self._body.seek(self._offset)
        chunk = self._body.read(BODY_CHUNK_BYTES)
        self._offset += len(chunk)
        self._next = {
            "type": "http.request",
            "body": chunk,
            "more_body": bool(chunk) and self._offset < self._size,
        }
        self.put_nowait(self._next)


@patches.installs("streamed_bodies")
def stream_request_bodies() -> None:
    """twisted keeps a request body over 100 kB in a temporary file, but daphne queued all of it for
    the application at once, in 8 KiB messages: a 40 MB upload sat whole in memory. Now the body is
    read from that file as the application asks for it (StreamedBody), one BODY_CHUNK_BYTES at a time."""
    from daphne.http_protocol import WebRequest
    from daphne.server import Server

    original = Server.create_application

    @functools.wraps(original)
    def create_application(self: Server, protocol: Any, scope: dict) -> asyncio.Queue | None:
        queue = original(self, protocol, scope)
        if queue is not None and isinstance(protocol, WebRequest) and not protocol.content.closed:
            size = protocol.content.seek(0, 2)  # daphne's loop now finds the file read to its end
            if size > BODY_CHUNK_BYTES:
                queue.__class__ = StreamedBody
                queue.stream(protocol.content, size)
            else:
                protocol.content.seek(0)
        return queue

    Server.create_application = create_application


@patches.installs("no_form_parsing")
def leave_form_bodies_unparsed() -> None:
    """twisted parses a multipart or urlencoded POST body into request.args before daphne gets the
    request: all of it at once, in memory, through the email package (one 40 MB upload: 520 MB at
    the peak and 4 s of CPU), for arguments daphne never reads (the application parses the body).
    Its parsePOSTFormSubmission option turns that off for daphne's requests."""
    from daphne.http_protocol import WebRequest

    original = WebRequest.__init__

    @functools.wraps(original)
    def init(self: WebRequest, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs, parsePOSTFormSubmission=False)

    WebRequest.__init__ = init


@patches.installs("kept_body_cap")
def cap_kept_bodies() -> None:
    """twisted writes a request body to its temporary file whatever its size, and the application
    hears of the request only once all of it has arrived: one endless POST filled the disk before
    BodyLimit could answer 413. Past the largest body any path accepts and one byte more (so that
    BodyLimit still sees it is too long), what arrives is read and dropped."""
    from daphne.http_protocol import WebRequest

    from .body_limit import largest_body

    original = WebRequest.handleContentChunk

    @functools.wraps(original)
    def handle_content_chunk(self: WebRequest, data: bytes) -> None:
        room = largest_body() + 1 - self.content.tell()
        if room > 0:
            original(self, data[:room])

    WebRequest.handleContentChunk = handle_content_chunk


class OpenedRequest(NamedTuple):
    """What daphne reads of a connection's request once it is open: the path, for its log lines."""

    path: str


# The queue of waiting putters that every connection's unbounded application queue shares: a put
# never waits on an unbounded queue, and a deque with maxlen 0 keeps nothing anyway.
NO_PUTTERS: collections.deque = collections.deque(maxlen=0)
# The event join() waits on, shared by every connection's application queue: daphne never joins
# one (nor calls task_done), so the event is only ever set and cleared, never waited on.
NOBODY_JOINS = asyncio.Event()


class ShortDeque(list):
    """The deque operations asyncio.Queue and autobahn's send queue use (append, popleft, remove,
    len), on a list: an empty deque allocates a block of 64 slots (760 bytes), an empty list 56.
    For queues that hold a few items at most: a connection's unread frames (at most max_unread
    before its reading pauses), the one task waiting for them, autobahn's rare queued writes."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


def _as_class_attribute(value: Any) -> Any:
    """A function option (perMessageCompressionAccept) stays a plain function, not a method."""
    return staticmethod(value) if inspect.isfunction(value) else value


def configured_class(factory: Any, protocol_class: type) -> type:
    """A subclass of the protocol's class with the factory's options (autobahn's CONFIG_ATTRS) as
    class attributes, made once per factory: autobahn copies all 29 of them into every connection's
    attribute dict, and an open connection drops the copies still identical to these (a dict of
    57 attributes instead of 86 is 1.6 KB instead of 3.3). An option the factory changed later, or
    one set on a connection (closeHandshakeTimeout for a slow consumer), stays the connection's own."""
    configured = factory.__dict__.get("_configured_protocol")
    if configured is None or configured.__base__ is not protocol_class:
        options = {name: _as_class_attribute(getattr(factory, name)) for name in protocol_class.CONFIG_ATTRS}
        configured = type(protocol_class.__name__, (protocol_class,), options)
        configured.__module__, configured.__qualname__ = (
            protocol_class.__module__,
            protocol_class.__qualname__,
        )
        factory._configured_protocol = configured
    return configured


@patches.installs("shed_handshake_state")
def shed_handshake_state() -> None:
    """An idle connection's memory (docs/performance.md, step 31). Once open, a WebSocket drops its
    handshake's state (patches.HANDSHAKE_ONLY, the request down to its path) and its copies of the
    factory's options (configured_class), and its attribute dict is compacted; twisted's HTTP
    channel lets go of the upgraded request (its headers, address and body objects); the
    application queue shares one empty deque of putters and one event for join(), and its frames,
    its waiting getter and autobahn's queued writes are kept in lists (ShortDeque) instead of
    760-byte deques. About 10 KB of the 26 KB an idle connection cost, and 28 of the 103 objects
    the collector tracked (docs/performance.md, steps 31 and 32)."""
    from daphne.http_protocol import WebRequest
    from daphne.ws_protocol import WebSocketProtocol

    original_open = WebSocketProtocol.onOpen

    @functools.wraps(original_open)
    def on_open(self: WebSocketProtocol) -> None:
        original_open(self)
        state = self.__dict__
        for name in patches.HANDSHAKE_ONLY:
            state.pop(name, None)
        state["request"] = OpenedRequest(self.request.path)
        queue = state.get("application_queue")
        if queue is not None and queue.maxsize <= 0 and not queue._putters:
            queue._putters = NO_PUTTERS
            queue._finished = NOBODY_JOINS
            queue._queue = ShortDeque(queue._queue)
            queue._getters = ShortDeque(queue._getters)
        state["send_queue"] = ShortDeque(state["send_queue"])
        configured = configured_class(self.factory, type(self))
        for name in self.CONFIG_ATTRS:
            if state.get(name, state) is getattr(configured, name):
                del state[name]
        self.__class__ = configured
        self.__dict__ = dict(state)  # a dict never shrinks when keys go: a copy is sized to what is left

    original_process = WebRequest.process

    @functools.wraps(original_process)
    def process(self: WebRequest) -> None:
        original_process(self)
        channel = self.channel
        if self.transport is None and channel is not None and self in channel.requests:  # upgraded
            channel.requests.remove(self)

    WebSocketProtocol.onOpen = on_open
    WebRequest.process = process


@patches.installs("close_without_cycles")
def close_without_cycles() -> None:
    """autobahn resolves a closed connection's `is_closed` Deferred with the protocol itself, which
    keeps that Deferred: a cycle, so the protocol, its transport, queue, buffers and Deferreds (29
    objects the collector tracks) waited for a full pass of the collector after every close. Once
    the connection is lost (daphne has told the application), `is_closed` is an already-fired
    Deferred of None: nothing waits on it by then (daphne and IM-Suite never do)."""
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import defer

    original = WebSocketProtocol.connectionLost

    @functools.wraps(original)
    def connection_lost(self: WebSocketProtocol, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.is_closed = defer.succeed(None)

    WebSocketProtocol.connectionLost = connection_lost


@patches.installs("listen_backlog")
def deepen_listen_backlog(backlog: int) -> None:
    """Twisted listens with room for 50 connections not yet accepted (daphne's -b/-p and -u). When
    a restarted process's clients come back at once, the kernel drops the handshakes past that, and
    each such client waits a second (its SYN's retransmission) before it tries again: a burst of
    1,000 opens saw up to 188 dropped (docs/performance.md). The default becomes `backlog`; an
    endpoint string's own backlog= (daphne -e) still wins, and the kernel caps it at somaxconn."""
    from twisted.internet import endpoints

    def deeper(parse: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(parse)

        @functools.wraps(parse)
        def parse_with_backlog(factory: Any, *args: Any, **kwargs: Any) -> Any:
            given = signature.bind_partial(factory, *args, **kwargs).arguments  # by name or position
            if "backlog" not in given:
                kwargs["backlog"] = backlog
            return parse(factory, *args, **kwargs)

        return parse_with_backlog

    for kind in ("tcp", "unix"):
        endpoints._serverParsers[kind] = deeper(endpoints._serverParsers[kind])


def tune() -> None:
    """All of the above: call once, before daphne accepts a connection."""
    from django.conf import settings

    deepen_listen_backlog(settings.IMSUITE["LISTEN_BACKLOG"])
    send_frames_at_once()
    format_debug_lines_lazily()
    allow_protocol_close_codes()
    pause_reading_when_behind(settings.IMSUITE["WS_MAX_IN_FLIGHT"])
    refuse_bad_frames_with_a_close()
    stream_request_bodies()
    leave_form_bodies_unparsed()
    cap_kept_bodies()
    shed_handshake_state()
    close_without_cycles()
