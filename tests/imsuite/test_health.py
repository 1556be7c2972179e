"""GET /api/health in-process: every part named, a failing part answered 503 with one warning line
and no traceback however often it is asked. (An unreachable database and channel layer, on a real
daphne: tests/e2e/test_http.py; PostgreSQL stopped under load: tests/faults.)"""

import logging

import pytest
from rest_framework.test import APIClient

from imsuite import health

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@pytest.fixture(autouse=True)
def nothing_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_failing", set())


def test_all_parts_answer() -> None:
    reply = APIClient().get("/api/health")
    assert (reply.status_code, reply.json()) == (
        200,
        {"status": "ok", "database": "ok", "channel_layer": "ok", "cache": "ok"},
    )


def test_an_unreachable_cache_is_named_and_logged_once(settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.CACHES = CLOSED_REDIS
    caplog.set_level(logging.WARNING, logger=health.__name__)
    for _ in range(2):
        reply = APIClient().get("/api/health")
        assert (reply.status_code, reply.json()) == (
            503,
            {"status": "error", "database": "ok", "channel_layer": "ok", "cache": "error"},
        )
    [line] = [record for record in caplog.records if record.name == health.__name__]
    assert line.getMessage().startswith("health: cache check failed (ConnectionError: ")
    assert line.exc_info is None


def test_a_part_that_answers_again_is_logged_anew_when_it_fails_again(
    settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failing spell gets its one line: answering once ends the spell (the database's too)."""
    caplog.set_level(logging.WARNING, logger=health.__name__)
    for part, check in (("cache", health.check_cache), ("database", health.check_database)):
        health._failed(part, LookupError("first spell"))
        assert check() is True
        assert part not in health._failing
        health._failed(part, LookupError("second spell"))
    lines = [record.getMessage() for record in caplog.records if record.name == health.__name__]
    assert lines == [
        "health: cache check failed (LookupError: first spell)",
        "health: cache check failed (LookupError: second spell)",
        "health: database check failed (LookupError: first spell)",
        "health: database check failed (LookupError: second spell)",
    ]
