"""Message search off the send path (PostgreSQL): the trigram index moves from chats_message,
where every send updated it, to chats_messagetext, which the timers process fills after the sends
(chats.search_index). Existing messages are indexed by runtimers in batches from the first tick;
until then searches read them through the unindexed tail, as they read the newest messages.
SQLite keeps its FTS5 table (migration 0007): the tables made here stay empty there."""

import django.db.models.deletion
from django.db import migrations, models

from chats import search_index


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search_index.PG_CREATE)
        schema_editor.execute(search_index.PG_STATISTICS)
        schema_editor.execute(search_index.PG_DROP_ON_MESSAGES)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search_index.PG_CREATE_ON_MESSAGES)
        schema_editor.execute(search_index.PG_STATISTICS_ON_MESSAGES)


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ('chats', '0007_message_search'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageText',
            fields=[
                ('message', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='chats.message')),
                ('chat_id', models.BigIntegerField()),
                ('sender_id', models.BigIntegerField(null=True)),
                ('content', models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name='SearchState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(default=0)),
                ('message_id', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
