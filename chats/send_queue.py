"""Gathers the message sends of one event loop's connections into batches.

A send waits for nothing but the batch in flight: while one batch is in the database, the sends
arriving meanwhile queue up and leave together as the next (at most MAX_BATCH). Under light load
a batch is one message and costs what a lone send costs; under heavy load the per-message cost
falls with the batch size (chats.sending). Each sender gets its own result only after the commit,
so nothing is acknowledged before it is stored.
"""

import asyncio
import contextlib

from imsuite import db_outage
from imsuite.errors import DomainError
from imsuite.events import DomainEvent, collected, deliver_async
from imsuite.per_loop import PerLoop
from imsuite.ws import db

from .sending import SendRequest, SendResult, message_send_many

MAX_BATCH = 500


class SendQueue:
    def __init__(self) -> None:
        self.waiting: list[tuple[SendRequest, asyncio.Future]] = []
        self.flushing: asyncio.Task | None = None
        self.delivering: asyncio.Task | None = None  # the newest batch's events on their way

    def submit(self, request: SendRequest) -> "asyncio.Future[SendResult]":
        """Queue a send; the future gets (message, created) or the DomainError that refused it,
        once the batch has committed. Batches leave one at a time, in order, so one connection's
        messages keep the order it sent them in."""
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
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
        batch: list[tuple[SendRequest, asyncio.Future]] = []
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                try:
                    db_outage.fail_fast()  # a batch just failed for an outage: do not wait it out again
                    results, events = await db(_send_collected)([request for request, _ in batch])
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
            for _, future in [*batch, *self.waiting]:  # cancelled midway: the senders learn it
                if not future.done():
                    future.cancel()
            self.waiting = []


async def _deliver_after(previous: asyncio.Task | None, events: list[DomainEvent]) -> None:
    """Send a batch's events after the previous batch's, so that hubs get them in seq order (a hub
    that sees a later seq first waits for the earlier one, and reads it from the database if it
    stays away)."""
    if previous is not None:
        with contextlib.suppress(Exception):
            await previous
    await deliver_async(events)


def _send_collected(requests: list[SendRequest]) -> tuple[list[SendResult], list[DomainEvent]]:
    with collected() as events:
        return message_send_many(requests), events


_queues: PerLoop[SendQueue] = PerLoop(lambda _loop: SendQueue())


def get_send_queue() -> SendQueue:
    """This event loop's send queue."""
    return _queues.get()
