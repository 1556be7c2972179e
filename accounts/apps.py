from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Hand the realtime core's watchdog the lease renewal (it may not import the apps)."""
        from imsuite.app_hooks import hooks

        from . import services

        hooks.connections_renewed = services.connections_renewed
