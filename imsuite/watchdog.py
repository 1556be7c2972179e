"""One timer per process for every client connection's deadlines: silence (WS_IDLE_SECONDS), the
access token's expiry, and the renewal of its presence lease (every third of
PRESENCE_TTL_SECONDS). Every RIGHTS_CHECK_SECONDS it also asks the database, in one batch, whether
its connections may stay open (the user active, the session not signed out, the bot token live)
and closes those that lost the right: the fallback for a `user.deactivated` or `user.logged_out`
event that the channel layer lost on its way to this process.

A task per connection, asleep until its next deadline, cost a task, a coroutine and a timer for
each of ten thousand idle connections, and each renewal a trip of its own to the database
threads and to Redis. Here the deadlines sit in one heap served by one timer, a deadline that
activity has moved is pushed back when it comes up, and the renewals that fall due together go
to the presence store as one batch.
"""

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from django.conf import settings

from . import redis_nodes
from .app_hooks import hooks
from .db_outage import ServiceUnavailable
from .per_loop import PerLoop

logger = logging.getLogger(__name__)


class Watched(Protocol):
    """A connection under watch."""

    last_activity: float  # time.monotonic() of its latest frame
    expires: float  # time.time() when its access token expires

    def lease(self) -> tuple[int, str]:
        """(user id, connection id) of its presence lease."""

    def credentials(self) -> "Credentials":
        """What gives it the right to stay open."""

    async def end(self, reason: str, code: int) -> None:
        """Tell the client why, and close (here "timeout", "token_expired", or a lost right's reason)."""


# (user id, session id, bot token hash): a client connection has a sid, a bot connection a hash.
Credentials = tuple[int, str | None, str | None]
# Given credentials, the reason each lost its right (None: it keeps it); run in a database thread.
RightsCheck = Callable[[Sequence[Credentials]], list[str | None]]
CLOSE_POLICY = 1008


class Watchdog:
    def __init__(self, rights_check: RightsCheck | None = None) -> None:
        self.heap: list[tuple[float, int]] = []  # (due, key); a forgotten key's entry is skipped
        self.watched: dict[int, Watched] = {}
        self.renewed: dict[int, float] = {}  # key -> time.monotonic() of the last renewal
        self.keys = itertools.count()
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task] = set()
        self.renewing: set[asyncio.Task] = set()  # renewals on their way to the presence store
        self.rights_check = rights_check
        self.checking: asyncio.Task | None = None

    def watch(self, connection: Watched) -> int:
        """Start watching a connection whose lease was just taken; returns its key for forget."""
        key = next(self.keys)
        self.watched[key] = connection
        self.renewed[key] = time.monotonic()
        self._push(key)
        self._arm()
        if self.rights_check is not None and self.checking is None:
            self.checking = asyncio.get_running_loop().create_task(self._check_rights())
        return key

    def forget(self, key: int) -> None:
        self.watched.pop(key, None)
        self.renewed.pop(key, None)

    async def release(self, key: int) -> None:
        """Forget a closing connection and wait for the renewals already on their way, which may
        hold its lease: after this, dropping the lease is final (a renewal recreates a lease that
        is gone, so that a Redis restart cannot leave live connections offline)."""
        self.forget(key)
        if self.renewing:
            await asyncio.wait(list(self.renewing))

    def _due(self, key: int) -> float:
        connection = self.watched[key]
        now = time.monotonic()
        return min(
            connection.last_activity + settings.IMSUITE["WS_IDLE_SECONDS"],
            self.renewed[key] + _renew_every(),
            now + connection.expires - time.time(),
        )

    def _push(self, key: int) -> None:
        heapq.heappush(self.heap, (self._due(key), key))

    def _arm(self) -> None:
        """Set the timer for the earliest deadline (entries of forgotten connections included:
        waking for one of those costs one pop)."""
        if not self.heap:
            return
        due = self.heap[0][0]
        if self.timer is not None:
            if self.timer.when() <= due:
                return
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_at(due, self._fire)

    def _fire(self) -> None:
        self.timer = None
        now, wall = time.monotonic(), time.time()
        idle, renew_every = settings.IMSUITE["WS_IDLE_SECONDS"], _renew_every()
        renewals: list[tuple[int, str]] = []
        while self.heap and self.heap[0][0] <= now:
            _due, key = heapq.heappop(self.heap)
            connection = self.watched.get(key)
            if connection is None:
                continue
            if wall >= connection.expires or now - connection.last_activity >= idle:
                self.forget(key)
                ended = ("token_expired", 1008) if wall >= connection.expires else ("timeout", 1000)
                self._spawn(connection.end(*ended))
                continue
            if now - self.renewed[key] >= renew_every:
                self.renewed[key] = now
                renewals.append(connection.lease())
            self._push(key)
        if renewals:
            renewal = self._spawn(_renew(renewals))
            self.renewing.add(renewal)
            renewal.add_done_callback(self.renewing.discard)
        self._arm()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self.tasks.discard)
        return task

    async def _check_rights(self) -> None:
        """Every RIGHTS_CHECK_SECONDS while connections are watched: one batch for all of them."""
        from .ws import db

        try:
            while self.watched:
                await asyncio.sleep(settings.IMSUITE["RIGHTS_CHECK_SECONDS"])
                watched = list(self.watched.items())
                if not watched:
                    break
                try:
                    reasons = await db(self.rights_check)([c.credentials() for _, c in watched])
                except ServiceUnavailable:  # the database is away (imsuite.db_outage says so once)
                    continue
                except Exception:  # the next round asks again
                    logger.exception("could not check the rights of %d connections", len(watched))
                    continue
                for (key, connection), reason in zip(watched, reasons, strict=True):
                    if reason is not None and self.watched.get(key) is connection:
                        logger.info("closing a connection of user %s: %s", connection.lease()[0], reason)
                        self.forget(key)
                        self._spawn(connection.end(reason, CLOSE_POLICY))
        finally:
            self.checking = None


def _renew_every() -> float:
    return settings.IMSUITE["PRESENCE_TTL_SECONDS"] / 3


async def _renew(leases: list[tuple[int, str]]) -> None:
    from .ws import db

    try:
        await db(hooks.connections_renewed)(leases=leases)
    except redis_nodes.UNREACHABLE as exc:  # Redis restarting (a cluster's node away): said in one line
        logger.warning("could not renew %d presence leases: %s", len(leases), exc)
    except Exception:  # the next round renews them again, well within the lease's life
        logger.exception("could not renew %d presence leases", len(leases))


_watchdogs: PerLoop[Watchdog] = PerLoop(lambda _loop: Watchdog(rights_check=hooks.rights_lost))


def watchdog() -> Watchdog:
    """This event loop's watchdog."""
    return _watchdogs.get()
