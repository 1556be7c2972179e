"""The database is unreachable: told apart from a bug, answered SERVICE_UNAVAILABLE, logged once.

PostgreSQL going away is an expected event, not an internal error: the adapters answer it with
SERVICE_UNAVAILABLE and a retry hint (REST: 503 and Retry-After; WebSocket: the error frame, and
close 1013 for a connection that cannot be set up; bots: retcode 1503), and the log gets one
warning line per kind of failure for the whole outage instead of a traceback per request.

After a failure, work that would queue behind the database (the send queue's batches, connection
set-ups) fails at once for DB_FAIL_FAST_SECONDS: without that, each queued batch waited out the
pool's timeout in turn and a send waited 19 s for its answer.
"""

import logging
import math
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError

from .errors import DomainError, ErrorCode

logger = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": a connection refused while the database is away
# SQLSTATE classes of a lost server: 08 connection exception, 57P operator intervention (shutdown,
# crash shutdown, cannot connect now). 57014 (query cancelled) and 40xxx (deadlock, serialization)
# are answers of a working server, not an outage.
_LOST_SERVER_SQLSTATES = ("08", "57P")


class ServiceUnavailable(DomainError):
    """The database cannot be reached; the client should try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The service is briefly unavailable; try again shortly.",
            {"retry_after": retry_after},
        )

    @property
    def retry_after(self) -> int:
        return self.details["retry_after"]


def is_unavailable(exc: BaseException) -> bool:
    """True for a database error that means the server is unreachable (connection refused or lost,
    the pool's wait for a connection timed out), False for anything else (including SQL errors)."""
    if isinstance(exc, ServiceUnavailable | InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if type(cause).__module__.split(".")[0] not in ("psycopg", "psycopg_pool"):
        return False  # e.g. SQLite's "database is locked": the file is there, the writer is busy
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_LOST_SERVER_SQLSTATES)


class _Outage:
    """This process's view of the database: when it last failed, and what has been logged."""

    def __init__(self) -> None:
        self.fail_fast_until = 0.0  # time.monotonic() before which queued work fails at once
        self.reported: set[str] = set()  # failure kinds logged since the database was last seen up


_outage = _Outage()


def _window() -> float:
    return settings.IMSUITE["DB_FAIL_FAST_SECONDS"]


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def failed(exc: BaseException) -> ServiceUnavailable:
    """Note an unavailability error (is_unavailable) and return the refusal to answer it with. The
    first failure of each kind in an outage is logged as one warning line, without a traceback."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    _outage.fail_fast_until = time.monotonic() + _window()
    cause = exc.__cause__ or exc
    kind = type(cause).__name__
    if kind not in _outage.reported:
        _outage.reported.add(kind)
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else kind
        logger.warning("database unavailable (%s: %s): answering SERVICE_UNAVAILABLE", kind, reason)
    return ServiceUnavailable(_retry_after(_window()))


def succeeded() -> None:
    """The database answered: the outage, if there was one, is over."""
    if _outage.reported:
        _outage.reported.clear()
        logger.warning("database available again")


class OutageAnswers(logging.Filter):
    """Drops django.request's error line for each 503 answer: failed() has logged the outage once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 503


def fail_fast() -> None:
    """Raise ServiceUnavailable at once while a failure is fresh, instead of queueing for the
    database: the work that comes after a failure would only wait out the pool's timeout too."""
    left = _outage.fail_fast_until - time.monotonic()
    if left > 0:
        raise ServiceUnavailable(_retry_after(left))
