"""The process's watchdog (imsuite.watchdog): one timer for every connection's deadlines, with the
presence renewals that fall due together sent to the real presence store of this leg as one batch."""

import asyncio
import threading
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

    def credentials(self) -> tuple[int, str, None]:
        return self.user_id, f"sid-{self.name}", None

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


def wipe(store: Any) -> None:
    """What a Redis restart does to the leases (the embedded store loses its own the same way)."""
    if isinstance(store, presence.RedisPresence):
        keys = list(store._redis.scan_iter(match=f"{store._prefix}*"))
        if keys:
            store._redis.delete(*keys)
    else:
        store._leases.clear()


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    """Poll (bounded) until condition() holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def test_a_renewal_recreates_the_wiped_lease_of_a_live_connection(settings, batches):
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3, "WS_IDLE_SECONDS": 60}
    store = presence.registry()
    live, closed = Connection(8021, "live"), Connection(8022, "closed")
    for connection in (live, closed):
        store.renew(*connection.lease())
    dog = Watchdog()
    dog.watch(live)
    await dog.release(dog.watch(closed))
    assert store.drop(*closed.lease()) is False
    wipe(store)
    assert store.online([8021, 8022]) == set()
    await wait_for(lambda: batches)  # the first renewal, a third of the lease after watch
    assert batches == [[(8021, "live")]]
    assert store.online([8021, 8022]) == {8021}


async def test_a_close_waits_for_a_renewal_on_its_way_so_the_lease_stays_dropped(settings, monkeypatch):
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3, "WS_IDLE_SECONDS": 60}
    store = presence.registry()
    started, go_on = threading.Event(), threading.Event()
    renew_many = store.renew_many

    def slow(leases: Any) -> None:
        started.set()
        assert go_on.wait(10)
        renew_many(leases)

    monkeypatch.setattr(store, "renew_many", slow)
    connection = Connection(8031, "phone")
    store.renew(*connection.lease())
    dog = Watchdog()
    key = dog.watch(connection)
    await wait_for(started.is_set)  # the renewal is in the database thread, not yet in the store
    closing = asyncio.ensure_future(dog.release(key))
    await asyncio.sleep(0.1)
    assert not closing.done()  # the close waits for it ...
    go_on.set()
    await asyncio.wait_for(closing, 5)
    assert store.drop(*connection.lease()) is False  # ... so the drop comes last and stays
    assert store.online([8031]) == set()


async def test_connections_that_lost_their_right_are_closed(settings):
    settings.IMSUITE = {**settings.IMSUITE, "RIGHTS_CHECK_SECONDS": 0.1, "WS_IDLE_SECONDS": 60}
    asked: list[list[tuple]] = []

    def rights_check(credentials: Any) -> list[str | None]:
        asked.append(list(credentials))
        return ["deactivated" if user_id == 2 else None for user_id, _, _ in credentials]

    keeps, loses = Connection(1, "k"), Connection(2, "l")
    dog = Watchdog(rights_check=rights_check)
    dog.watch(keeps)
    dog.watch(loses)
    await wait_for(lambda: loses.ended)
    assert loses.ended == [("deactivated", 1008)]
    assert asked[0] == [(1, "sid-k", None), (2, "sid-l", None)]  # one batch for all
    await wait_for(lambda: len(asked) >= 2)
    assert asked[1] == [(1, "sid-k", None)]  # a closed connection is not asked about again
    assert keeps.ended == []


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
