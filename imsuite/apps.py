from django.apps import AppConfig


class ImsuiteConfig(AppConfig):
    name = "imsuite"
    verbose_name = "IM-Suite"

    def ready(self) -> None:
        from . import security_headers  # noqa: F401  (registers its system check)
