"""Per-connection bounds on a real twisted TCP connection over a real socket pair (as
test_daphne_tuning): past WS_SEND_BUFFER_MAX_BYTES a consumer drops the frames waiting for the
client, tells it why and closes with 4008, the stream staying valid; daphne stops reading a socket
whose frames wait unread, and reads again once the application has caught up."""

import asyncio
import functools
from typing import Any

import pytest
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
from twisted.internet import reactor, tcp

import imsuite.asgi  # noqa: F401  (tunes daphne and autobahn, as at startup)
from imsuite.transport_buffers import resume_reading, unsent_bytes
from imsuite.ws import CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_CLOSE_SECONDS, FastWebsocketConsumer

from .test_daphne_tuning import pair, read_available, websocket_on

__all__ = ["pair"]  # the fixture

FRAME = "x" * 3000


async def handle_reply(protocol: AutobahnProtocol, message: dict[str, Any]) -> None:
    """What daphne's Server.handle_reply does with a text frame and a close."""
    if message["type"] == "websocket.close":
        protocol.sendClose(code=message["code"])
    else:
        protocol.sendMessage(message["text"].encode(), False)


class Told(FastWebsocketConsumer):
    """A consumer whose protocol tells the client why it closes (as /ws's disconnect frame)."""

    async def end(self, reason: str, code: int) -> None:
        await self.send(text_data=reason)
        await self.close(code=code)


def frames_of(stream: bytes) -> list[tuple[int, bytes]]:
    """Parse a server's byte stream into whole (opcode, payload) frames; fails on a torn one."""
    frames = []
    while stream:
        opcode, size, at = stream[0] & 0x0F, stream[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(stream[2:4]), 4
        assert len(stream) >= at + size, "a torn frame"
        frames.append((opcode, stream[at : at + size]))
        stream = stream[at + size :]
    return frames


def flush(connection: tcp.Connection, peer: Any) -> bytes:
    """Everything the connection holds, as the peer reads it (bounded)."""
    received = read_available(peer)
    for _ in range(1000):
        if not unsent_bytes(connection):
            break
        connection.doWrite()
        received += read_available(peer)
    return received


async def test_past_the_cap_waiting_frames_are_dropped_and_the_client_told(pair, settings):
    settings.IMSUITE = {**settings.IMSUITE, "WS_SEND_BUFFER_MAX_BYTES": 20_000}
    connection, peer = pair
    ws = websocket_on(connection)
    consumer = Told()
    consumer.base_send, consumer.connection_id = functools.partial(handle_reply, ws), "slow-1"
    for _ in range(40):  # 120 kB for a peer that reads nothing
        await consumer.send(text_data=FRAME)
    assert consumer.overflowed
    assert unsent_bytes(connection) < 20_000  # what waited is gone
    assert ws.closeHandshakeTimeout == SLOW_CONSUMER_CLOSE_SECONDS
    ws.closeHandshakeTimeoutCall.cancel()  # the reactor is not run here
    await consumer.send(text_data="after the close")  # dropped

    frames = frames_of(flush(connection, peer))
    *kept, told, close = frames
    assert 0 < len(kept) < 40
    assert kept == [(1, FRAME.encode())] * len(kept)
    assert told == (1, b"slow_consumer")
    assert close == (8, CLOSE_SLOW_CONSUMER.to_bytes(2))


async def test_under_the_cap_nothing_is_dropped(pair, settings):
    settings.IMSUITE = {**settings.IMSUITE, "WS_SEND_BUFFER_MAX_BYTES": 200_000}
    connection, peer = pair
    consumer = Told()
    consumer.base_send = functools.partial(handle_reply, websocket_on(connection))
    for _ in range(40):
        await consumer.send(text_data=FRAME)
    assert not consumer.overflowed
    assert frames_of(flush(connection, peer)) == [(1, FRAME.encode())] * 40


def test_a_transport_without_twisted_buffers_has_no_cap():
    assert unsent_bytes(object()) == 0


@pytest.fixture
def daphne_protocol(pair) -> Any:
    """daphne's WebSocket protocol (as tuned at startup) reading the connection, with the queue of
    frames for its application: the state after a handshake."""
    connection, _peer = pair
    protocol = DaphneProtocol()
    protocol.transport, protocol.muted, protocol.client_addr = connection, False, None
    protocol.application_queue = asyncio.Queue()
    connection.startReading()
    yield protocol
    connection.stopReading()


def test_a_socket_is_not_read_while_its_frames_wait(pair, daphne_protocol):
    connection, _peer = pair
    limit = daphne_protocol.max_unread
    for _ in range(limit - 1):
        daphne_protocol.onMessage(b'{"type": "ping"}', False)
    assert connection in reactor.getReaders()
    daphne_protocol.onMessage(b'{"type": "ping"}', False)
    assert daphne_protocol.application_queue.qsize() == limit
    assert connection not in reactor.getReaders()  # the client's frames wait in the kernel

    queue = daphne_protocol.application_queue
    while queue.qsize() > limit // 2 + 1:
        queue.get_nowait()
        resume_reading(daphne_protocol)
        assert connection not in reactor.getReaders()
    queue.get_nowait()
    resume_reading(daphne_protocol)  # half taken: read again
    assert connection in reactor.getReaders()
    assert not daphne_protocol.reading_paused
