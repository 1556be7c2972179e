from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Bots' resumable event stream (bots.stream): events bots hear are kept with a seq once
        committed, and a hub's gap fill reads them with the message changes. Runs after chats'
        ready (INSTALLED_APPS order), whose changes_in_range it includes."""
        from imsuite.app_hooks import hooks

        from . import stream

        hooks.events_committed = stream.record
        hooks.changes_in_range = stream.changes_in_range
        hooks.highest_other_seq = stream.highest_kept_seq
