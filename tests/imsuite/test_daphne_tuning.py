"""imsuite.daphne_tuning on a real twisted TCP connection over a real socket pair: a frame goes
out at once when nothing waits ahead of it; what the socket cannot take is buffered by twisted,
and nothing written later overtakes it; autobahn sends its frames that way, and formats its debug
lines only when they are written."""

import functools
import pprint
import socket
from collections.abc import Iterator

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.protocol import Timings
from twisted.internet import protocol, tcp

import imsuite.asgi  # noqa: F401  (tunes daphne and autobahn, as at startup)
from imsuite.daphne_tuning import write_now
from imsuite.ws import FastWebsocketConsumer

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
