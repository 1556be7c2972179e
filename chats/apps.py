from django.apps import AppConfig


class ChatsConfig(AppConfig):
    name = "chats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Hand the realtime core the reads it needs (it may not import the apps); keep the SQLite
        search index's triggers after every migrate."""
        from django.db.models.signals import post_migrate

        from imsuite.app_hooks import hooks

        from . import search_index, selectors
        from .seq_counter import seq_counter_repair

        hooks.current_seq = selectors.current_seq
        hooks.changes_in_range = selectors.changes_in_range
        hooks.seq_counter_repair = seq_counter_repair
        post_migrate.connect(search_index.after_migrate, sender=self)
