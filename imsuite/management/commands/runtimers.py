"""The process that makes timed things happen: mutes end when their time is up (announced like a
lift), unanswered calls time out, calls a party left end after the grace period, media retention
removes the files its rules say are due (media.retention, at most once a minute), and the pusher
tells the devices of people who are not connected about new messages (push.pusher), and new
messages go into the search index (chats.search_index, PostgreSQL), and bots' event stream
notes the seq counter and drops kept events past BOT_EVENT_RETENTION_SECONDS (bots.stream, at
most once a minute), due account deletions are carried out and data exports built
(lifecycle), and link previews are fetched for new and edited messages (previews.worker). Several
copies may run: each ending is claimed under a row lock or by deleting its row, so it is announced
once (two copies' retention rounds may meet at a file: removing a removed file is no error).
`make run` (inside `manage.py serve`) and docker-compose start it next to daphne."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from bots.stream import Marks
from calls.services import calls_expire
from chats import search_index
from groups.services import mutes_expire
from lifecycle.deletion import deletions_due
from lifecycle.export import exports_build
from media.retention import Retention
from previews.worker import PREVIEWER
from push.pusher import PUSHER

logger = logging.getLogger(__name__)
TICK_SECONDS = 1.0
RETENTION = Retention()  # this process's retention schedule
BOT_STREAM = Marks()  # this process's schedule of bots' stream marks


def run_due() -> int:
    """Carry out everything due now; returns how many mutes and calls ended (retention logs its own)."""
    ended = mutes_expire() + calls_expire()
    try:
        RETENTION.run_if_due()
    except Exception:  # the mutes and calls above ended all the same (and are counted)
        logger.exception("media retention: a round failed; trying again in a minute")
    try:
        search_index.catch_up()
    except Exception:  # searches read what is not indexed yet directly: slower, still complete
        logger.exception("search index: a round failed; trying again")
    try:
        BOT_STREAM.run_if_due()
    except Exception:  # the window's floor lags a minute more; bots' events are kept meanwhile
        logger.exception("bot event stream: a round failed; trying again in a minute")
    for name, job in (("account deletion", deletions_due), ("data export", exports_build)):
        try:
            job()
        except Exception:  # the job's rows wait for the next tick
            logger.exception("%s: a round failed; trying again", name)
    try:
        PUSHER.tick()
    except Exception:  # pushes wait for the next tick; nothing else does
        logger.exception("push: a round failed; trying again")
    return ended


class Command(BaseCommand):
    help = (
        "Run timed jobs (mute expiry, call timeouts, media retention, pushes, the search index)"
        " every second, until stopped."
    )

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
            PREVIEWER.tick()  # in its own thread, beside the rounds above; logs its own failures
            if once:
                PUSHER.drain(settings.IMSUITE["PUSH_TIMEOUT_SECONDS"])  # its pushes finish too
                PREVIEWER.drain(settings.IMSUITE["LINK_PREVIEW_TIMEOUT_SECONDS"] * 4)
                return
            time.sleep(TICK_SECONDS)
