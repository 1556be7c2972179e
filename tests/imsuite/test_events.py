"""Domain events: delivered after commit, to their audience only, as plain JSON data."""

import logging
from datetime import UTC, datetime

import pytest
from django.db import transaction

from imsuite import events
from imsuite.events import publish

pytestmark = pytest.mark.django_db


DATA = {"at": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "ids": [1, 2], "note": None}
WIRE = {
    "type": "domain.event",
    "event": "test.happened",
    "data": {"at": "2024-01-02T03:04:05.678901Z", "ids": [1, 2], "note": None},
}


class Boom(Exception):
    pass


def test_rolled_back_transaction_delivers_nothing(alice, inbox, django_capture_on_commit_callbacks):
    inbox.listen(alice)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        publish("test.happened", {alice.pk}, DATA)
        raise Boom
    assert callbacks == []
    assert inbox.drain(alice) == []


def test_delivered_once_after_commit_to_the_audience_only(
    alice, bob, carol, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice, bob, carol)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            event = publish("test.happened", [alice.pk, bob.pk, alice.pk], DATA)
        assert inbox.drain(alice, wait=0.05) == []
    assert len(callbacks) == 1
    assert event.audience == frozenset({alice.pk, bob.pk})
    assert event.data is DATA
    assert inbox.drain(alice) == [WIRE]
    assert inbox.drain(bob) == [WIRE]
    assert inbox.drain(carol) == []


def test_delivery_failure_is_logged_not_raised(
    alice, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    async def broken(*args):
        raise ConnectionError("layer down")

    monkeypatch.setattr(events, "_send_all", broken)
    with (
        caplog.at_level(logging.ERROR, logger="imsuite.events"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        publish("test.happened", {alice.pk}, DATA)
    assert [r.getMessage() for r in caplog.records] == ["could not deliver 1 events (test.happened)"]
