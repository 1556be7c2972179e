"""A chat's last activity is updated in place: no index on it, and room on each page for the new
row version (PostgreSQL's heap-only tuple updates), so the chats table does not bloat between
vacuums under a steady stream of messages."""

from django.db import migrations, models

FILLFACTOR = 50  # percent of a page filled by inserts; the rest is kept for in-place updates


def set_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE chats_chat SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE chats_chat RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0003_message_created_at_default"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chat",
            name="last_message_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
