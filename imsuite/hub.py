"""The per-process hub: every event reaches the connections through it.

Every process (daphne, runbots) runs one hub per event loop and hands each event to the local
connections of its audience (every connection, for a broadcast), so a connection needs no
channel-layer channel or group of its own. With Redis the hub is a RoutedHub
(imsuite.routed_hub), which receives only its users' events, already in seq order. This module's
Hub is the embedded mode's: it receives every event of the process ONCE, through the in-memory
channel-layer group HUB_GROUP (tests run several event loops, so several hubs, in one process).

Message changes (message.new, message.edit, message.delete) carry a seq: the hub puts them in
seq order and its connections render each once per variant, shared through `frames`. Seq order
is commit order (chats.services.next_seq), and every message change is published, so each hub
sees a dense sequence. An event that arrives before its predecessor waits for it; a seq
still missing after GAP_WAIT_SECONDS (the channel layer dropped it, or its publisher died after
commit) is read from the database. So every connection gets message frames in strictly
increasing seq order, with no per-connection database work.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any, Protocol

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer

from . import patches, redis_nodes
from .app_hooks import hooks
from .db_outage import ServiceUnavailable
from .events import HUB_GROUP, HUB_MESSAGE_TYPE
from .per_loop import PerLoop

logger = logging.getLogger(__name__)

GAP_WAIT_SECONDS = 0.25
COUNTER_CHECK_SECONDS = 1.0
RECEIVE_SLICE_SECONDS = 1.0  # how long one receive waits before the hub looks around
RESET_REWIND = 100
GROUP_REFRESH_SECONDS = 5.0  # well within the layer's group_expiry (settings.HUB_GROUP_EXPIRY, 20 s)
# A send to the peers that fails (Redis restarting, a connection reset) is tried again after
# each of these pauses, then given up and logged; meanwhile at most OUTGOING_LIMIT events wait.
SEND_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)
OUTGOING_LIMIT = 10_000
# How long a connection waits for its process's hub to start (its first read of the seq counter)
# before it is told SERVICE_UNAVAILABLE: a process started while the database is away would
# otherwise hold every new connection until the database is back.
HUB_START_WAIT_SECONDS = 4.0


class Sink(Protocol):
    """A connection that takes events (client or bot)."""

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        """A message change, in seq order."""

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        """Any other event (presence, typing, receipts, groups, calls, account, notifications)."""


class Hub:
    def __init__(self) -> None:
        self.sinks: dict[int, set[Sink]] = defaultdict(set)
        self.position: int | None = None  # every seq up to here has been handed out
        self.pending: dict[int, dict[str, Any]] = {}
        self.gap_timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None
        self.filling: asyncio.Future | None = None
        self.watcher: asyncio.Future | None = None
        self.channel: str | None = None
        self.started = asyncio.Event()
        self.layer_down = False  # the channel layer failed; said once, until it answers again
        self.outgoing: list[dict[str, Any]] = []  # this process's events, on their way to the peers
        self.publishing: asyncio.Task | None = None

    # ---- connections ---------------------------------------------------------------------

    def attach(self, user_id: int, sink: Sink) -> None:
        self.sinks[user_id].add(sink)

    async def route(self, user_id: int) -> None:
        """Before a connection of the user attaches, with no await in between: every event for
        the user reaches this hub from then on (here: every event does; see RoutedHub)."""

    def detach(self, user_id: int, sink: Sink) -> None:
        sinks = self.sinks.get(user_id)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self.sinks[user_id]

    # ---- the event stream ----------------------------------------------------------------

    async def run(self) -> None:
        """Listen for the deployment's message events until cancelled, starting over after a failure."""
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable:  # the database is away (logged once by imsuite.db_outage)
                await asyncio.sleep(1)
            except (*redis_nodes.UNREACHABLE, OSError) as exc:
                if not self.layer_down:  # one line per outage: no traceback a second while Redis restarts
                    logger.warning("hub: the channel layer cannot be reached (%s); listening again", exc)
                    self.layer_down = True
                await asyncio.sleep(1)
            except Exception:
                logger.exception("hub: listening failed; starting again")
                await asyncio.sleep(1)

    async def _listen(self) -> None:
        from imsuite.ws import db

        layer = get_channel_layer()
        # The default prefix, like every channel of the process: channels-redis receives for one
        # prefix at a time per process, so a channel of another prefix would starve the rest.
        self.channel = await layer.new_channel()
        channel = self.channel
        await layer.group_add(HUB_GROUP, channel)
        if self.layer_down:
            logger.warning("hub: the channel layer answers again")
            self.layer_down = False
        if self.position is None:
            self.position = await db(_current_seq)()
        if self.watcher is None:
            self.watcher = asyncio.ensure_future(self._watch_counter())
        self.started.set()
        refreshed = asyncio.get_running_loop().time()
        try:
            me = asyncio.current_task()
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), RECEIVE_SLICE_SECONDS)
                except TimeoutError:
                    message = {}
                if me is not None and me.cancelling():
                    # Python 3.11's wait_for (which redis-py sends commands with) can swallow a
                    # cancellation; the request is still counted, so honour it here.
                    raise asyncio.CancelledError
                if message.get("type") == HUB_MESSAGE_TYPE and message.get("taken_by") != channel:
                    await self.take(message["events"])
                now = asyncio.get_running_loop().time()
                if now - refreshed > GROUP_REFRESH_SECONDS:
                    await layer.group_add(HUB_GROUP, channel)
                    refreshed = now
        finally:
            with contextlib.suppress(Exception):
                await layer.group_discard(HUB_GROUP, channel)

    async def _watch_counter(self) -> None:
        """A lost event with nothing after it leaves no gap to notice: once a second, if the hub has
        made no progress while the database's counter is ahead, read what has not arrived. (A hub
        that is merely busy keeps advancing and is left to catch up from the channel layer.)"""
        looked = (self.position, self.position)
        me = asyncio.current_task()
        while True:
            await asyncio.sleep(COUNTER_CHECK_SECONDS)
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            looked = await self.look_at_counter(*looked)

    async def look_at_counter(self, last_position: int, last_counter: int) -> tuple[int, int]:
        """One look of _watch_counter, given the position and counter of the one before; returns
        this one's."""
        from imsuite.ws import db

        # The counter is never behind the position the hub had when it asked, unless the database
        # went back; the position it has when the answer comes may be ahead of it (the hub handed
        # out batches meanwhile), and taking that for a reset rewound the hub and stalled it for a
        # gap wait under load (docs/performance.md, step 29).
        asked_at = self.position
        try:
            counter = await db(_current_seq)()
        except Exception as exc:
            if not isinstance(exc, ServiceUnavailable):  # an outage is logged once by imsuite.db_outage
                logger.exception("hub: could not read the seq counter")
            return last_position, last_counter
        if counter < asked_at:  # the database was reset (restored, or flushed by tests)
            logger.warning("hub: the seq counter went back from %s to %s", asked_at, counter)
            try:  # a counter alone gone back, below the stored seqs, is raised to them first
                counter = await db(_repaired_seq)()
            except Exception:
                logger.exception("hub: could not repair the seq counter")
        if counter < asked_at:  # the stored changes went back with it
            self.position = max(0, counter - RESET_REWIND)  # hand out the newest changes again
            self.pending.clear()
        # Stalled: no progress for a whole interval although the counter was already ahead at
        # its start (a burst that merely began since the last look is still on its way).
        if self.position == last_position and self.position < min(counter, last_counter):
            await self.fill_gap(upto=counter)
        return self.position, counter

    async def take(self, events: list[dict[str, Any]]) -> None:
        """Events from the channel layer ({event, data, seq, audience}), in any order. Those without
        a seq are handed out at once; message changes in seq order."""
        for event in events:
            seq = event["seq"]
            if seq is None:
                await self.dispatch(event["event"], event["data"], event["audience"], ordered=False)
            elif seq > self.position:  # else handed out already (from the database, after a gap)
                self.pending[seq] = event
        await self._drain()
        if self.pending and self.gap_timer is None:
            self.gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT_SECONDS, self._gap_due)

    async def _drain(self) -> None:
        while self.position + 1 in self.pending:
            self.position += 1
            message = self.pending.pop(self.position)
            await self.dispatch(message["event"], message["data"], message["audience"])
        if not self.pending and self.gap_timer is not None:
            self.gap_timer.cancel()
            self.gap_timer = None

    def _gap_due(self) -> None:
        self.gap_timer = None
        self.filling = asyncio.ensure_future(self.fill_gap())

    async def fill_gap(self, upto: int | None = None) -> None:
        """Read the missing seqs (by default up to the lowest pending one) from the database."""
        from imsuite.ws import db

        if upto is None:
            if not self.pending:
                return
            upto = min(self.pending) - 1
        upto = min([upto, *(seq - 1 for seq in self.pending)])
        if upto <= self.position:
            return
        try:
            changes = await db(hooks.changes_in_range)(self.position, upto)
        except Exception as exc:
            if not isinstance(exc, ServiceUnavailable):  # an outage is logged once by imsuite.db_outage
                logger.exception("hub: could not read seqs %s..%s; trying again", self.position + 1, upto)
            self.gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT_SECONDS, self._gap_due)
            return
        await self.dispatch_read(changes, upto)
        await self._drain()
        if self.pending and self.gap_timer is None:
            self.gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT_SECONDS, self._gap_due)

    async def dispatch_read(self, changes: list[tuple[str, dict[str, Any], list[int]]], upto: int) -> None:
        """Hand out message changes read from the database up to `upto`, those past the position
        only, and move the position to `upto`: seqs not found were superseded by later changes."""
        for name, data, audience in changes:
            if data["seq"] > self.position:
                self.position = data["seq"]
                await self.dispatch(name, data, audience)
        self.position = max(self.position, upto)

    async def dispatch(
        self, name: str, data: dict[str, Any], audience: list[int] | None, ordered: bool = True
    ) -> None:
        """Hand an event to the local connections of its audience (None: every connection)."""
        frames: dict[Any, str] = {}  # encoded once per variant, shared by every local recipient
        for sink in self._sinks_of(audience):
            try:
                if ordered:
                    await sink.hub_deliver(name, data, frames)
                else:
                    await sink.hub_notify(name, data)
            except Exception:
                logger.exception("hub: a connection failed to take %s", name)

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Send events this hub has taken itself to the other processes' hubs, in order, without
        waiting. What queues while a send is under way leaves with the next, as one channel-layer
        message: a hub receives a message with four Redis round trips (channels-redis), each waiting
        for a turn of its busy event loop, so a message per batch fell seconds behind across two
        processes (docs/performance.md). Lost ones are read from the database by the peers (seq)."""
        self.outgoing.extend(events)
        if len(self.outgoing) > OUTGOING_LIMIT:  # the layer has been failing for a while
            dropped, self.outgoing = self.outgoing[:-OUTGOING_LIMIT], self.outgoing[-OUTGOING_LIMIT:]
            _log_dropped(dropped, "too many waiting")
        if self.publishing is None:
            self.publishing = asyncio.ensure_future(self._publish_outgoing())

    async def _publish_outgoing(self) -> None:
        layer = get_channel_layer()
        try:
            while self.outgoing:
                events, self.outgoing = self.outgoing, []
                try:
                    await send_to_peers(layer, self.channel, {"type": HUB_MESSAGE_TYPE, "events": events})
                except Exception:
                    logger.exception("hub: the channel layer kept failing")
                    _log_dropped(events, "the channel layer kept failing")
        finally:
            self.publishing = None

    async def stop(self) -> None:
        """See stop_hub."""
        if self.publishing is not None:
            await self.publishing
        running = [task for task in (self.watcher, self.filling, self.task) if task is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _sinks_of(self, audience: list[int] | None) -> list[Sink]:
        """A snapshot: a connection may close while the event is handed out."""
        if audience is None:
            return [sink for sinks in self.sinks.values() for sink in sinks]
        return [sink for user_id in audience for sink in self.sinks.get(user_id, ())]


async def hub_peers(layer: Any, channel: str | None) -> list[str] | None:
    """The members of the group HUB_GROUP other than `channel`, read from the in-memory layer
    directly, or None for a layer of another kind, which then gets the events by group_send. A
    process alone has none and sends nothing."""
    if not patches.active("hub_peers") or not isinstance(layer, InMemoryChannelLayer):
        return None  # the layer's internals changed, or another layer: its own group_send
    return [member for member in layer.groups.get(HUB_GROUP, ()) if member != channel]


async def send_to_peers(layer: Any, channel: str | None, message: dict[str, Any]) -> None:
    """To each other hub's channel: the sender's own hub never receives its copy back. A failing
    step is tried again (SEND_RETRY_SECONDS) from where it failed, so a peer that already has the
    message does not get it twice; the last failure is raised."""
    peers: list[str] | None = None  # not asked yet
    for pause in (*SEND_RETRY_SECONDS, None):
        try:
            if peers is None:
                peers = await hub_peers(layer, channel)
                if peers is None:
                    await layer.group_send(HUB_GROUP, {**message, "taken_by": channel})  # skips its copy
                    return
            while peers:
                try:
                    await layer.send(peers[0], message)
                except ChannelFull:  # a stalled peer: it reads what it missed from the database
                    logger.warning("hub: %s is full; it will read the changes from the database", peers[0])
                peers.pop(0)
            return
        except Exception:
            if pause is None:
                raise
            logger.warning("hub: sending to the peers failed; trying again in %s s", pause)
            await asyncio.sleep(pause)


def _log_dropped(events: list[dict[str, Any]], why: str) -> None:
    """What the peers will not hear from this process. Message changes they read from the database
    (seq); closing events are enforced by each process's own checks (imsuite.watchdog, the send
    path); presence, typing and the like are lost, and clients correct them on their next read."""
    names = sorted({event["event"] for event in events})
    logger.error("hub: dropped %d events for the peers (%s): %s", len(events), why, ", ".join(names))


def _current_seq() -> int:
    return hooks.current_seq()


def _repaired_seq() -> int:
    """The counter, raised first to the highest stored seq if it is below it."""
    hooks.seq_counter_repair()
    return _current_seq()


def _start_hub(loop: asyncio.AbstractEventLoop) -> Hub:
    from django.conf import settings

    from .routed_hub import RoutedHub

    hub = RoutedHub() if settings.REDIS_URL else Hub()
    hub.task = loop.create_task(hub.run())
    return hub


_hubs: PerLoop[Hub] = PerLoop(_start_hub)


def running_hub() -> Hub | None:
    """This event loop's hub if it has started (it then ignores the channel layer's copies of
    what it was handed directly: those seqs are behind its position)."""
    hub = _hubs.existing()
    return hub if hub is not None and hub.started.is_set() else None


async def stop_hub() -> None:
    """At shutdown (imsuite.shutdown), once the connections are closed: the peers get what this
    process still has for them (their presence events among it), then the hub stops listening and
    its channel leaves the group HUB_GROUP (as _listen ends), so no peer sends it anything more."""
    hub = _hubs.existing()
    if hub is not None:
        await hub.stop()


async def get_hub() -> Hub:
    """This event loop's hub, started on first use; SERVICE_UNAVAILABLE if it cannot start within
    HUB_START_WAIT_SECONDS (it keeps trying: a later connection finds it started)."""
    hub = _hubs.get()
    if not hub.started.is_set():
        try:
            await asyncio.wait_for(hub.started.wait(), HUB_START_WAIT_SECONDS)
        except TimeoutError:
            raise ServiceUnavailable(retry_after=1) from None
    return hub
