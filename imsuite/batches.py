"""Requests of one event loop's connections gathered into batches for the database threads.

A request waits for nothing but the batch in flight: while one batch is in the database, the
requests arriving meanwhile queue up and leave together as the next (at most `most`). Under light
load a batch is one request and costs what a lone one costs; under heavy load (thousands of sends a
second, a storm of reconnections) the cost per request falls with the batch's size: one trip to a
database thread, one statement for many rows. Each caller gets its own result only after the
commit, so nothing is acknowledged before it is stored. The events a batch published are sent from
the loop, after the previous batch's, so that hubs get them in order.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

from . import db_outage
from .errors import DomainError
from .events import DomainEvent, collected, deliver_async
from .ws import db

T = TypeVar("T")
R = TypeVar("R")


class BatchQueue(Generic[T, R]):
    def __init__(
        self, run: Callable[[list[T]], list[R | DomainError]], most: int, *, fail_fast: bool = True
    ) -> None:
        """`run` (in a database thread) gives each request its result or the DomainError that refused
        it. With `fail_fast`, a batch right after one failed for an outage is refused at once
        (imsuite.db_outage) instead of waiting it out again."""
        self.run, self.most = db(lambda requests: _collecting(run, requests)), most
        self.fail_fast = fail_fast
        self.waiting: list[tuple[T, asyncio.Future]] = []
        self.flushing: asyncio.Task | None = None
        self.delivering: asyncio.Task | None = None  # the newest batch's events on their way

    def submit(self, request: T) -> "asyncio.Future[R | DomainError]":
        """Queue a request; the future gets its result or the DomainError that refused it, once its
        batch has committed. Batches leave one at a time, in order, so one connection's requests
        keep the order it made them in."""
        future: asyncio.Future[R | DomainError] = asyncio.get_running_loop().create_future()
        self.waiting.append((request, future))
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())
        return future

    async def delivered(self) -> None:
        """Wait until the events of the batches stored so far have been handed to the hubs (this
        process's own dispatches them to its connections: the senders' acknowledgements)."""
        if self.delivering is not None:
            with contextlib.suppress(Exception):
                await self.delivering

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future]] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
                try:
                    if self.fail_fast:
                        db_outage.fail_fast()
                    results, events = await self.run([request for request, _ in batch])
                except Exception as exc:  # the whole batch failed (e.g. the database is down)
                    results, events = [exc] * len(batch), []
                if events:  # sent from the loop, while the next batch is already in the database
                    self.delivering = asyncio.create_task(_deliver_after(self.delivering, events))
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception) and not isinstance(result, DomainError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.flushing = None
            for _, future in [*batch, *self.waiting]:  # cancelled midway: the callers learn it
                if not future.done():
                    future.cancel()
            self.waiting = []


def _collecting(
    run: Callable[[list[T]], list[R | DomainError]], requests: list[T]
) -> tuple[list[R | DomainError], list[DomainEvent]]:
    with collected() as events:
        return run(requests), events


async def _deliver_after(previous: asyncio.Task | None, events: list[DomainEvent]) -> None:
    """Send a batch's events after the previous batch's, so that hubs get them in seq order (a hub
    that sees a later seq first waits for the earlier one, and reads it from the database if it
    stays away)."""
    if previous is not None:
        with contextlib.suppress(Exception):
            await previous
    await deliver_async(events)
