"""Domain events: published after commit to the users they concern.

An event is protocol-neutral; the client and bot adapters each render it in their own protocol.
The channel layer is only a doorbell: a message the channel layer drops is recovered from the
database by the adapters (sync), so publishing never blocks or fails a committed change.
"""

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from rest_framework.utils.encoders import JSONEncoder

logger = logging.getLogger(__name__)

# The channel-layer handler name for every domain event. Never derived from client input, because
# Channels turns a message's "type" into a method name on the consumer.
CHANNEL_MESSAGE_TYPE = "domain.event"


# Message changes carry a seq and travel through the per-process hubs (imsuite.hub).
HUB_EVENTS = frozenset({"message.new", "message.edit", "message.delete"})
HUB_GROUP = "hub"
HUB_MESSAGE_TYPE = "hub.event"

# Every client connection also joins this group, for what goes to everyone (system notifications).
BROADCAST_GROUP = "broadcast"


def user_group(user_id: int) -> str:
    """The channel-layer group that every open connection of one user joins."""
    return f"user.{user_id}"


@dataclass(frozen=True)
class DomainEvent:
    name: str
    audience: frozenset[int]
    data: dict[str, Any] = field(default_factory=dict)

    def as_message(self) -> dict[str, Any]:
        # Plain JSON types on the wire (datetimes as ISO 8601, like REST): channels-redis packs
        # messages with msgpack, which refuses datetimes, and both legs must carry the same data.
        return {"type": CHANNEL_MESSAGE_TYPE, "event": self.name, "data": plain(self.data)}

    def as_hub_event(self) -> dict[str, Any]:
        """A message event as the hubs take it, with its seq and audience."""
        return {
            "event": self.name,
            "data": plain(self.data),
            "seq": self.data["seq"],
            "audience": sorted(self.audience),
        }


_SCALARS = (int, float, type(None))


def plain(value: Any) -> Any:
    """The value as JSON would give it back (datetimes as ISO 8601 like REST, tuples as lists,
    keys as strings), built directly: a dumps/loads round trip per event was a tenth of a busy
    server's time."""
    kind = type(value)
    if kind is str or kind in _SCALARS or kind is bool:
        return value
    if kind is dict:
        return {_plain_key(k): plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [plain(item) for item in value]
    if isinstance(value, str):  # e.g. a TextChoices member
        return str(value)
    return json.loads(json.dumps(value, cls=JSONEncoder))


def _plain_key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    return json.dumps(key)  # as json does: 1 -> "1", True -> "true", None -> "null"


def publish(name: str, audience: Iterable[int], data: dict[str, Any]) -> DomainEvent:
    """Queue an event for delivery once the surrounding transaction commits (at once outside one)."""
    event = DomainEvent(name=name, audience=frozenset(audience), data=data)
    publish_events([event])
    return event


def publish_events(events: Sequence[DomainEvent]) -> None:
    """Queue events for delivery together once the surrounding transaction commits: the message
    events among them travel to the hubs as one channel-layer message. Events nobody hears (the
    presence of a user without friends or private chats) are dropped here, so that they cost no
    trip to the event loop."""
    heard = [event for event in events if event.audience]
    if heard:
        transaction.on_commit(lambda: _committed(heard))


_collector: ContextVar[list[DomainEvent] | None] = ContextVar("imsuite_event_collector", default=None)


@contextmanager
def collected() -> Iterator[list[DomainEvent]]:
    """Inside this block, events are handed to the caller once committed instead of being sent:
    an async caller then sends them from its own event loop (deliver_async) rather than holding a
    worker thread until the channel layer has answered."""
    events: list[DomainEvent] = []
    token = _collector.set(events)
    try:
        yield events
    finally:
        _collector.reset(token)


def _committed(events: Sequence[DomainEvent]) -> None:
    collector = _collector.get()
    if collector is not None:
        collector.extend(events)
    else:
        deliver(events)


def publish_broadcast(name: str, data: dict[str, Any]) -> None:
    """Queue an event for every connected client, once the surrounding transaction commits."""
    message = DomainEvent(name=name, audience=frozenset(), data=data).as_message()

    def ring() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(BROADCAST_GROUP, message)
        except Exception:
            logger.exception("could not broadcast event %s", name)

    transaction.on_commit(ring)


def deliver(events: Sequence[DomainEvent]) -> None:
    """deliver_async, from synchronous code (the commit hooks of services)."""
    async_to_sync(deliver_async)(events)


async def deliver_async(events: Sequence[DomainEvent]) -> None:
    """Ring the events' audiences. Message events go once to every process's hub (imsuite.hub),
    which hands them to local connections in seq order; the rest go to each audience member's
    group. Failures are logged, never raised: the changes are committed, and the hubs read what
    the channel layer lost from the database."""
    layer = get_channel_layer()  # events nobody hears never come this far (publish_events)
    if layer is None or not events:
        return
    try:
        await _send_all(layer, events)
    except Exception:
        names = sorted({event.name for event in events})
        logger.exception("could not deliver %d events (%s)", len(events), ", ".join(names))


async def _send_all(layer: Any, events: list[DomainEvent]) -> None:
    to_hubs = [event.as_hub_event() for event in events if event.name in HUB_EVENTS]
    if to_hubs:
        from .hub import running_hub

        hub = running_hub()
        if hub is not None:  # this process's own hub need not wait for the round trip through Redis
            await hub.take(to_hubs)
        await layer.group_send(HUB_GROUP, {"type": HUB_MESSAGE_TYPE, "events": to_hubs})
    for event in events:
        if event.name not in HUB_EVENTS:
            message = event.as_message()
            for user_id in event.audience:
                await layer.group_send(user_group(user_id), message)
