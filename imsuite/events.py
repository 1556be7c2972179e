"""Domain events: published after commit to the users they concern.

An event is protocol-neutral; the client and bot adapters each render it in their own protocol.
The transport (Redis routes, or the embedded mode's in-memory channel layer) is only a doorbell: a
lost message change is recovered from the database by the hubs and the adapters (sync), so
publishing never blocks or fails a committed change.
"""

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from rest_framework.utils.encoders import JSONEncoder

from .event_routes import Routed

logger = logging.getLogger(__name__)

# Every event travels once to each process's hub that serves its audience (imsuite.hub), which
# hands it to the local connections of that audience. Message changes carry a seq, by which they
# are ordered; so does an event kept for bots' resumable stream (bots.stream), which goes to its
# bots only.
BOT_EVENT = "bot.event"
HUB_EVENTS = frozenset(
    {"message.new", "message.edit", "message.delete", "message.reaction", "message.preview", BOT_EVENT}
)
HUB_GROUP = "hub"
# The channel-layer message type of a batch of events. Never derived from client input, because
# Channels turns a message's "type" into a method name on a consumer.
HUB_MESSAGE_TYPE = "hub.event"


@dataclass(frozen=True)
class DomainEvent:
    name: str
    audience: frozenset[int]  # user ids; empty with everyone set
    data: dict[str, Any] = field(default_factory=dict)
    everyone: bool = False  # a broadcast: every connection of the deployment

    @cached_property
    def hub_event(self) -> dict[str, Any]:
        """The event as the hubs take it: plain JSON types (datetimes as ISO 8601, like REST), as
        the routes' JSON carries them and both legs must hand out the same data. Embedded, made
        once in the committing thread (_committed)."""
        return plain(self._hub_form)

    @cached_property
    def routed(self) -> Routed:
        """The event as a route carries it (with Redis), encoded once in the committing thread
        (_committed): the JSON that plain() made, which the route sends as it is, rather than a
        plain copy of the data encoded again on the event loop (docs/performance.md, step 40)."""
        form = self._hub_form
        return Routed(form["seq"], form["audience"], plain_json(form))

    @property
    def _hub_form(self) -> dict[str, Any]:
        """Message changes carry their seq; the rest None."""
        return {
            "event": self.name,
            "data": self.data,
            "seq": self.data["seq"] if self.name in HUB_EVENTS else None,
            "audience": None if self.everyone else sorted(self.audience),
        }


def plain(value: Any) -> Any:
    """The value as JSON would give it back (datetimes as ISO 8601 like REST, tuples as lists,
    keys as strings): an orjson round trip, with DRF's encoder for what orjson does not know. A
    json round trip per event was a tenth of a busy server's time; orjson takes half of what
    walking the value in Python took. What orjson refuses (an integer past 64 bits) is walked."""
    try:
        return orjson.loads(orjson.dumps(value, default=_drf_default, option=_ORJSON_PLAIN))
    except orjson.JSONEncodeError:
        return _walked(value)


def plain_json(value: Any) -> bytes:
    """The JSON of plain(value)."""
    try:
        return orjson.dumps(value, default=_drf_default, option=_ORJSON_PLAIN)
    except orjson.JSONEncodeError:
        return json.dumps(_walked(value), separators=(",", ":")).encode()


# orjson writes datetimes as DRF's encoder does (ISO 8601, a zero offset as Z) without a call back
# into Python per datetime, a third of plain()'s time for a message event.
_ORJSON_PLAIN = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
_SCALARS = (int, float, type(None))


def _drf_default(value: Any) -> Any:
    if type(value) is datetime:  # the commonest non-JSON value: as DRF's encoder writes it
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _DRF_ENCODER.default(value)


_DRF_ENCODER = JSONEncoder()


def _walked(value: Any) -> Any:
    """plain(), built in Python."""
    kind = type(value)
    if kind is str or kind in _SCALARS or kind is bool:
        return value
    if kind is dict:
        return {_plain_key(k): _walked(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_walked(item) for item in value]
    if kind is datetime:
        return _drf_default(value)
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
    """Queue events for delivery together once the surrounding transaction commits: they travel
    to the hubs as one channel-layer message. Events nobody hears (the presence of a user without
    friends or private chats) are dropped here, so that they cost no trip to the event loop."""
    heard = [event for event in events if event.audience or event.everyone]
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
    from .app_hooks import hooks

    events = hooks.events_committed(events)
    for event in events:
        # Made here, in the committing thread (a database thread for the sends), rather than on
        # the event loop, where plain() was a tenth of its time (docs/performance.md).
        event.routed if settings.REDIS_URL else event.hub_event  # noqa: B018
    collector = _collector.get()
    if collector is not None:
        collector.extend(events)
    else:
        deliver(events)


def publish_broadcast(name: str, data: dict[str, Any]) -> None:
    """Queue an event for every connection, once the surrounding transaction commits."""
    publish_events([DomainEvent(name=name, audience=frozenset(), data=data, everyone=True)])


def deliver(events: Sequence[DomainEvent]) -> None:
    """deliver_async, from synchronous code (the commit hooks of services)."""
    async_to_sync(deliver_async)(events)


async def deliver_async(events: Sequence[DomainEvent]) -> None:
    """Ring the events' audiences: with Redis, routed to the processes that serve them
    (imsuite.event_routes); embedded, to every hub of the process (imsuite.hub). Either way each
    hub hands them to its local connections. Failures are logged, never raised: the changes are
    committed, and the hubs read lost message changes from the database."""
    if not events:  # events nobody hears never come this far (publish_events)
        return
    try:
        await _send_all(events)
    except Exception:
        names = sorted({event.name for event in events})
        logger.exception("could not deliver %d events (%s)", len(events), ", ".join(names))


async def _send_all(events: Sequence[DomainEvent]) -> None:
    from .hub import running_hub, send_to_peers
    from .routed_hub import RoutedHub, publish

    hub = running_hub()
    if settings.REDIS_URL:  # routed to the processes of the audience, this one's included
        await publish(events, hub if isinstance(hub, RoutedHub) else None)
        return
    batch = [event.hub_event for event in events]
    if hub is not None:  # this process's own hub need not wait for the layer
        await hub.take(batch)
        hub.publish(batch)  # to the process's other hubs (other event loops), in the background
    else:
        message = {"type": HUB_MESSAGE_TYPE, "events": batch}
        await send_to_peers(get_channel_layer(), None, message)  # every hub, with retries
