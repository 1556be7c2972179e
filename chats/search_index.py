"""The message search index: its DDL per database (migrations 0007 and 0008), the timers process's
round that fills it on PostgreSQL, and the SQLite triggers' upkeep.

PostgreSQL: chats_messagetext (MessageText) holds a copy of each message's text under a GIN pg_trgm
index on lower(content); `lower(content) LIKE '%term%'` uses it for any term with a run of 3 or
more letters or digits (pg_trgm makes no trigram of shorter ones). The copy is made after the send,
by `catch_up` in the timers process, in the order of the messages' creation seq: the index cost a
send transaction a third more time and doubled the private p99 when it was on chats_message
itself (docs/performance.md). Edits and recalls write the copy in their own transaction (`keep`).
The messages not yet copied (those above SearchState.message_id) are the index's tail: searches
read them directly, so a result never waits for the timers process.
SQLite: FTS5 with the trigram tokenizer, external content (chats_message), three triggers.
"""

import time
from typing import Any

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .models import Message, MessageText, SearchState
from .selectors import current_seq

# Migration 0007's index, on chats_message itself, which migration 0008 replaced.
_OLD_INDEX = "message_content_trgm"
PG_CREATE_ON_MESSAGES = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_OLD_INDEX}"
    " ON chats_message USING gin (lower(content) gin_trgm_ops)"
)
PG_STATISTICS_ON_MESSAGES = f"ALTER INDEX {_OLD_INDEX} ALTER COLUMN 1 SET STATISTICS 1000"
PG_DROP_ON_MESSAGES = f"DROP INDEX CONCURRENTLY IF EXISTS {_OLD_INDEX}"

PG_INDEX = "message_text_trgm"
PG_CREATE = (
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON chats_messagetext USING gin (lower(content) gin_trgm_ops)"
)
# The planner's estimate of how many messages a term matches comes from the statistics of
# lower(content): with the default 100-entry histogram a word in 0.03 % of the messages was taken
# for 0.2 % and one in 1 % for 0.01 %; 1,000 entries (ANALYZE samples 300,000 rows) judged both right.
PG_STATISTICS = f"ALTER INDEX {PG_INDEX} ALTER COLUMN 1 SET STATISTICS 1000"
TEXT_TABLE, STATE_TABLE = MessageText._meta.db_table, SearchState._meta.db_table
# The messages not copied yet: a search adds them to what the index found and tests them itself.
PG_TAIL = (
    "SELECT id FROM chats_message"  # noqa: S608  (our tables)
    f" WHERE id > COALESCE((SELECT message_id FROM {STATE_TABLE} WHERE id = 1), 0)"
)

BATCH = 5000
ROUND_SECONDS = 0.5  # a round copies batches until caught up or this long: a backlog takes turns
_COPY_BATCH = (  # the next batch in id order (which is creation seq order), copied; its count and end
    "WITH batch AS (SELECT id, chat_id, sender_id, content, created_seq, deleted_at, message_type"  # noqa: S608
    " FROM chats_message"
    " WHERE id > %s AND created_seq <= %s ORDER BY id LIMIT %s),"
    f" copied AS (INSERT INTO {TEXT_TABLE} (message_id, chat_id, sender_id, content)"
    "  SELECT id, chat_id, sender_id, content FROM batch"
    "  WHERE deleted_at IS NULL AND message_type <> %s AND content <> ''"
    "  ON CONFLICT (message_id) DO NOTHING)"
    " SELECT count(*), max(id), max(created_seq) FROM batch"
)


def catch_up(seconds: float = ROUND_SECONDS) -> int:
    """PostgreSQL: copy the messages created since the last round into the index, in batches, for at
    most `seconds`; returns how many messages it went past. Every message up to the current seq
    is committed (seq order is commit order), so none is passed over. Several timers processes
    may run: the state row is locked while a batch is copied, and a copy that finds it locked
    leaves the round to the other."""
    if connection.vendor != "postgresql":
        return 0
    passed, deadline = 0, time.monotonic() + seconds
    while True:
        with transaction.atomic():
            state = SearchState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
            if state is None:  # the first round ever (from the first message), or another copy's turn
                SearchState.objects.get_or_create(pk=1)
                return passed
            upto = current_seq()
            if upto <= state.seq:
                return passed
            with connection.cursor() as cursor:
                cursor.execute(_COPY_BATCH, [state.message_id, upto, BATCH, Message.Type.SYSTEM.value])
                count, last_id, last_seq = cursor.fetchone()
            full = count == BATCH
            state.seq = last_seq if full else upto
            state.message_id = last_id or state.message_id
            state.save(update_fields=["seq", "message_id"])
        passed += count
        if not full or time.monotonic() >= deadline:
            return passed


def keep(message: Message) -> None:
    """An edit or a recall: the copy takes the message's new text in the same transaction
    (PostgreSQL), whether or not the timers process copied the message yet."""
    if connection.vendor == "postgresql":
        MessageText.objects.bulk_create(
            [
                MessageText(
                    message_id=message.pk,
                    chat_id=message.chat_id,
                    sender_id=message.sender_id,
                    content=message.content,
                )
            ],
            update_conflicts=True,
            unique_fields=["message"],
            update_fields=["content"],
        )


FTS = "chats_message_fts"
SQLITE_TABLE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5("
    "content, content='chats_message', content_rowid='id', tokenize='trigram')"
)
# the table's name is ours: nothing from outside goes into these statements
_DELETE_OLD = f"INSERT INTO {FTS}({FTS}, rowid, content) VALUES ('delete', old.id, old.content);"  # noqa: S608
_INSERT_NEW = f"INSERT INTO {FTS}(rowid, content) VALUES (new.id, new.content);"  # noqa: S608
SQLITE_TRIGGERS = {
    f"{FTS}_insert": f"AFTER INSERT ON chats_message BEGIN {_INSERT_NEW} END",
    f"{FTS}_delete": f"AFTER DELETE ON chats_message BEGIN {_DELETE_OLD} END",
    f"{FTS}_update": f"AFTER UPDATE OF content ON chats_message BEGIN {_DELETE_OLD} {_INSERT_NEW} END",
}


def sqlite_create(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(SQLITE_TABLE)
    sqlite_ensure_triggers(connection)


def sqlite_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {FTS}")


def sqlite_ensure_triggers(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers that are missing and, if any was, rebuild the index from the messages
    (a migration that remade chats_message dropped them; what was written since is not indexed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [FTS])
        if cursor.fetchone() is None:
            return  # before migration 0007 (or after reversing it)
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [f"{FTS}_%"])
        present = {name for (name,) in cursor.fetchall()}
        missing = [name for name in SQLITE_TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(f"CREATE TRIGGER {name} {SQLITE_TRIGGERS[name]}")
        if missing:
            cursor.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")  # noqa: S608


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: the SQLite index's triggers exist after every migrate."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "sqlite":
        sqlite_ensure_triggers(connection)
