from django.apps import AppConfig


class ImsuiteConfig(AppConfig):
    name = "imsuite"
    verbose_name = "IM-Suite"
