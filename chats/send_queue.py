"""Gathers the message sends of one event loop's connections into batches (imsuite.batches).

While one batch is in the database, the sends arriving meanwhile leave together as the next (at
most MAX_BATCH): the per-message cost falls with the batch size (chats.sending). Each sender gets
its own result only after the commit, so nothing is acknowledged before it is stored.
"""

from imsuite.batches import BatchQueue
from imsuite.per_loop import PerLoop

from .sending import SendRequest, SendResult, message_send_many

MAX_BATCH = 500

SendQueue = BatchQueue[SendRequest, SendResult]

_queues: PerLoop[SendQueue] = PerLoop(lambda _loop: BatchQueue(message_send_many, MAX_BATCH))


def get_send_queue() -> SendQueue:
    """This event loop's send queue."""
    return _queues.get()
