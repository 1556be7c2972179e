"""The process's watchdog (imsuite.watchdog): one timer for every connection's deadlines, with the
presence renewals that fall due together sent to the real presence store of this leg as one batch."""

import asyncio
import time
from typing import Any

import pytest

from accounts import presence
from imsuite.watchdog import Watchdog

pytestmark = pytest.mark.usefixtures("fresh_state")


class Connection:
    """What the watchdog sees of a client connection; records how it was ended."""

    def __init__(self, user_id: int, name: str, expires_in: float = 3600.0) -> None:
        self.user_id, self.name = user_id, name
        self.last_activity = time.monotonic()
        self.expires = time.time() + expires_in
        self.ended: list[tuple[str, int]] = []

    def lease(self) -> tuple[int, str]:
        return self.user_id, self.name

    async def end(self, reason: str, code: int) -> None:
        self.ended.append((reason, code))


@pytest.fixture
def timings(settings) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3, "WS_IDLE_SECONDS": 0.5}


@pytest.fixture
def batches(monkeypatch) -> list[list[tuple[int, str]]]:
    """Every batch handed to the presence store's renew_many, which still does its work."""
    store, seen = presence.registry(), []
    renew_many = store.renew_many

    def recorded(leases: Any) -> None:
        seen.append(sorted(leases))
        renew_many(leases)

    monkeypatch.setattr(store, "renew_many", recorded)
    return seen


async def test_due_renewals_go_to_the_store_as_one_batch(settings, batches):
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3, "WS_IDLE_SECONDS": 60}
    store = presence.registry()
    connections = [Connection(8001, "a"), Connection(8002, "b"), Connection(8003, "c")]
    for connection in connections:
        assert store.renew(*connection.lease()) is False
    dog = Watchdog()
    keys = [dog.watch(connection) for connection in connections]
    dog.forget(keys[2])  # closed: its lease is not renewed
    await asyncio.sleep(1.3)  # one renewal is due after a third of the lease's 3 s
    assert batches == [[(8001, "a"), (8002, "b")]]
    await asyncio.sleep(2.0)  # 3.3 s after the leases were taken, only the renewed ones live
    assert store.online([8001, 8002, 8003]) == {8001, 8002}
    assert [connection.ended for connection in connections] == [[], [], []]


async def test_a_renewal_never_brings_back_a_dropped_lease(settings):
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3}
    store = presence.registry()
    store.renew(8011, "phone")
    assert store.drop(8011, "phone") is False
    store.renew_many([(8011, "phone")])  # a renewal that was on its way when the connection closed
    assert store.online([8011]) == set()


async def test_silence_and_token_expiry_end_connections(timings, batches):
    silent, expiring, talking = Connection(1, "s"), Connection(2, "e", expires_in=0.2), Connection(3, "t")
    dog = Watchdog()
    for connection in (silent, expiring, talking):
        dog.watch(connection)
    await asyncio.sleep(0.3)
    assert (silent.ended, expiring.ended) == ([], [("token_expired", 1008)])
    talking.last_activity = time.monotonic()  # a frame moves its deadline
    await asyncio.sleep(0.3)
    assert (silent.ended, talking.ended) == ([("timeout", 1000)], [])
    await asyncio.sleep(0.4)
    assert talking.ended == [("timeout", 1000)]
    assert expiring.ended == [("token_expired", 1008)]  # each is ended once
    assert (dog.watched, batches) == ({}, [])


async def test_a_forgotten_connection_is_never_ended(timings):
    connection = Connection(1, "gone")
    dog = Watchdog()
    dog.forget(dog.watch(connection))
    await asyncio.sleep(0.7)
    assert connection.ended == []
