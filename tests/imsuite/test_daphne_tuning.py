"""imsuite.daphne_tuning on a real twisted TCP connection over a real socket pair: a frame goes
out at once when nothing waits ahead of it; what the socket cannot take is buffered by twisted,
and nothing written later overtakes it; autobahn sends its frames that way, and formats its debug
lines only when they are written."""

import asyncio
import functools
import gc
import os
import pprint
import socket
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from autobahn import util
from autobahn.twisted import websocket as autobahn_twisted
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.protocol import Timings
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings
from twisted.internet import address, error, protocol, tcp
from twisted.internet.testing import StringTransport
from twisted.python import failure

import imsuite.asgi  # noqa: F401  (tunes daphne and autobahn, as at startup)
from imsuite.body_limit import MULTIPART_SLACK, largest_body
from imsuite.daphne_tuning import (
    BODY_CHUNK_BYTES,
    NO_PUTTERS,
    NOBODY_JOINS,
    OpenedRequest,
    ShortDeque,
    StreamedBody,
    write_now,
)
from imsuite.http_handler import SyncChainASGIHandler
from imsuite.patches import HANDSHAKE_ONLY
from imsuite.ws import FastWebsocketConsumer, header

pytestmark = pytest.mark.internals  # library internals: make upgrade-check runs these


@pytest.fixture
def pair() -> Iterator[tuple[tcp.Connection, socket.socket]]:
    """A twisted connection on one end of a socket pair (tiny buffers: easy to fill), the peer's
    plain socket on the other. The reactor is never run: the test flushes with doWrite()."""
    from twisted.internet import reactor

    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ours.setblocking(False)
    theirs.settimeout(5)
    connection = tcp.Connection(ours, protocol.Protocol(), reactor)
    connection.connected = 1
    yield connection, theirs
    connection.stopWriting()
    ours.close()
    theirs.close()


def read_available(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    sock.settimeout(5)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("description", "backlog"),
    [
        ("tcp:port=8080:interface=127.0.0.1", 2048),  # daphne -b 127.0.0.1 -p 8080
        ("unix:/run/imsuite.sock", 2048),  # daphne -u
        ("tcp:port=8080:interface=127.0.0.1:backlog=64", 64),  # daphne -e: the operator's own wins
        ("tcp:8080:127.0.0.1:64", 64),  # the same, given by position
        ("unix:/run/imsuite.sock:backlog=32", 32),
    ],
)
def test_a_listening_socket_queues_listen_backlog_connections_unless_its_endpoint_says(description, backlog):
    from twisted.internet import endpoints

    assert settings.IMSUITE["LISTEN_BACKLOG"] == 2048
    assert endpoints.serverFromString(object(), description)._backlog == backlog


def test_a_frame_goes_out_at_once_when_nothing_waits(pair):
    connection, peer = pair
    write_now(connection, b"hello")
    assert (connection._tempDataBuffer, connection.dataBuffer) == ([], b"")  # nothing left for twisted
    assert peer.recv(100) == b"hello"


def test_what_the_socket_cannot_take_is_buffered_and_nothing_overtakes_it(pair):
    connection, peer = pair
    frames = [bytes([65 + n % 26]) * 50_000 for n in range(6)]  # far more than both buffers hold
    for frame in frames[:3]:
        write_now(connection, frame)
    buffered = connection._tempDataLen + len(connection.dataBuffer) - connection.offset
    assert 0 < buffered < sum(map(len, frames[:3]))  # part went at once, the rest waits in twisted
    received = read_available(peer)  # the socket has room again, but twisted's buffer comes first
    for frame in frames[3:]:
        write_now(connection, frame)
    for _ in range(1000):  # bounded: flush as the peer reads, as the reactor would
        if not (connection._tempDataBuffer or connection.dataBuffer[connection.offset :]):
            break
        connection.doWrite()
        received += read_available(peer)
    assert received == b"".join(frames)


def test_a_closed_connection_writes_nothing(pair):
    connection, peer = pair
    connection.connected = 0
    write_now(connection, b"late")
    assert connection._tempDataBuffer == []
    assert read_available(peer) == b""


def test_a_frame_the_socket_refuses_is_left_to_twisted(pair):
    """A lost peer makes the socket's send fail: the frame waits in twisted's buffer, whose next
    write reports the lost connection, as when twisted's own writeSomeData failed."""
    connection, peer = pair
    peer.close()
    write_now(connection, b"late")
    assert connection._tempDataBuffer == [b"late"]


def websocket_on(connection: tcp.Connection) -> WebSocketServerProtocol:
    """An open autobahn server protocol writing to the connection (the state a handshake leaves)."""
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    factory.setProtocolOptions(openHandshakeTimeout=0, autoPingInterval=0)  # no timers to leave behind
    ws = factory.buildProtocol(None)
    ws.transport = connection
    ws._connectionMade()  # the protocol's own setup (twisted's part would ask a real peer's address)
    ws.state = ws.STATE_OPEN
    return ws


def test_autobahn_sends_a_frame_at_once(pair):
    connection, peer = pair
    ws = websocket_on(connection)
    ws.sendMessage(b"hi")
    assert peer.recv(100) == b"\x81\x02hi"  # a final text frame of 2 bytes, unmasked
    assert connection._tempDataBuffer == []
    assert ws.trafficStats.outgoingOctetsWireLevel == 4


def test_autobahn_still_queues_behind_what_it_has_queued(pair):
    connection, peer = pair
    ws = websocket_on(connection)
    ws.send_queue.append((b"first", False))
    ws.triggered = True  # its own flush is already scheduled
    ws.sendData(b"second")
    assert list(ws.send_queue) == [(b"first", False), (b"second", False)]
    assert read_available(peer) == b""


def test_debug_lines_are_formatted_only_when_written():
    options = [("autoPingInterval", 20, "WebSocketServerFactory")]
    deferred = autobahn_protocol.pformat(options)
    assert not isinstance(deferred, str)
    assert str(deferred) == f"{deferred}" == pprint.pformat(options)
    timings = Timings()
    timings.track("open")
    assert str(timings) == pprint.pformat(timings._timings)
    for module in (autobahn_protocol, autobahn_twisted):  # the coloured names and values of its lines
        for lazy, own in ((module.hltype, util.hltype), (module.hlval, util.hlval)):
            deferred = lazy(Timings.track)
            assert not isinstance(deferred, str)
            assert str(deferred) == f"{deferred}" == own(Timings.track)


async def handle_reply(protocol: WebSocketServerProtocol, message: dict) -> None:
    """What daphne's Server.handle_reply, which a consumer's base_send is bound to, does with a
    text frame."""
    protocol.sendMessage(message["text"].encode(), False)


def consumer_on(ws: WebSocketServerProtocol) -> FastWebsocketConsumer:
    consumer = FastWebsocketConsumer()
    consumer.base_send = functools.partial(handle_reply, ws)
    return consumer


async def test_a_consumer_sends_to_an_open_connection(pair):
    connection, peer = pair
    await consumer_on(websocket_on(connection)).send(text_data="hi")
    assert peer.recv(100) == b"\x81\x02hi"


@pytest.mark.parametrize("state", ["STATE_CLOSING", "STATE_CLOSED"])
async def test_a_frame_for_a_closing_connection_is_dropped(pair, state):
    """The hub may hand an event to a connection whose client has just gone: autobahn would
    raise Disconnected, and the event would be logged as a failure."""
    connection, peer = pair
    ws = websocket_on(connection)
    ws.state = getattr(ws, state)
    await consumer_on(ws).send(text_data="late")
    assert read_available(peer) == b""


# ---- request bodies ------------------------------------------------------------------------------


async def post_through_daphne(
    body: bytes, app: Any, content_type: bytes = b"application/octet-stream"
) -> tuple[bytes, WebRequest]:
    """POST `body` through daphne's own HTTP protocol and request (twisted parses it off a string
    transport) to the ASGI `app`, running on this loop: what was written back, and the request."""
    server = Server(application=app, endpoints=["tcp:port=0"])  # never run: no socket is opened
    server.connections = {}
    http_protocol = HTTPFactory(server).buildProtocol(address.IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    http_protocol.makeConnection(transport)
    head = b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
    http_protocol.dataReceived(
        head % (content_type, len(body)) + body
    )  # twisted has it all: daphne hands it on
    ((request, connection),) = server.connections.items()
    await asyncio.wait_for(connection["application_instance"], 10)
    return transport.value(), request


async def read_body(receive: Any, on_each: Any = None) -> list[dict]:
    messages = []
    while not messages or messages[-1]["more_body"]:
        messages.append(await receive())
        if on_each:
            on_each(messages)
    return messages


async def answer(send: Any, text: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(text))]}
    )
    await send({"type": "http.response.body", "body": text})


async def post_read_whole(
    body: bytes, content_type: bytes = b"application/octet-stream"
) -> tuple[bytes, WebRequest, list[dict]]:
    """post_through_daphne to an application that reads the whole body, then answers "ok": the
    answer, the request and the body messages the application was handed."""
    handed: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        handed.extend(await read_body(receive))
        await answer(send, b"ok")

    response, request = await post_through_daphne(body, app, content_type)
    assert response.endswith(b"\r\n\r\nok")
    return response, request, handed


async def test_a_request_body_reaches_the_application_a_chunk_at_a_time():
    body = os.urandom(5 * BODY_CHUNK_BYTES + 123)  # over 100 kB: twisted keeps it in a temporary file
    handed: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        queue = receive.__self__
        assert isinstance(queue, StreamedBody)

        def read_ahead(messages: list[dict]) -> None:  # what was read from the file, past what was taken
            assert queue._offset - sum(len(m["body"]) for m in messages) <= BODY_CHUNK_BYTES

        handed.extend(await read_body(receive, read_ahead))
        await answer(send, b"ok")

    response, _ = await post_through_daphne(body, app)
    assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"\r\n\r\nok")
    assert [len(m["body"]) for m in handed] == [BODY_CHUNK_BYTES] * 5 + [123]
    assert b"".join(m["body"] for m in handed) == body
    assert [m["type"] for m in handed] == ["http.request"] * 6


async def test_a_body_of_one_chunk_is_daphnes_own_message():
    body = os.urandom(BODY_CHUNK_BYTES)
    _, request, handed = await post_read_whole(body)
    assert type(request.application_queue) is asyncio.Queue
    assert b"".join(m["body"] for m in handed) == body


async def test_a_body_left_unread_is_not_read_after_the_request_ended(caplog):
    body = os.urandom(3 * BODY_CHUNK_BYTES)
    queues: list[StreamedBody] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        queues.append(receive.__self__)
        first = await receive()
        assert (len(first["body"]), first["more_body"]) == (BODY_CHUNK_BYTES, True)
        await answer(send, b"early")  # answered before the rest was read: twisted closes its file
        assert await receive() == {"type": "http.disconnect"}  # daphne's, not a chunk of a closed file

    response, _ = await post_through_daphne(body, app)
    assert response.endswith(b"early")
    await asyncio.sleep(0)  # one turn of the loop: the read of the next chunk was due in it
    assert (queues[0]._offset, queues[0].empty()) == (BODY_CHUNK_BYTES, True)  # not read: the file is closed
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_form_body_is_left_for_the_application_to_parse():
    file_part = b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    body = b"--b0undary\r\n" + file_part + os.urandom(3 * BODY_CHUNK_BYTES) + b"\r\n--b0undary--\r\n"
    _, request, handed = await post_read_whole(body, b"multipart/form-data; boundary=b0undary")
    assert request.args == {}  # twisted parsed nothing (it would hold the file part as bytes here)
    assert b"".join(m["body"] for m in handed) == body


async def test_an_application_may_take_the_whole_body_as_a_file_of_its_own():
    body = os.urandom(5 * BODY_CHUNK_BYTES)
    taken: list[Any] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        file = receive.__self__.take_file()
        taken.append(file)
        await answer(send, b"ok")  # twisted closes its own file: this one stays open
        assert await receive() == {"type": "http.disconnect"}  # no body message was left queued

    response, request = await post_through_daphne(body, app)
    assert response.endswith(b"ok")
    assert request.content is None or request.content.closed
    with taken[0] as file:
        assert file.read() == body


@pytest.mark.parametrize(
    ("size", "chunks_first"),
    [(3 * BODY_CHUNK_BYTES, 1), (BODY_CHUNK_BYTES + 10, 0)],  # the second: under 100 kB, a BytesIO
    ids=["once-a-chunk-was-taken", "a-body-in-memory"],
)
async def test_a_body_not_taken_as_a_file_goes_on_in_chunks(size, chunks_first):
    body = os.urandom(size)
    handed: list[dict] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        handed.extend([await receive() for _ in range(chunks_first)])
        assert receive.__self__.take_file() is None
        handed.extend(await read_body(receive))
        await answer(send, b"ok")

    await post_through_daphne(body, app)
    assert b"".join(m["body"] for m in handed) == body


async def test_django_reads_the_body_from_twisteds_file():
    body = os.urandom(5 * BODY_CHUNK_BYTES)
    read: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        with await SyncChainASGIHandler().read_body(receive) as file:
            read.append(file.read())
            assert not isinstance(file, tempfile.SpooledTemporaryFile)  # not copied into Django's own
        await answer(send, b"ok")

    await post_through_daphne(body, app)
    assert read == [body]


async def test_twisted_keeps_no_more_of_a_body_than_the_largest_accepted_and_a_byte(settings):
    settings.IMSUITE = {**settings.IMSUITE, "UPLOAD_MAX_BYTES": 100_000}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert largest_body() == 100_000 + MULTIPART_SLACK
    body = os.urandom(400_000)
    kept: list[bytes] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        with receive.__self__.take_file() as file:
            kept.append(file.read())
        await answer(send, b"ok")

    response, _ = await post_through_daphne(body, app)
    assert response.endswith(b"ok")  # the rest was read (and dropped): the request ended as usual
    assert kept == [body[: largest_body() + 1]]


# ---- an open WebSocket's memory --------------------------------------------------------------------


HANDSHAKE = (
    b"GET /ws?token=secret HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def echo_once(opened: asyncio.Event, echoed: asyncio.Event) -> Any:
    """An application that accepts, echoes one frame, and waits for the disconnect."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        opened.set()
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"]})
        echoed.set()
        assert (await receive())["type"] == "websocket.disconnect"

    return app


async def open_through_daphne(app: Any, opened: asyncio.Event) -> tuple[Server, Any, StringTransport]:
    """A WebSocket opened through daphne's own HTTP protocol, upgrade and WebSocket protocol
    (twisted parses the handshake off a string transport): daphne's server, the HTTP protocol the
    connection started with, and the transport."""
    server = Server(application=app, endpoints=["tcp:port=0"])  # never run: no socket is opened
    server.connections = {}
    server.http_factory = HTTPFactory(server)
    server.ws_factory = WebSocketFactory(server, server="test")
    server.ws_factory.setProtocolOptions(allowNullOrigin=True, openHandshakeTimeout=0)
    http_protocol = server.http_factory.buildProtocol(address.IPv4Address("TCP", "127.0.0.1", 40000))
    transport = StringTransport()
    http_protocol.makeConnection(transport)
    http_protocol.dataReceived(HANDSHAKE)
    await asyncio.wait_for(opened.wait(), 5)
    assert transport.value().startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    return server, http_protocol, transport


def websocket_of(server: Server) -> tuple[Any, asyncio.Task]:
    """daphne's WebSocket protocol and its application's task (the upgraded request, forgotten,
    stays in server.connections until daphne's checker runs)."""
    ((ws, connection),) = [(p, c) for p, c in server.connections.items() if "application_instance" in c]
    return ws, connection["application_instance"]


async def test_an_open_websocket_keeps_nothing_of_its_handshake():
    opened, echoed = asyncio.Event(), asyncio.Event()
    server, http_protocol, transport = await open_through_daphne(echo_once(opened, echoed), opened)
    ws, task = websocket_of(server)
    assert ws.state == ws.STATE_OPEN
    assert [name for name in HANDSHAKE_ONLY if hasattr(ws, name)] == []
    assert ws.request == OpenedRequest("/ws")
    assert http_protocol._channel.requests == []  # the upgraded request is let go
    queue = ws.application_queue
    assert (queue._putters, queue._finished) == (NO_PUTTERS, NOBODY_JOINS)
    assert [type(kept) for kept in (queue._queue, queue._getters, ws.send_queue)] == [ShortDeque] * 3
    assert [name for name in ws.CONFIG_ATTRS if name in ws.__dict__] == []  # read from its class
    assert isinstance(ws, WebSocketProtocol)
    assert {name: getattr(ws, name) for name in ws.CONFIG_ATTRS} == {
        name: getattr(server.ws_factory, name) for name in ws.CONFIG_ATTRS
    }
    assert ws.openHandshakeTimeout == 0  # the test's own option

    transport.clear()
    ws.dataReceived(b"\x81\x82\x00\x00\x00\x00hi")  # a masked text frame (mask 0): the application echoes it
    await asyncio.wait_for(echoed.wait(), 5)
    assert transport.value() == b"\x81\x02hi"
    ws.onClose(True, 1000, "")
    await asyncio.wait_for(task, 5)
    assert transport.value() == b"\x81\x02hi"


async def test_a_closed_websocket_is_freed_as_it_closes():
    """No reference cycle is left for the collector: with it off, the protocol is gone once the
    connection is lost and nothing else holds it."""
    opened, echoed = asyncio.Event(), asyncio.Event()
    server, http_protocol, transport = await open_through_daphne(echo_once(opened, echoed), opened)
    ws, task = websocket_of(server)
    ws.dataReceived(b"\x81\x82\x00\x00\x00\x00hi")
    await asyncio.wait_for(echoed.wait(), 5)
    gc.disable()
    try:
        ws.connectionLost(failure.Failure(error.ConnectionDone()))
        await asyncio.wait_for(task, 5)
        gone = weakref.ref(ws)
        server.connections.clear()  # as daphne's checker does
        del transport.protocol  # as twisted's TCP transport does when the connection is lost
        del ws, task, transport, http_protocol
        assert gone() is None
    finally:
        gc.enable()


@pytest.mark.django_db  # the disconnect closes stale database connections (Channels), as in service
async def test_a_consumer_under_daphne_forgets_its_request_once_set_up():
    """Its headers (daphne's one list, shared by every copy of the scope) and its query string
    (a client's token) are gone once `connect` has run; `connect` itself read them."""
    opened = asyncio.Event()
    seen: dict[str, Any] = {}

    class Consumer(FastWebsocketConsumer):
        async def connect(self) -> None:
            seen["host"] = header(self.scope, b"host")
            seen["query"] = self.scope["query_string"]
            seen["scope"] = self.scope
            await self.accept()
            opened.set()

    server, _, _ = await open_through_daphne(Consumer.as_asgi(), opened)
    ws, task = websocket_of(server)
    async with asyncio.timeout(5):
        while ws.clean_headers:  # until connect has returned
            await asyncio.sleep(0)
    assert (seen["host"], seen["query"]) == ("localhost", b"token=secret")
    assert (seen["scope"]["headers"], seen["scope"]["query_string"]) == ([], b"")
    ws.onClose(True, 1000, "")
    await asyncio.wait_for(task, 5)
