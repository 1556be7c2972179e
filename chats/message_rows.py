"""A send batch's rows: the chats' last activity, a block of seqs, and the messages.

On PostgreSQL the three are one statement (data-modifying WITH queries). A batch with nothing else
to write (no files, no mentions) is then stored in one round trip, autocommitted, instead of five
(BEGIN, the chats' touch, the counter, the insert, COMMIT): each round trip of a database thread is
also a wait for the GIL, which the busy event loop holds for up to the switch interval, and those
waits were most of a send batch's fixed cost (docs/performance.md, step 39).
"""

from typing import Any

import orjson
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models.base import ModelState

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

# Every column's value for a new message but those with a callable default (created_at), which a
# send always gives.
_BLANK = {
    field.attname: field.get_default()
    for field in Message._meta.concrete_fields
    if not (field.has_default() and callable(field.default))
}
_cache_sender = Message.sender.field.set_cached_value


def new_message(sender: AbstractBaseUser, **values: Any) -> Message:
    """An unsaved message of `sender` with these column values (by attname) and the defaults, as
    Message(sender=sender, **values) makes it, in a tenth of its time: Model.__init__ looked up
    each field's default and ran the related descriptors, 20 µs a message, a tenth of a busy
    process's CPU at 4,000 messages/s (docs/performance.md, step 40). Like Django's unpickling, it
    fills the instance's __dict__; Message has no field with a descriptor of its own to run and no
    pre_init or post_init receiver (tests/chats/test_message_rows.py checks both)."""
    message = Message.__new__(Message)
    message.__dict__.update(_BLANK, **values, sender_id=sender.pk)
    message._state = ModelState()
    _cache_sender(message, sender)  # read by the event's sender fields, as with Message(sender=...)
    return message


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
    rows go as one JSON array of arrays, encoded by orjson: psycopg quoted each element of nine
    column arrays in Python, a fifth of a send batch's CPU (docs/performance.md, step 40), and
    bulk_create, before, prepared every value of every row through its model field."""
    chat, counter, message = Chat._meta.db_table, SeqCounter._meta.db_table, Message._meta.db_table
    columns = ", ".join(name for name, _ in _INSERTED)
    values = ", ".join(_from_json(index, kind) for index, (_, kind) in enumerate(_INSERTED))
    rows = [[getattr(m, name) for name, _ in _INSERTED] for m in messages]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH touched AS (UPDATE {chat} SET last_message_at = %s WHERE id IN"  # noqa: S608  (our own tables)
            f" (SELECT id FROM {chat} WHERE id = ANY(%s) ORDER BY id FOR UPDATE) RETURNING 1),"
            f" counter AS (UPDATE {counter} SET value = value + %s"
            " WHERE id = 1 AND (SELECT count(*) FROM touched) >= 0 RETURNING value - %s AS base)"
            f" INSERT INTO {message} ({columns}, seq, created_seq, created_at, is_edited)"
            f" SELECT {values}, counter.base + r.n, counter.base + r.n, %s, false"
            " FROM counter, jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(e, n) RETURNING seq, id",
            [
                messages[0].created_at,
                chat_ids,
                len(messages),
                len(messages),
                messages[0].created_at,
                orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode(),
            ],
        )
        return dict(cursor.fetchall())


def _from_json(index: int, kind: str) -> str:
    """Column `index` of a row's JSON array as `kind` (a JSON null as NULL)."""
    if kind == "jsonb":
        return f"NULLIF(r.e->{index}, 'null')"
    return f"r.e->>{index}" if kind == "text" else f"(r.e->>{index})::{kind}"
