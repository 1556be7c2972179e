"""The process that makes timed things happen: mutes end when their time is up (announced like a
lift), unanswered calls time out, calls a party left end after the grace period, and media
retention removes the files its rules say are due (media.retention, at most once a minute). Several
copies may run: each ending is claimed under a row lock or by deleting its row, so it is announced
once (two copies' retention rounds may meet at a file: removing a removed file is no error).
`make run` (inside `manage.py serve`) and docker-compose start it next to daphne."""

import logging
import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from calls.services import calls_expire
from groups.services import mutes_expire
from media.retention import Retention

logger = logging.getLogger(__name__)
TICK_SECONDS = 1.0
RETENTION = Retention()  # this process's retention schedule


def run_due() -> int:
    """Carry out everything due now; returns how many mutes and calls ended (retention logs its own)."""
    ended = mutes_expire() + calls_expire()
    try:
        RETENTION.run_if_due()
    except Exception:  # the mutes and calls above ended all the same (and are counted)
        logger.exception("media retention: a round failed; trying again in a minute")
    return ended


class Command(BaseCommand):
    help = "Run timed jobs (mute expiry, call timeouts, media retention) every second, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run what is due once and exit.")

    def handle(self, *args: object, once: bool = False, **options: object) -> None:
        while True:
            close_old_connections()
            try:
                ended = run_due()
                if ended:
                    logger.info("timers: %d ended", ended)
            except Exception:
                logger.exception("timers: a round failed; trying again")
            if once:
                return
            time.sleep(TICK_SECONDS)
