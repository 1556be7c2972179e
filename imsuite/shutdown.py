"""A graceful stop under daphne: what SIGTERM (or SIGINT) does to a process (docs/architecture.md).

Twisted's signal handlers stop the reactor, whose "before shutdown" triggers are called one after
the other without waiting for each other's Deferreds; daphne's, kill_all_applications, cancels
every connection's application at once. So the graceful steps run inside it, before the original:

1. the listening ports close: a new connection is refused (the load balancer sends it elsewhere);
2. each WebSocket is queued SHUTDOWN_MESSAGE behind the frames it has already received: once those
   are handled, the consumer lets what they started finish (a client's sends are stored and
   acknowledged), tells a client `disconnect` with reason `server_restart`, and closes with 1001;
   its disconnect releases its presence lease (offline only if it was the user's last connection);
3. HTTP requests under way finish;
4. the hub stops and removes its routes (embedded: hands its peers what it has and leaves the group).

Steps 2-3 are bounded by SHUTDOWN_GRACE_SECONDS less HUB_RESERVE_SECONDS, step 4 by the rest; then
daphne's own kill_all_applications cancels what remains. Should the process still be there
HARD_STOP_SECONDS after the grace (a thread that never returns), it exits at once.
"""

import asyncio
import functools
import logging
import os
import threading
from typing import Any

from django.conf import settings

from . import patches

logger = logging.getLogger(__name__)

SERVER_RESTART = "server_restart"  # the `disconnect` reason a client hears
CLOSE_GOING_AWAY = 1001
SHUTDOWN_MESSAGE = {"type": "websocket.shutdown"}  # FastWebsocketConsumer.websocket_shutdown
HUB_RESERVE_SECONDS = 2.0  # of the grace, kept for the hub to leave (at most half of it)
HARD_STOP_SECONDS = 5.0
HARD_STOP_EXIT_CODE = 70

_began = False


def began() -> bool:
    """Whether this process is stopping: a WebSocket that opens now is told so and closed."""
    return _began


@patches.installs("graceful_shutdown")
def install() -> None:
    """Run the graceful steps first when daphne's server is stopped."""
    from daphne.server import Server
    from twisted.internet import defer

    original = Server.kill_all_applications

    @functools.wraps(original)
    def kill_all_applications(self: Server) -> defer.Deferred:
        grace = settings.IMSUITE["SHUTDOWN_GRACE_SECONDS"]
        _exit_if_still_running_after(grace + HARD_STOP_SECONDS)
        stopping = defer.Deferred.fromFuture(asyncio.ensure_future(shut_down(self, grace)))
        stopping.addErrback(lambda failure: logger.error("shutdown failed: %s", failure.getTraceback()))
        stopping.addCallback(lambda _result: original(self))
        return stopping

    Server.kill_all_applications = kill_all_applications


async def shut_down(server: Any, grace: float) -> None:
    """Steps 1-4 of the module's docstring, within `grace` seconds."""
    global _began
    _began = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    logger.warning("stopping: closing connections within %s s", grace)
    await _stop_listening()
    going = _queue_shutdown(server)
    reserve = min(HUB_RESERVE_SECONDS, grace / 2)
    if not await _applications_finished(server, deadline - reserve):
        logger.warning("stopping: connections still open after the grace; closing them")
        _close_remaining(server)
    await _leave_hub(max(0.0, deadline - loop.time()))
    logger.warning("stopped: %d WebSockets were open", going)


async def _stop_listening() -> None:
    """Close every listening port of the reactor, and wait until they are closed."""
    from twisted.internet import reactor, tcp

    closing = [reader.stopListening() for reader in reactor.getReaders() if isinstance(reader, tcp.Port)]
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(d.asFuture(loop) for d in closing if d is not None), return_exceptions=True)


def _websockets(server: Any) -> list[Any]:
    """daphne's WebSocket protocols whose application runs."""
    from daphne.ws_protocol import WebSocketProtocol

    return [
        protocol
        for protocol, details in list(server.connections.items())
        if isinstance(protocol, WebSocketProtocol)
        and hasattr(protocol, "application_queue")
        and (instance := details.get("application_instance")) is not None
        and not instance.done()
    ]


def _queue_shutdown(server: Any) -> int:
    """Queue SHUTDOWN_MESSAGE for every WebSocket's application, behind what it has received."""
    going = _websockets(server)
    for protocol in going:
        protocol.application_queue.put_nowait(SHUTDOWN_MESSAGE)
    return len(going)


async def _applications_finished(server: Any, deadline: float) -> bool:
    """Wait until every application (WebSocket or HTTP request) has finished, or the deadline."""
    loop = asyncio.get_running_loop()
    while True:
        running = [
            instance
            for details in list(server.connections.values())
            if (instance := details.get("application_instance")) is not None and not instance.done()
        ]
        if not running:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.wait(running, timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)


def _close_remaining(server: Any) -> None:
    """The WebSockets whose application did not finish in time: closed as going away all the same
    (daphne then cancels their applications; their presence leases expire by themselves)."""
    for protocol in _websockets(server):
        if protocol.state == protocol.STATE_OPEN:
            protocol.sendCloseFrame(code=CLOSE_GOING_AWAY, isReply=False)


async def _leave_hub(timeout: float) -> None:
    from .hub import stop_hub

    try:
        await asyncio.wait_for(stop_hub(), timeout)
    except TimeoutError:
        logger.warning("stopping: the hub did not remove its routes in time (they expire with its heartbeat)")


def _exit_if_still_running_after(seconds: float) -> None:
    """The last bound: a daemon thread that ends the process if it is still there."""

    def exit_now() -> None:
        logger.error("stopping: still running %s s after the signal; exiting at once", seconds)
        os._exit(HARD_STOP_EXIT_CODE)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()
