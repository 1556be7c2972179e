"""Keeping the seq counter ahead of every stored seq.

The counter (chats.models.SeqCounter) can end up below seqs already stored and seen: the counter
row restored apart from the messages, a failover to a copy where it lags. New changes would then
reuse seqs that clients already have, and a client drops a seq at or below the last it got, so
they would be lost without a sound. seq_counter_repair raises such a counter to the highest stored
seq: before a process hands out its first seq (take_seqs, counter_checked), when a hub sees the
counter go back (imsuite.hub), and by hand (`manage.py repair_seq`).
"""

import logging

from django.db import connection, transaction
from django.db.models import Max, OuterRef, Subquery

from imsuite.app_hooks import hooks

from .models import Chat, Message, SeqCounter

logger = logging.getLogger(__name__)


def highest_stored_seq() -> int:
    """The highest seq of any stored change (0 if none). Message.seq is the seq of a message's
    latest change (bots.stream keeps events under seqs too: hooks.highest_other_seq). Read chat by
    chat from the (chat, seq) index, one index probe per chat: a plain max(seq) would read the
    whole table, and an index on seq alone would cost every send."""
    top_of_chat = Message.objects.filter(chat=OuterRef("pk")).order_by("-seq").values("seq")[:1]
    highest = Chat.objects.annotate(top=Subquery(top_of_chat)).aggregate(highest=Max("top"))["highest"] or 0
    return max(highest, hooks.highest_other_seq())  # bots' kept events have seqs of the counter too


def seq_counter_repair() -> tuple[int, int] | None:
    """Raise the counter to the highest stored seq if it is below it: (the value it had, the value
    it has now), else None. A missing counter row is left alone: take_seqs creates it from the
    highest stored seq."""
    with transaction.atomic():
        counter = SeqCounter.objects.select_for_update().filter(pk=1).values_list("value", flat=True).first()
        if counter is None:
            return None
        highest = highest_stored_seq()
        if highest <= counter:
            return None
        SeqCounter.objects.filter(pk=1).update(value=highest)
    logger.warning("the seq counter was %s, below the highest stored seq: raised to %s", counter, highest)
    return counter, highest


_counter_repaired = False  # whether this process has checked the counter since it started


def _counter_repaired_now() -> None:
    global _counter_repaired
    _counter_repaired = True


def counter_checked() -> None:
    """Before a process hands out its first seq: raise a counter left below the stored seqs. A
    repair rolled back with its caller's transaction is made again by the next call."""
    if _counter_repaired:
        return
    if seq_counter_repair() is None:
        _counter_repaired_now()
    else:
        transaction.on_commit(_counter_repaired_now)


def counter_create() -> None:
    """A fresh (or flushed) database has no counter row: it starts at the highest stored seq."""
    SeqCounter.objects.get_or_create(pk=1, defaults={"value": highest_stored_seq()})


def take_seqs(count: int) -> int:
    """The first of `count` consecutive change numbers. Call it last in the writing transaction:
    the counter row stays locked until commit, which makes seq order the commit order. (A send
    batch takes its seqs inside its insert statement instead: chats.message_rows.)"""
    counter_checked()
    table = SeqCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET value = value + %s WHERE id = 1 RETURNING value",  # noqa: S608
            [count],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0] - count + 1
    counter_create()
    return take_seqs(count)
