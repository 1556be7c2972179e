"""Message search (issue 19): an index that finds substrings, Chinese, Japanese and Korean included.

PostgreSQL: pg_trgm and a GIN trigram index on lower(content), built CONCURRENTLY (the migration
is not atomic) so that sending goes on while an existing history is indexed. pg_trgm is a trusted
extension (PostgreSQL 13+): the database owner may create it; otherwise a superuser runs
`CREATE EXTENSION pg_trgm` in the database once before migrating.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34+) over the messages' content
(external content: the text is kept once, in chats_message), kept in step by triggers.
chats.search_index re-creates the triggers after every migrate if a later migration remade the
table (Django's SQLite schema editor copies a table to change it and drops its triggers).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from chats import search_index


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search_index.PG_CREATE_ON_MESSAGES)
        schema_editor.execute(search_index.PG_STATISTICS_ON_MESSAGES)
    elif schema_editor.connection.vendor == "sqlite":
        search_index.sqlite_create(schema_editor.connection)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search_index.PG_DROP_ON_MESSAGES)
    elif schema_editor.connection.vendor == "sqlite":
        search_index.sqlite_drop(schema_editor.connection)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("chats", "0006_chatmember_notify_chatmember_notify_until_and_more"),
    ]

    operations = [
        TrigramExtension(),  # PostgreSQL only (a no-op elsewhere)
        migrations.RunPython(forwards, backwards),
    ]
