"""Reverse-mode bot connections (bots/bridge.py), until stopped. Needs the shared channel layer
(REDIS_URL) to receive events from the daphne processes; `manage.py serve` runs the same bridge
inside the server process for the embedded mode."""

import asyncio

from django.core.management.base import BaseCommand

from bots.bridge import supervise


class Command(BaseCommand):
    help = "Connect to every registered reverse bot endpoint and keep the connections up."

    def handle(self, *args: object, **options: object) -> None:
        asyncio.run(supervise())
