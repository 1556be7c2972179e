"""Reverse mode, the document's own direction: IM-Suite is the WebSocket client. For every
registered endpoint it connects to the bot backend, sends the bot's Events and carries out the
Actions it receives; after a drop it waits 1 s, doubling up to 30 s. Endpoints added or deleted
are picked up within POLL_SECONDS, without a restart. Every attempt passes the outbound address
guard: the backend's name is resolved and checked each time and the connection goes to the checked
address; a redirect is never followed (websockets refuses to with a ready socket). Why the last
attempt failed is kept on the endpoint for its owner and the admin."""

import asyncio
import contextlib
import logging

import websockets

from imsuite import audit, outbound
from imsuite.hub import get_hub
from imsuite.models import AuditEntry
from imsuite.shutdown import CLOSE_GOING_AWAY
from imsuite.ws import db, dumps

from . import dialects
from .models import ReverseEndpoint
from .protocol import (
    EventOutbox,
    Peer,
    PeerUnusable,
    handle_frame,
    heartbeats,
    render_delivered,
    render_event,
    replay,
)
from .selectors import ALIVE_SECONDS, live_reverse_endpoint, live_reverse_endpoint_ids
from .services import (
    endpoint_address,
    reverse_endpoint_alive,
    reverse_endpoint_attempted,
    reverse_endpoint_complained,
    reverse_endpoint_connected,
    reverse_endpoint_received,
)

logger = logging.getLogger(__name__)
POLL_SECONDS = 3.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
OPEN_TIMEOUT_SECONDS = 10.0
ACK_SECONDS = 0.5  # how often the backend is asked (a ping) to acknowledge the events sent


class RedirectNotFollowed(ConnectionError):
    """The backend answered the handshake with a redirect: its target was never checked."""


async def _connect(endpoint: ReverseEndpoint, headers: dict[str, str]) -> websockets.ClientConnection:
    """The WebSocket to the backend, over a socket to an address the outbound guard checked. Given a
    ready socket, websockets refuses to follow a redirect (with a ValueError caused by the 3xx)."""
    sock = await outbound.open_socket(*endpoint_address(endpoint.url), timeout=OPEN_TIMEOUT_SECONDS)
    try:
        return await websockets.connect(
            endpoint.url, sock=sock, additional_headers=headers, open_timeout=OPEN_TIMEOUT_SECONDS
        )
    except BaseException as exc:
        sock.close()
        redirect = exc.__cause__ if isinstance(exc, ValueError) else None
        if isinstance(redirect, websockets.InvalidStatus):
            status, location = redirect.response.status_code, redirect.response.headers.get("Location")
            raise RedirectNotFollowed(f"redirect_not_followed: answered {status} to {location}") from exc
        raise


async def _session(endpoint: ReverseEndpoint, opened: asyncio.Event) -> None:
    """One connection's life: events out, actions in, until either side ends it. Sets `opened`
    once the backend has accepted the connection."""
    dialect = dialects.get(endpoint.dialect)
    headers = dialect.reverse_headers(endpoint.bot, endpoint.access_token)
    async with await _connect(endpoint, headers) as ws:
        opened.set()
        await db(reverse_endpoint_connected)(endpoint_id=endpoint.pk, connected=True)
        alive = asyncio.create_task(_alive(endpoint.pk))
        try:
            await _serve(endpoint, dialect, ws)
        except asyncio.CancelledError:  # the process stops (or the endpoint went): going away
            await ws.close(CLOSE_GOING_AWAY)
            raise
        finally:
            alive.cancel()
            try:
                await db(reverse_endpoint_connected)(endpoint_id=endpoint.pk, connected=False)
            except Exception as exc:  # its silence tells all the same (bots.selectors.endpoint_connected)
                logger.warning(
                    "bot %s: reverse endpoint %s: could not note the close: %s",
                    endpoint.bot_id,
                    endpoint.pk,
                    exc,
                )


async def _alive(endpoint_id: int) -> None:
    """Say every ALIVE_SECONDS that the connection is still open, until cancelled with it."""
    while True:
        await asyncio.sleep(ALIVE_SECONDS)
        try:
            await db(reverse_endpoint_alive)(endpoint_id=endpoint_id)
        except Exception as exc:  # the database is away a while: the next one may get through
            logger.info("reverse endpoint %s: could not note it is connected: %s", endpoint_id, exc)


async def _serve(
    endpoint: ReverseEndpoint, dialect: dialects.Dialect, ws: websockets.ClientConnection
) -> None:
    """Events out, actions in, until either side ends the connection."""

    async def complained(text: str) -> None:
        await db(reverse_endpoint_complained)(endpoint_id=endpoint.pk, text=text)

    peer = Peer(endpoint.bot, dialect, f"reverse endpoint {endpoint.pk} {endpoint.url}", complained)
    hub, sink = await get_hub(), HubSink(ws, peer)
    await hub.route(endpoint.bot_id)
    sink.outbox.hold()  # the dialect's opening frames and the replay first
    hub.attach(endpoint.bot_id, sink)
    beating = asyncio.create_task(heartbeats(peer, sink.outbox.put)) if dialect.heartbeat_seconds else None
    acknowledging = None
    try:
        for frame in dialect.opening(endpoint.bot):
            await sink.send(dumps(frame))
        start = await replay(peer, sink.outbox, endpoint.last_cursor)
        if endpoint.last_cursor is None:  # its first connection: its stream starts here
            await db(reverse_endpoint_received)(endpoint_id=endpoint.pk, cursor=start)
            endpoint.last_cursor = start
        await sink.outbox.release()
        acknowledging = asyncio.create_task(_acknowledge(ws, sink.outbox, endpoint))
        await _actions_in(ws, peer, sink)
    finally:
        hub.detach(endpoint.bot_id, sink)
        for task in (beating, acknowledging):
            if task is not None:
                task.cancel()


async def _acknowledge(
    ws: websockets.ClientConnection, outbox: EventOutbox, endpoint: ReverseEndpoint
) -> None:
    """Keep the endpoint's last_cursor: every ACK_SECONDS, if events went out, a ping; its pong
    says the backend has read every frame sent before it, and that cursor is stored. The next
    connection replays from there, so nothing is lost; what went out after the last pong before a
    drop may come again (with the same cursor, by which a backend can tell)."""
    saved = endpoint.last_cursor
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            cursor = outbox.cursor
            if cursor is not None and cursor != saved:
                await (await ws.ping())
                await db(reverse_endpoint_received)(endpoint_id=endpoint.pk, cursor=cursor)
                saved = cursor
            await asyncio.sleep(ACK_SECONDS)


class HubSink:
    """The bot's events from this process's hub, out to the bot backend."""

    def __init__(self, ws: websockets.ClientConnection, peer: Peer) -> None:
        self.ws, self.peer = ws, peer
        self.outbox = EventOutbox(self.send)

    async def hub_deliver(self, name: str, data: dict, frames: dict) -> None:
        """A message event (on_message, on_recall) or an event kept for bots, in seq order."""
        await self.outbox.put(render_delivered(self.peer, name, data, frames), data["seq"])

    async def hub_notify(self, name: str, data: dict) -> None:
        if name == "user.deactivated":
            await self.ws.close()  # which ends _actions_in, and the session with it
            return
        await self.outbox.put(render_event(self.peer, name, data))

    async def send(self, frame: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):  # _actions_in notices the close
            await self.ws.send(frame)


async def _actions_in(ws: websockets.ClientConnection, peer: Peer, sink: "HubSink") -> None:
    async for text in ws:
        sink.outbox.hold()  # events the action causes follow its response
        try:
            answer = await handle_frame(peer, text if isinstance(text, str) else None)
            if answer is not None:
                await ws.send(answer)
        except PeerUnusable as exc:
            await ws.close(exc.code, exc.reason)
            raise ConnectionError(exc.reason) from exc
        finally:
            await sink.outbox.release()
    raise ConnectionError("the bot backend closed the connection")


async def run_endpoint(endpoint_id: int) -> None:
    """Keep one endpoint connected until it is deleted (then this task is cancelled)."""
    audit.set_source(AuditEntry.Source.BOT)
    delay = FIRST_RETRY_SECONDS
    while True:
        endpoint = await db(live_reverse_endpoint)(endpoint_id)
        if endpoint is None:
            return
        opened = asyncio.Event()
        try:
            await _session(endpoint, opened)
        except* (OSError, ConnectionError, websockets.WebSocketException, TimeoutError) as group:
            error = group.exceptions[0]
            level = logging.WARNING if isinstance(error, outbound.AddressNotAllowed) else logging.INFO
            logger.log(level, "bot %s: reverse endpoint %s: %s", endpoint.bot_id, endpoint.url, error)
            await db(reverse_endpoint_attempted)(
                endpoint_id=endpoint_id, error=str(error) or type(error).__name__
            )
        if opened.is_set():  # a drop after a working connection starts the backoff afresh
            delay = FIRST_RETRY_SECONDS
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


async def supervise(poll_seconds: float = POLL_SECONDS) -> None:
    """Run one task per endpoint, starting and stopping them as endpoints come and go."""
    running: dict[int, asyncio.Task] = {}
    try:
        while True:
            wanted = await db(live_reverse_endpoint_ids)()
            for endpoint_id in wanted - running.keys():
                running[endpoint_id] = asyncio.create_task(run_endpoint(endpoint_id))
            for endpoint_id in [e for e in running if e not in wanted or running[e].done()]:
                running.pop(endpoint_id).cancel()
            await asyncio.sleep(poll_seconds)
    finally:
        for task in running.values():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*running.values(), return_exceptions=True)
