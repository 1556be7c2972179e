"""A database outage as this process sees it (imsuite.db_outage), for tests that run in-process:
a fresh view per test, and the failure db() notes when a call finds PostgreSQL gone."""

import psycopg
import pytest
from django.db import OperationalError

from imsuite import db_outage

FAIL_FAST_SECONDS = 60  # long enough that a failure a test notes is still fresh when its frames arrive


def refused() -> OperationalError:
    """A refused connection as Django raises it: wrapped, the driver's error as its cause."""
    cause = psycopg.OperationalError('connection to server at "127.0.0.1", port 1 failed')
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


def database_failed() -> None:
    """What db() notes when a call finds the database gone: the fail-fast window opens."""
    db_outage.failed(refused())


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch, settings) -> db_outage._Outage:
    """This process's view of the database, fresh for the test (no window outlives it)."""
    settings.IMSUITE = {**settings.IMSUITE, "DB_FAIL_FAST_SECONDS": FAIL_FAST_SECONDS}
    state = db_outage._Outage()
    monkeypatch.setattr(db_outage, "_outage", state)
    return state


@pytest.fixture
def hub_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process started while the database is away: its hub's first read of the seq counter fails
    (it keeps trying), and connections wait for it only briefly."""

    def counter_unreadable() -> int:
        raise db_outage.ServiceUnavailable(retry_after=1)

    monkeypatch.setattr("imsuite.hub._current_seq", counter_unreadable)
    monkeypatch.setattr("imsuite.hub.HUB_START_WAIT_SECONDS", 0.2)
