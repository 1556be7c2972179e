from django.apps import AppConfig


class SsoConfig(AppConfig):
    """Single sign-on with an OpenID provider (docs/architecture.md, "Single sign-on")."""

    name = "sso"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"
