"""imsuite.db_outage: which database errors mean "unreachable", the one warning per outage, the
fail-fast window, and the REST adapter's 503 with Retry-After."""

import logging
import sqlite3

import psycopg
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from psycopg_pool import PoolTimeout

from bots.protocol import response
from imsuite import db_outage
from imsuite.api_errors import exception_handler
from tests.outage import FAIL_FAST_SECONDS, outage, refused  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("outage")


def wrapped(cause: Exception) -> OperationalError:
    """A driver error as Django raises it: wrapped, the driver's error as its cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        refused(),
        wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")),
        wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
        wrapped(psycopg.errors.ConnectionFailure("connection failure")),
        wrapped(PoolTimeout("couldn't get a connection after 3.00 sec")),
        InterfaceError("connection already closed"),
        db_outage.ServiceUnavailable(1),
    ],
    ids=repr,
)
def test_a_lost_server_is_unavailability(error: Exception) -> None:
    assert db_outage.is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
        wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        wrapped(sqlite3.OperationalError("database is locked")),
        OperationalError("no cause"),
        IntegrityError("duplicate key"),
        ValueError("not a database error"),
    ],
    ids=repr,
)
def test_an_answer_of_a_working_server_is_not(error: Exception) -> None:
    assert not db_outage.is_unavailable(error)


def test_an_outage_is_one_warning_per_kind_and_its_end_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=db_outage.__name__)
    for _ in range(3):
        db_outage.failed(refused())
        db_outage.failed(wrapped(PoolTimeout("couldn't get a connection after 3.00 sec")))
    db_outage.succeeded()
    db_outage.succeeded()
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        (
            "WARNING",
            'database unavailable (OperationalError: connection to server at "127.0.0.1", port 1 failed):'
            " answering SERVICE_UNAVAILABLE",
            None,
        ),
        (
            "WARNING",
            "database unavailable (PoolTimeout: couldn't get a connection after 3.00 sec):"
            " answering SERVICE_UNAVAILABLE",
            None,
        ),
        ("WARNING", "database available again", None),
    ]


def test_a_failure_is_answered_with_a_retry_hint_and_queued_work_fails_at_once() -> None:
    db_outage.fail_fast()  # nothing failed yet: nothing refused
    refusal = db_outage.failed(refused())
    assert refusal.as_dict() == {
        "error_code": "SERVICE_UNAVAILABLE",
        "message": "The service is briefly unavailable; try again shortly.",
        "details": {"retry_after": FAIL_FAST_SECONDS},
    }
    with pytest.raises(db_outage.ServiceUnavailable) as raised:
        db_outage.fail_fast()
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    assert FAIL_FAST_SECONDS - 1 <= raised.value.retry_after <= FAIL_FAST_SECONDS  # what is left, rounded up


def test_no_window_without_a_fail_fast_period(settings) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "DB_FAIL_FAST_SECONDS": 0}
    assert db_outage.failed(refused()).retry_after == 1  # the hint is never below a second
    db_outage.fail_fast()


@pytest.mark.parametrize("error", [refused(), db_outage.ServiceUnavailable(FAIL_FAST_SECONDS)], ids=repr)
def test_rest_answers_503_with_retry_after(error: Exception) -> None:
    answer = exception_handler(error, {"view": None})
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, str(FAIL_FAST_SECONDS))
    assert answer.data == {
        "error_code": "SERVICE_UNAVAILABLE",
        "message": "The service is briefly unavailable; try again shortly.",
        "details": {"retry_after": FAIL_FAST_SECONDS},
    }


def test_a_bot_gets_retcode_1503() -> None:
    assert response(error=db_outage.ServiceUnavailable(1), echo="e1") == (
        '{"status":"failed","retcode":1503,"data":null,'
        '"message":"The service is briefly unavailable; try again shortly.","echo":"e1"}'
    )


@pytest.mark.parametrize(("status", "logged"), [(503, False), (500, True)])
def test_django_request_logs_no_line_per_503(status: int, logged: bool) -> None:
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Service Unavailable", (), None)
    record.status_code = status
    assert bool(logging.getLogger("django.request").filter(record)) is logged
