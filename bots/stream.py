"""A bot's resumable event stream (issue 20): every event to a bot carries a cursor, and a bot that
comes back (forward `?since=<cursor>`, a reverse endpoint's `last_cursor`) is sent what it missed,
in order, once, within BOT_EVENT_RETENTION_SECONDS (docs/architecture.md, "The bot event stream").

The cursor is the seq of the change, the one counter that already orders every message change by
commit (chats.seq_counter.take_seqs):
- a message event's cursor is its message change's seq; nothing is written for it (the message
  row is the record), and a replay reads the bot's chats' messages by seq like a client's sync;
- any other event a bot hears (group, friend and request events) is kept here, after the change
  committed, in one short transaction of its own that takes a seq for it and writes a BotEvent row
  per bot of its audience. It reaches the hubs as a `bot.event` with that seq, which the hubs order
  with the message changes (imsuite.events.HUB_EVENTS) and read back after a gap (changes_in_range).
So a bot's stream is a subsequence of the seqs, in the order the hubs hand them out, and a replay
merges the two sources by seq. Persons' sends never touch this module."""

import functools
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chats import selectors as chat_selectors
from chats.seq_counter import take_seqs
from imsuite.app_hooks import Change
from imsuite.events import BOT_EVENT, HUB_EVENTS, DomainEvent, plain

from . import dialects
from .models import BotEvent, BotStreamMark

logger = logging.getLogger(__name__)

MARK_SECONDS = 60.0  # how often runtimers notes the counter (the window's floor moves this finely)
# One replay page of each source (messages, kept events), like a client's sync page.
PAGE = chat_selectors.SYNC_BATCH


@functools.cache
def kept_names() -> frozenset[str]:
    """The events other than message changes that some dialect renders for bots."""
    names = (name for dialect in dialects.DIALECTS.values() for name in dialect.event_names())
    return frozenset(names) - HUB_EVENTS


def record(events: Sequence[DomainEvent]) -> Sequence[DomainEvent]:
    """imsuite.app_hooks.hooks.events_committed: keep, under a seq of their own, the just-committed
    events that bots hear, and give back what to deliver: the events without those bots, and one
    `bot.event` per kept event for its bots. If keeping fails, the events go as they were (the
    bots then get them live without a cursor) and the failure is logged."""
    wanted = [event for event in events if not event.everyone and event.name in kept_names()]
    if not wanted:
        return events
    heard = set().union(*(event.audience for event in wanted))
    bots = set(User.objects.filter(pk__in=heard, is_bot=True).values_list("pk", flat=True))
    kept = [event for event in wanted if event.audience & bots]
    if not kept:
        return events
    try:
        with transaction.atomic():
            first = take_seqs(len(kept))
            rows = [
                BotEvent(bot_id=bot_id, seq=first + i, name=event.name, data=plain(event.data))
                for i, event in enumerate(kept)
                for bot_id in sorted(event.audience & bots)
            ]
            BotEvent.objects.bulk_create(rows)
    except Exception:
        logger.exception("bot events: could not keep %s; sent without a cursor", [e.name for e in kept])
        return events
    seqs = {id(event): first + i for i, event in enumerate(kept)}
    out: list[DomainEvent] = []
    for event in events:
        if id(event) not in seqs:
            out.append(event)
            continue
        people = event.audience - bots
        if people:
            out.append(replace(event, audience=people))
        data = {"seq": seqs[id(event)], "name": event.name, "data": event.data}
        out.append(DomainEvent(name=BOT_EVENT, audience=event.audience & bots, data=data))
    return out


def _kept_changes(rows: Sequence[BotEvent]) -> list[Change]:
    """BotEvent rows (in seq order) as the hub's `bot.event` changes, one per seq with its bots."""
    changes: list[Change] = []
    for row in rows:
        if changes and changes[-1][1]["seq"] == row.seq:
            changes[-1][2].append(row.bot_id)
        else:
            changes.append((BOT_EVENT, {"seq": row.seq, "name": row.name, "data": row.data}, [row.bot_id]))
    return changes


def changes_in_range(after: int, upto: int) -> list[Change]:
    """hooks.changes_in_range: the message changes (chats) and the kept bot events with
    after < seq <= upto, in seq order: what a hub reads after a gap."""
    kept = BotEvent.objects.filter(seq__gt=after, seq__lte=upto).order_by("seq", "bot_id")
    changes = chat_selectors.changes_in_range(after, upto) + _kept_changes(list(kept))
    return sorted(changes, key=lambda change: change[1]["seq"])


def highest_kept_seq() -> int:
    """The highest seq of a kept event (0 if none), from the seq index: the seq counter's repair
    raises the counter to it at least (chats.seq_counter)."""
    return BotEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def floor(now: datetime | None = None) -> int:
    """The retention window's floor: the counter as it stood BOT_EVENT_RETENTION_SECONDS ago (its
    newest mark at least that old), 0 while no mark is that old. A cursor below it may have missed
    events that are no longer kept."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.IMSUITE["BOT_EVENT_RETENTION_SECONDS"])
    mark = BotStreamMark.objects.filter(at__lte=cutoff).order_by("-at").first()
    return mark.seq if mark else 0


def replay_page(
    bot_id: int, since: int, after: int, upto: int
) -> tuple[list[tuple[str, dict[str, Any], int]], int]:
    """One page of a replay from `since`: the bot's events with after < seq <= upto as
    (name, data, cursor), in seq order, and the `after` of the next page (upto: the last page).
    Messages are in their latest state, like a client's sync: one created after `since` is
    message.new (a recalled one: message.delete), an older one changed since is message.edit."""
    messages = chat_selectors.changes_since(bot_id, after, upto, since, profiles=True)
    kept = list(BotEvent.objects.filter(bot_id=bot_id, seq__gt=after, seq__lte=upto).order_by("seq")[:PAGE])
    reached = upto  # a full page of either source ends the page where it ends
    if len(messages) == PAGE:
        reached = min(reached, messages[-1][1]["seq"])
    if len(kept) == PAGE:
        reached = min(reached, kept[-1].seq)
    page = [(name, data, data["seq"]) for name, data in messages]
    page += [(row.name, row.data, row.seq) for row in kept]
    return sorted((item for item in page if item[2] <= reached), key=lambda item: item[2]), reached


def stream_start() -> tuple[int, int]:
    """(the counter now, the window's floor): a replay goes up to the one, from no lower than the
    other. Every seq up to the counter is committed (seq order is commit order)."""
    return chat_selectors.current_seq(), floor()


class Marks:
    """runtimers' part: every MARK_SECONDS note the counter, and drop the kept events and marks
    below the window's floor."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def run_if_due(self, now: datetime | None = None) -> int:
        """Returns how many kept events were removed."""
        now = now or timezone.now()
        if self.last is not None and (now - self.last).total_seconds() < MARK_SECONDS:
            return 0
        self.last = now
        return marks_round(now)


def marks_round(now: datetime) -> int:
    """One round: a mark of the counter now; kept events at or below the floor removed; marks
    older than the floor's own removed (it stays, as the floor)."""
    BotStreamMark.objects.create(at=now, seq=chat_selectors.current_seq())
    cutoff = now - timedelta(seconds=settings.IMSUITE["BOT_EVENT_RETENTION_SECONDS"])
    floor_mark = BotStreamMark.objects.filter(at__lte=cutoff).order_by("-at").first()
    if floor_mark is None:
        return 0
    BotStreamMark.objects.filter(at__lt=floor_mark.at).delete()
    removed, _ = BotEvent.objects.filter(seq__lte=floor_mark.seq).delete()
    return removed
