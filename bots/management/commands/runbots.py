"""Reverse-mode bot connections (bots/bridge.py), until stopped. Needs Redis (REDIS_URL) to
receive events from the daphne processes; `manage.py serve` runs the same bridge inside the server
process for the embedded mode.

On SIGTERM or SIGINT it stops gracefully: each bot backend's connection is closed with 1001 (going
away; the backend's next connection resumes from its stored cursor), then the hub removes its
routes, so no event is routed to a process that is gone."""

import asyncio
import signal

from django.core.management.base import BaseCommand

from bots.bridge import supervise
from imsuite.hub import stop_hub


async def run_until_stopped() -> None:
    """supervise() until a stop signal, then the hub's own stop."""
    running = asyncio.ensure_future(supervise())
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, running.cancel)
    try:
        await running
    except asyncio.CancelledError:
        pass
    finally:
        await stop_hub()


class Command(BaseCommand):
    help = "Connect to every registered reverse bot endpoint and keep the connections up."

    def handle(self, *args: object, **options: object) -> None:
        asyncio.run(run_until_stopped())
