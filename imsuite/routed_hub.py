"""The hub of a process that shares Redis with others: it receives only its own users' events.

It registers the users it serves (imsuite.event_routes) before their connections read their
starting state, and reads its own stream, which the sequencer keeps in seq order: every event
published after a user's registration reaches this process, and no message change waits here for
a predecessor. A process that serves nobody in a chat spends nothing on that chat's messages.

What may still be missing is looked for by the watcher, once a second:
- the sequencer stuck behind a seq that was committed but never published (its publisher died):
  the hub reads the missing changes from the database and publishes them for everyone;
- Redis lost its data (a restart): the hub registers its users again and hands its connections
  the changes they may have missed, read from the database.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from . import event_routes, redis_nodes
from . import hub as base
from .app_hooks import hooks
from .db_outage import ServiceUnavailable
from .events import DomainEvent

logger = logging.getLogger(__name__)

READ_BLOCK_MS = 1000  # how long one stream read waits before the hub looks around
HEARTBEAT_SECONDS = 5.0  # well within event_routes.PROCESS_EXPIRY_SECONDS
LEAVE_BATCHES = 50  # a graceful stop removes at most this many batches of routes, then lets them expire


class RoutedHub(base.Hub):
    def __init__(self) -> None:
        super().__init__()
        self.process = secrets.token_hex(6)
        self.registered: set[int] = set()  # users routed here in Redis (or about to be)
        self.adding: set[int] = set()  # users waiting for the next registration
        # Users whose route() has not returned yet: registered, their connection not attached.
        self.joining: dict[int, int] = {}  # user id -> connections waiting
        self.added: asyncio.Future | None = None  # that registration's outcome
        self.routes_lock = asyncio.Lock()  # route changes reach Redis in the order they were made
        self.last_entry = "0-0"  # the stream is new: everything in it is for this hub
        self.lost_contact = False
        self.registering: asyncio.Task | None = None
        self.hole_check: asyncio.Task | None = None

    # ---- connections ---------------------------------------------------------------------

    async def route(self, user_id: int) -> None:
        """Route the user's events here (once per user and process): everything published from then
        on reaches this hub. SERVICE_UNAVAILABLE if Redis does not answer."""
        if user_id not in self.registered:
            self.adding.add(user_id)
            if self.added is None:
                self.added = asyncio.get_running_loop().create_future()
                self.registering = asyncio.ensure_future(self._register_added())
            # Between the registration's end and this coroutine's next turn other tasks run, the
            # heartbeat's look for idle users among them: a joining user is not idle.
            self.joining[user_id] = self.joining.get(user_id, 0) + 1
            try:
                await asyncio.shield(self.added)
            finally:
                if self.joining[user_id] == 1:
                    del self.joining[user_id]
                else:
                    self.joining[user_id] -= 1

    async def _register_added(self) -> None:
        """One script for every user whose first connection opened meanwhile (a reconnect storm)."""
        await asyncio.sleep(0)
        users, self.adding = self.adding, set()
        done, self.added = self.added, None
        try:
            async with self.routes_lock:
                await event_routes.set_routes(self.process, sorted(users), [])
        except Exception as exc:
            logger.warning("hub: could not route %d users here (%s)", len(users), exc)
            done.set_exception(ServiceUnavailable(retry_after=1))
            done.exception()  # retrieved: the joiners got it
            return
        self.registered |= users
        done.set_result(None)

    async def _unregister_idle(self) -> None:
        """Users with no connection left here since the last look stop being routed here."""
        idle = sorted(
            user_id
            for user_id in self.registered
            if user_id not in self.sinks and user_id not in self.joining
        )
        self.registered.difference_update(idle)  # a join meanwhile registers the user again
        async with self.routes_lock:
            known = await event_routes.set_routes(self.process, [], idle)
            if not known:  # Redis lost its data: route everyone here again
                await event_routes.set_routes(self.process, sorted(self.registered), [])
        if not known:
            logger.warning("hub: Redis forgot this process; its users are routed here again")
            await self._catch_up()

    # ---- the event stream ----------------------------------------------------------------

    async def _listen(self) -> None:
        from imsuite.ws import db

        async with self.routes_lock:
            await event_routes.set_routes(self.process, sorted(self.registered), [])
        if self.layer_down:
            logger.warning("hub: Redis answers again")
            self.layer_down = False
        if self.position is None:
            self.position = await db(base._current_seq)()
        elif self.lost_contact:
            await self._catch_up()
        await event_routes.start_sequence(self.position)
        self.lost_contact = True  # until this listening ends cleanly (never, but for a cancel)
        if self.watcher is None:
            self.watcher = asyncio.ensure_future(self._watch_counter())
        self.started.set()
        me = asyncio.current_task()
        while True:
            self.last_entry, events = await event_routes.read(self.process, self.last_entry, READ_BLOCK_MS)
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            await self.take(events)

    async def take(self, events: list[dict[str, Any]]) -> None:
        """Events in stream order, which for message changes is seq order."""
        for event in events:
            seq = event["seq"]
            if seq is None:
                await self.dispatch(event["event"], event["data"], event["audience"], ordered=False)
            elif seq > self.position:  # else handed out already (from the database)
                self.position = seq
                await self.dispatch(event["event"], event["data"], event["audience"])

    async def _catch_up(self) -> None:
        """Hand the local connections what the stream may have lost (Redis restarted or the hub lost
        contact): the changes after the position, read from the database."""
        from imsuite.ws import db

        upto = await db(base._current_seq)()
        if upto > self.position:
            await self.dispatch_read(await db(hooks.changes_in_range)(self.position, upto), upto)

    async def _watch_counter(self) -> None:
        """Once a second, whether the sequencer is stuck; every HEARTBEAT_SECONDS, the heartbeat
        (which also stops routing idle users here) and the removal of dead processes' routes."""
        loop = asyncio.get_running_loop()
        looked: tuple[event_routes.Position, int] | None = None
        beat = loop.time()
        me = asyncio.current_task()
        while True:
            await asyncio.sleep(base.COUNTER_CHECK_SECONDS)
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            try:
                looked = await self.look_at_sequencer(looked)
                if loop.time() - beat >= HEARTBEAT_SECONDS:
                    beat = loop.time()
                    await self._unregister_idle()
                    await event_routes.clear()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable:
                pass  # the database is away (logged once by imsuite.db_outage)
            except Exception as exc:
                logger.warning("hub: looking at the sequencer failed (%s)", exc)

    async def look_at_sequencer(
        self, before: tuple[event_routes.Position, int] | None
    ) -> tuple[event_routes.Position, int]:
        """One look of the watcher, given the one before (the sequencer's position and the database's
        counter); fills a hole the sequencer has been stuck at since then."""
        from imsuite.ws import db

        # The counter is never behind the position the hub had when it asked, unless the database
        # went back; the position may move past it while the answer is on its way (this hub hands
        # out changes meanwhile), and taking that for a reset rewound the hub and emptied the
        # sequencer under load.
        asked_at = self.position
        now = await event_routes.position()
        counter = await db(base._current_seq)()
        if counter < asked_at:  # a counter alone gone back, below the stored seqs, is raised to them
            counter = await db(base._repaired_seq)()
        if counter < asked_at:  # the stored changes went back with it (restored, or emptied by tests)
            logger.warning("hub: the seq counter went back from %s to %s", asked_at, counter)
            if counter < now.published:
                await event_routes.restart_sequence()
            self.position = max(0, counter - base.RESET_REWIND)  # hand out the newest changes again
            await self._catch_up()
            return await event_routes.position(), counter
        if now.published < 0:  # Redis lost it, or the database went back: this hub's stands in
            await event_routes.start_sequence(self.position)
        elif before is not None and now == before[0]:
            if now.parked:  # a seq was never published: everything parked waits for it
                await fill_hole(now.published, now.parked - 1)
            elif now.published < min(counter, before[1]):  # the newest changes were never published
                await fill_hole(now.published, min(counter, before[1]))
        return now, counter

    async def check_parked_soon(self, parked: int) -> None:
        """After a publish that parked: if the hole before `parked` is still there after
        GAP_WAIT_SECONDS, fill it (the watcher would, but only after a second or two)."""
        await asyncio.sleep(base.GAP_WAIT_SECONDS)
        now = await event_routes.position()
        if now.parked and now.parked <= parked and now.published >= 0:
            await fill_hole(now.published, now.parked - 1)

    async def stop(self) -> None:
        """At a graceful stop: no more events are routed here, and the stream goes."""
        await super().stop()
        with contextlib.suppress(Exception):
            for _ in range(LEAVE_BATCHES):
                if not await event_routes.clear(self.process):
                    break


async def fill_hole(after: int, upto: int) -> None:
    """Publish the committed changes after < seq <= upto from the database, for every hub."""
    from imsuite.ws import db

    changes = await db(hooks.changes_in_range)(after, upto)
    events = [
        DomainEvent(name, frozenset(audience or ()), data, everyone=audience is None).routed
        for name, data, audience in changes
    ]
    logger.warning("hub: seqs %s..%s were not published; read from the database", after + 1, upto)
    await event_routes.publish(events, floor=upto)


async def publish(events: Sequence[DomainEvent], hub: RoutedHub | None) -> None:
    """Route committed events, as their committing thread encoded them (DomainEvent.routed); a
    parked seq gets the publishing process's quick look for its hole."""
    try:
        position = await event_routes.publish([event.routed for event in events])
    except (*redis_nodes.UNREACHABLE, OSError):
        if hub is None:
            raise
        # Redis is away: this process's own connections still hear what it committed (the other
        # processes read the message changes from the database once Redis is back: _catch_up).
        await hub.take([event.hub_event for event in events])
        return
    if position.parked and hub is not None and (hub.hole_check is None or hub.hole_check.done()):
        hub.hole_check = asyncio.ensure_future(hub.check_parked_soon(position.parked))
