"""The presence store of this test leg (in-process on leg 1, Redis on leg 2): a renewal answers
whether the user already held a live lease, a drop whether one is left: how a connection knows it
is the first or the last."""

from typing import Any

import pytest

from accounts import presence

pytestmark = pytest.mark.usefixtures("fresh_state")


def test_a_renewal_says_whether_another_live_lease_was_there() -> None:
    store = presence.registry()
    assert store.renew(7001, "phone") is False
    assert store.renew(7001, "laptop") is True
    assert store.renew(7002, "phone") is False  # another user's leases are not theirs
    assert store.drop(7001, "phone") is True  # the laptop is still there
    assert store.drop(7001, "laptop") is False
    assert store.online([7001, 7002]) == {7002}
    assert store.renew(7001, "phone") is False


def test_an_expired_lease_does_not_count(settings: Any) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": -1}
    store = presence.registry()
    assert store.renew(7003, "phone") is False
    assert store.online([7003]) == set()
    assert store.renew(7003, "laptop") is False


def test_on_redis_a_renewal_sweeps_expired_leases_and_sets_the_ttl(settings: Any) -> None:
    store = presence.registry()
    if not isinstance(store, presence.RedisPresence):
        pytest.skip("the lease set's TTL and sweeping are Redis's (the embedded leg keeps leases in-process)")
    key = f"{store._prefix}7004"
    store._redis.zadd(key, {"stale": 1.0})  # expired long ago
    assert store.renew(7004, "phone") is False
    assert store._redis.zrange(key, 0, -1) == [b"phone"]
    assert 0 < store._redis.ttl(key) <= settings.IMSUITE["PRESENCE_TTL_SECONDS"]
    assert store.drop(7004, "phone") is False
    assert store._redis.exists(key) == 0  # the last lease gone, the set goes with it


def test_leases_renewed_and_dropped_together_answer_each_in_order() -> None:
    """Connections opening or closing together (chats.connection_queues): a user's second lease in
    the same call finds the first; a user online before the call stays so."""
    store = presence.registry()
    assert store.renew(7005, "phone") is False
    leases = [(7006, "phone"), (7005, "laptop"), (7006, "laptop"), (7007, "phone")]
    assert store.renew_each(leases) == [False, True, True, False]
    assert store.renew_each([]) == []
    assert [store.live(user) for user in (7005, 7006, 7007)] == [
        {"phone", "laptop"},
        {"phone", "laptop"},
        {"phone"},
    ]
    assert store.drop_each([(7006, "phone"), (7005, "phone"), (7006, "laptop")]) == [True, True, False]
    assert [store.live(user) for user in (7005, 7006)] == [{"laptop"}, set()]


def test_on_redis_leases_renewed_together_survive_a_forgotten_script() -> None:
    """Redis restarted (its scripts gone): a renewal or a drop loads its script and answers as before."""
    store = presence.registry()
    if not isinstance(store, presence.RedisPresence):
        pytest.skip("Redis's script cache (the embedded leg keeps leases in-process)")
    store._redis.script_flush()
    assert store.renew_each([(7008, "phone"), (7008, "laptop")]) == [False, True]
    assert store.live(7008) == {"phone", "laptop"}
    store._redis.script_flush()
    assert store.drop_each([(7008, "phone"), (7008, "laptop")]) == [True, False]
    assert store.live(7008) == set()
