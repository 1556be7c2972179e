"""Runs previews.services.previews_round for the timers process in a thread of its own: a round
waits on other servers (up to LINK_PREVIEW_TIMEOUT_SECONDS a fetch), and the timers' tick must
not wait with it (mute expiry and call timeouts are due within seconds)."""

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import connections

from .services import previews_round

logger = logging.getLogger(__name__)


def _round() -> int:
    try:
        return previews_round()
    finally:
        connections.close_all()  # the thread's own connection, not left open between rounds


class Previewer:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="link-previews")
        self._running: Future[int] | None = None

    def tick(self) -> None:
        """Start a round unless one is under way."""
        if self._running is not None and not self._running.done():
            return
        if self._running is not None and self._running.exception() is not None:
            logger.error("link previews: a round failed; trying again", exc_info=self._running.exception())
        self._running = self._pool.submit(_round)

    def drain(self, timeout: float) -> None:
        """Wait for the round under way (`runtimers --once`)."""
        if self._running is not None:
            wait([self._running], timeout)


PREVIEWER = Previewer()
