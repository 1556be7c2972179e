from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "twofactor"
    default_auto_field = "django.db.models.BigAutoField"
