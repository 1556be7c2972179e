"""One timer per process for every client connection's deadlines: silence (WS_IDLE_SECONDS), the
access token's expiry, and the renewal of its presence lease (every third of
PRESENCE_TTL_SECONDS).

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
from collections.abc import Coroutine
from typing import Any, Protocol

from django.conf import settings

from .app_hooks import hooks
from .per_loop import PerLoop

logger = logging.getLogger(__name__)


class Watched(Protocol):
    """A connection under watch."""

    last_activity: float  # time.monotonic() of its latest frame
    expires: float  # time.time() when its access token expires

    def lease(self) -> tuple[int, str]:
        """(user id, connection id) of its presence lease."""

    async def end(self, reason: str, code: int) -> None:
        """Tell the client why, and close (here "timeout" or "token_expired")."""


class Watchdog:
    def __init__(self) -> None:
        self.heap: list[tuple[float, int]] = []  # (due, key); a forgotten key's entry is skipped
        self.watched: dict[int, Watched] = {}
        self.renewed: dict[int, float] = {}  # key -> time.monotonic() of the last renewal
        self.keys = itertools.count()
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task] = set()

    def watch(self, connection: Watched) -> int:
        """Start watching a connection whose lease was just taken; returns its key for forget."""
        key = next(self.keys)
        self.watched[key] = connection
        self.renewed[key] = time.monotonic()
        self._push(key)
        self._arm()
        return key

    def forget(self, key: int) -> None:
        self.watched.pop(key, None)
        self.renewed.pop(key, None)

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
            self._spawn(_renew(renewals))
        self._arm()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self.tasks.discard)


def _renew_every() -> float:
    return settings.IMSUITE["PRESENCE_TTL_SECONDS"] / 3


async def _renew(leases: list[tuple[int, str]]) -> None:
    from .ws import db

    try:
        await db(hooks.connections_renewed)(leases=leases)
    except Exception:  # the next round renews them again, well within the lease's life
        logger.exception("could not renew %d presence leases", len(leases))


_watchdogs: PerLoop[Watchdog] = PerLoop(lambda _loop: Watchdog())


def watchdog() -> Watchdog:
    """This event loop's watchdog."""
    return _watchdogs.get()
