"""A send batch's rows: the chats' last activity, a block of seqs, and the messages.

On PostgreSQL the three are one statement (data-modifying WITH queries). A batch with nothing else
to write (no files, no mentions) is then stored in one round trip, autocommitted, instead of five
(BEGIN, the chats' touch, the counter, the insert, COMMIT): each round trip of a database thread is
also a wait for the GIL, which the busy event loop holds for up to the switch interval, and those
waits were most of a send batch's fixed cost (docs/performance.md, step 39).
"""

from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from imsuite import sql

from .models import Chat, Message, SeqCounter
from .seq_counter import counter_checked, counter_create, take_seqs

# The inserted columns given per message, with their PostgreSQL types (the seqs are the counter's).
_INSERTED = (
    ("chat_id", "bigint"),
    ("sender_id", "bigint"),
    ("content", "text"),
    ("message_type", "text"),
    ("reply_to_id", "bigint"),
    ("client_msg_id", "text"),
    ("attachments", "jsonb"),
    ("mentions", "jsonb"),
    ("forwarded_from", "jsonb"),
)
_JSON = frozenset(name for name, kind in _INSERTED if kind == "jsonb")


def store_rows(messages: list[Message], chat_ids: list[int]) -> None:
    """Move the chats' last activity to the messages' created_at (one moment for the batch), take
    their seqs, and insert them, giving each its seq and id. The chats' rows are locked first, in
    id order, so that two batches cannot deadlock; the counter last, so that it stays locked only
    until the commit, which makes seq order the commit order."""
    if not sql.on_postgresql():
        Chat.objects.filter(pk__in=chat_ids).update(last_message_at=messages[0].created_at)
        first = take_seqs(len(messages))
        for offset, message in enumerate(messages):
            message.seq = message.created_seq = first + offset
        Message.objects.bulk_create(messages)
        return
    counter_checked()
    rows = _write(messages, chat_ids)
    if not rows:  # no counter row (a fresh or flushed database): nothing was inserted
        counter_create()
        rows = _write(messages, chat_ids)
    first = min(rows)
    alias = connection.alias  # read once: each read of `connection` looks up the thread's connection
    for offset, message in enumerate(messages):  # as bulk_create leaves them: saved rows of this database
        message.seq = message.created_seq = first + offset
        message.pk = rows[message.seq]
        message._state.adding, message._state.db = False, alias


def _write(messages: list[Message], chat_ids: list[int]) -> dict[int, int]:
    """The one statement; {seq: id} of the rows inserted. The counter's update waits for the chats'
    (its condition reads them), and the insert numbers its rows from the counter's new value. The
    column arrays' values go as they are: bulk_create prepared every value of every row through
    its model field, half of a 300-message batch's time (docs/performance.md)."""
    chat, counter, message = Chat._meta.db_table, SeqCounter._meta.db_table, Message._meta.db_table
    columns = ", ".join(name for name, _ in _INSERTED)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _INSERTED)
    values = ", ".join(f"r.{name}" for name, _ in _INSERTED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH touched AS (UPDATE {chat} SET last_message_at = %s WHERE id IN"  # noqa: S608  (our own tables)
            f" (SELECT id FROM {chat} WHERE id = ANY(%s) ORDER BY id FOR UPDATE) RETURNING 1),"
            f" counter AS (UPDATE {counter} SET value = value + %s"
            " WHERE id = 1 AND (SELECT count(*) FROM touched) >= 0 RETURNING value - %s AS base)"
            f" INSERT INTO {message} ({columns}, seq, created_seq, created_at, is_edited)"
            f" SELECT {values}, counter.base + r.n, counter.base + r.n, %s, false"
            f" FROM counter, unnest({arrays}) WITH ORDINALITY AS r({columns}, n) RETURNING seq, id",
            [
                messages[0].created_at,
                chat_ids,
                len(messages),
                len(messages),
                messages[0].created_at,
                *([_column(m, name) for m in messages] for name, _ in _INSERTED),
            ],
        )
        return dict(cursor.fetchall())


def _column(message: Message, name: str) -> Any:
    value = getattr(message, name)
    return Jsonb(value) if name in _JSON and value is not None else value
