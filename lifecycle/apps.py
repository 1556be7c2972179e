from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Signing in during the grace period cancels a requested deletion, whichever door the
        sign-in came through (accounts.sessions.start_session sends session_started)."""
        from accounts.sessions import session_started

        from .deletion import deletion_cancel_on_sign_in

        session_started.connect(deletion_cancel_on_sign_in, dispatch_uid="lifecycle-deletion-cancel")
