"""Domain events: published after commit to the users they concern.

An event is protocol-neutral; the client and bot adapters each render it in their own protocol.
The channel layer is only a doorbell: a message the channel layer drops is recovered from the
database by the adapters (sync), so publishing never blocks or fails a committed change.
"""

import json
import logging
from collections.abc import Iterable
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
        data = json.loads(json.dumps(self.data, cls=JSONEncoder))
        return {"type": CHANNEL_MESSAGE_TYPE, "event": self.name, "data": data}


def publish(name: str, audience: Iterable[int], data: dict[str, Any]) -> DomainEvent:
    """Queue an event for delivery once the surrounding transaction commits (at once outside one)."""
    event = DomainEvent(name=name, audience=frozenset(audience), data=data)
    transaction.on_commit(lambda: deliver(event))
    return event


def publish_broadcast(name: str, data: dict[str, Any]) -> None:
    """Queue an event for every connected client, once the surrounding transaction commits."""
    message = DomainEvent(name=name, audience=frozenset(), data=data).as_message()

    def ring() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(BROADCAST_GROUP, message)
        except Exception:
            logger.exception("could not broadcast event %s", name)

    transaction.on_commit(ring)


def deliver(event: DomainEvent) -> None:
    """Ring the event's audience. Message events go once to every process's hub (imsuite.hub), which
    hands them to local connections in seq order; the rest go to each audience member's group.
    Failures are logged, never raised: the change is committed, and the hubs read what the channel
    layer lost from the database."""
    layer = get_channel_layer()
    if layer is None or not event.audience:
        return
    message = event.as_message()
    try:
        if event.name in HUB_EVENTS:
            hub_message = message | {
                "type": HUB_MESSAGE_TYPE,
                "seq": event.data["seq"],
                "audience": sorted(event.audience),
            }
            async_to_sync(layer.group_send)(HUB_GROUP, hub_message)
        else:
            async_to_sync(_send_all)(layer, event.audience, message)
    except Exception:
        logger.exception("could not deliver event %s to %d users", event.name, len(event.audience))


async def _send_all(layer: Any, audience: frozenset[int], message: dict[str, Any]) -> None:
    for user_id in audience:
        await layer.group_send(user_group(user_id), message)
