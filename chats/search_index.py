"""The message search index's DDL, per database (migration 0007), and its SQLite triggers' upkeep.

PostgreSQL: a GIN pg_trgm index on lower(content); `lower(content) LIKE '%term%'` uses it for any
term with a run of 3 or more letters or digits (pg_trgm makes no trigram of shorter ones).
SQLite: FTS5 with the trigram tokenizer, external content (chats_message), three triggers.
"""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

PG_INDEX = "message_content_trgm"
PG_CREATE = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PG_INDEX}"
    " ON chats_message USING gin (lower(content) gin_trgm_ops)"
)
# The planner chooses between this index (then every match is read, newest first only after a
# sort) and walking the newest messages backwards (stopping at the page's last match) from its
# estimate of how many messages match, which comes from the statistics of lower(content). With
# the default 100-entry histogram a word in 0.03 % of the messages was taken for 0.2 % (a walk
# through 420,000 messages: 156 ms) and one in 1 % for 0.01 % (10,851 rows read: 65 ms);
# 1,000 entries (ANALYZE samples 300,000 rows) chose right for both (docs/performance.md).
PG_STATISTICS = f"ALTER INDEX {PG_INDEX} ALTER COLUMN 1 SET STATISTICS 1000"
PG_DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {PG_INDEX}"

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
