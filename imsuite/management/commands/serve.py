"""Everything IM-Suite runs, in one process: daphne serving HTTP and WebSockets, the reverse bot
bridge (as `runbots`) and the timers (as `runtimers`). This is what `make run` starts; it works in
the embedded mode too, where the in-memory channel layer cannot be shared between processes.
Larger deployments run daphne, runbots and runtimers as separate processes (docker-compose.yml)."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)


async def timers_forever() -> None:
    from previews.worker import PREVIEWER

    from .runtimers import TICK_SECONDS, run_due

    while True:
        try:
            await sync_to_async(run_due, thread_sensitive=False)()
        except Exception:
            logger.exception("timers: a round failed; trying again")
        PREVIEWER.tick()  # link previews, in a thread of their own (as in runtimers)
        await asyncio.sleep(TICK_SECONDS)


class Command(BaseCommand):
    help = "Serve IM-Suite with daphne, plus the reverse bot bridge and the timers, in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="0.0.0.0")  # noqa: S104  a server listens on all interfaces by default
        parser.add_argument("--port", default="8080")

    def handle(self, *args: object, host: str, port: str, **options: object) -> None:
        from daphne.cli import CommandLineInterface
        from daphne.server import twisted_loop  # installs daphne's asyncio reactor first
        from twisted.internet import reactor

        from bots.bridge import supervise

        def start_background() -> None:
            twisted_loop.create_task(supervise())
            twisted_loop.create_task(timers_forever())

        reactor.callWhenRunning(start_background)
        # No --proxy-headers: daphne would believe them from anyone (see imsuite/proxy_headers.py).
        CommandLineInterface().run(["-b", host, "-p", str(port), "imsuite.asgi:application"])
