"""REDIS_CLUSTER: the cache, presence, rate limits and session revocation on a real three-node
Redis Cluster (tests.redis_cluster), their keys spread over the nodes. Runs on both legs: the
settings point the cache and presence at the cluster whatever the leg's own Redis is."""

import math
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import redis.cluster
from django.core.cache import cache, caches

from accounts import presence
from accounts.sessions import revoke_session, session_revoked
from imsuite import health, ratelimit, redis_nodes
from imsuite.errors import ErrorCode
from imsuite.ratelimit import Backoff, backoff_cleared, backoff_failed, backoff_refusal, rate_limit_many
from imsuite.redis_cache import RedisClusterCache
from tests.redis_cluster import redis_cluster, running_cluster  # noqa: F401  (a fixture)
from tests.shared_state import forget_shared_state

PREFIX = "cluster-test"
NOW = 1_700_000_000.5  # half a second into a 10-second window


def _forget_clients() -> None:
    redis_nodes.sync_client.cache_clear()
    presence.registry.cache_clear()
    ratelimit._add_uses_script.cache_clear()


def _leave(on: SimpleNamespace) -> None:
    """Close the clients of the cluster: the leg's own are made anew on next use."""
    for client in (on.client, *on.nodes):
        client.close()
    _forget_clients()


def _cluster_mode(urls: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """This process in cluster mode on the cluster at `urls`, emptied; the rate limiter's clock fixed."""
    settings.REDIS_CLUSTER = True
    settings.REDIS_URL = urls
    settings.REDIS_PREFIX = PREFIX
    settings.CACHES = {
        "default": {
            "BACKEND": "imsuite.redis_cache.RedisClusterCache",
            "LOCATION": urls,
            "KEY_PREFIX": PREFIX,
        }
    }
    monkeypatch.setattr("imsuite.ratelimit.time", SimpleNamespace(time=lambda: NOW))
    _forget_clients()
    client = redis_nodes.sync_client()
    client.flushdb()  # every primary's
    return SimpleNamespace(client=client, nodes=[redis.Redis.from_url(url) for url in urls.split(",")])


@pytest.fixture
def cluster(redis_cluster: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:  # noqa: F811
    """This process on the session's cluster."""
    on = _cluster_mode(redis_cluster, settings, monkeypatch)
    yield on
    _leave(on)


def held_by_node(cluster: Any, pattern: str) -> list[set[str]]:
    """The keys matching `pattern` that each node holds, asked of each node alone (a node's SCAN
    lists only the slots it serves)."""
    return [{key.decode() for key in node.scan_iter(match=pattern)} for node in cluster.nodes]


# ---- the cache -----------------------------------------------------------------------------------


def test_the_cluster_cache_is_the_process_cluster_client(cluster):
    assert isinstance(caches["default"], RedisClusterCache)
    assert cache._cache.get_client() is cluster.client
    assert isinstance(cluster.client, redis.cluster.RedisCluster)


def test_the_cache_spreads_over_the_nodes_and_answers_as_django_says(cluster):
    names = [f"item-{i}" for i in range(30)]
    cache.set_many({name: {"n": i} for i, name in enumerate(names)}, timeout=60)
    assert cache.get_many([*names, "missing"]) == {name: {"n": i} for i, name in enumerate(names)}
    held = held_by_node(cluster, f"{PREFIX}:1:item-*")
    assert set().union(*held) == {f"{PREFIX}:1:{name}" for name in names}
    assert all(held), "every node holds some of the keys"
    assert [cluster.client.ttl(cache.make_key(name)) for name in names[:3]] == [60, 60, 60]

    assert (cache.add("item-0", "other"), cache.add("fresh", 1, timeout=60)) == (False, True)
    assert (cache.incr("fresh", 4), cache.get("fresh"), cache.has_key("fresh")) == (5, 5, True)
    cache.delete_many(names[:20])
    assert cache.get_many(names) == {name: {"n": i} for i, name in enumerate(names) if i >= 20}
    cache.set_many({"gone": 1}, timeout=0)
    assert (cache.get("gone"), cache.delete("fresh"), cache.delete("fresh")) == (None, True, False)
    cache.clear()
    assert held_by_node(cluster, "*") == [set(), set(), set()]


def test_the_health_check_writes_and_reads_the_cluster_cache(cluster):
    assert health.check_cache() is True


# ---- presence --------------------------------------------------------------------------------


def test_a_user_is_online_while_any_connection_holds_a_lease(cluster):
    store = presence.registry()
    assert isinstance(store, presence.RedisPresence)
    assert store.renew(7, "phone") is False  # the first connection: was offline
    assert store.renew(7, "laptop") is True
    assert (store.online([7, 8]), store.live(7)) == ({7}, {"phone", "laptop"})
    assert store.drop(7, "phone") is True  # the laptop is still there
    assert (store.online([7]), store.live(7)) == ({7}, {"laptop"})
    assert store.drop(7, "laptop") is False  # the last one: offline
    assert (store.online([7]), store.live(7)) == (set(), set())


def test_many_users_leases_spread_over_the_nodes_in_one_batch(cluster):
    store = presence.registry()
    users = list(range(1, 41))
    store.renew_many([(uid, f"c{uid}") for uid in users] + [(1, "second")])
    assert store.online([*users, 99]) == set(users)
    assert store.live(1) == {"c1", "second"}
    held = held_by_node(cluster, f"{PREFIX}:presence:*")
    assert set().union(*held) == {f"{PREFIX}:presence:{uid}" for uid in users}
    assert all(held), "every node holds some users' leases"
    assert [store.drop(uid, f"c{uid}") for uid in (1, 2)] == [True, False]
    assert store.online(users) == set(users) - {2}


def test_connections_opening_together_renew_over_every_node_and_answer_each(cluster):
    store = presence.registry()
    store._redis.script_flush()  # a node that restarted knows no script: loaded again
    users = list(range(41, 81))
    leases = [(uid, "phone") for uid in users] + [(41, "laptop")]
    assert store.renew_each(leases) == [False] * len(users) + [True]
    assert store.live(41) == {"phone", "laptop"}
    held = held_by_node(cluster, f"{PREFIX}:presence:*")
    assert all(held), "every node holds some users' leases"


# ---- rate limits -----------------------------------------------------------------------------


def refused(limit: int) -> tuple[str, int]:
    return (ErrorCode.RATE_LIMITED, limit)


def outcomes(results: list[Any]) -> list[tuple[str, int] | None]:
    return [None if r is None else (r.code, r.details["limit"]) for r in results]


def test_a_batch_counts_on_every_node_its_keys_fall_on(cluster):
    bucket = f"test-{uuid.uuid4().hex}"
    users = list(range(1, 13))
    assert outcomes(rate_limit_many(bucket, [*users, 1, 1], 2, 10)) == [None] * 12 + [None, refused(2)]
    assert outcomes(rate_limit_many(bucket, [2, 2, 13], 2, 10)) == [None, refused(2), None]
    held = held_by_node(cluster, f"{PREFIX}:1:rate:{bucket}:*")
    assert sum(map(len, held)) == 13 and all(held), "the counters went to every node"
    counters = {
        uid: int(cluster.client.get(cache.make_key(f"rate:{bucket}:{uid}:170000000"))) for uid in (1, 2, 3)
    }
    assert counters == {1: 3, 2: 3, 3: 1}
    assert cluster.client.ttl(cache.make_key(f"rate:{bucket}:1:170000000")) == 20


def test_without_the_script_patch_the_cluster_counts_by_add_and_incr(cluster):
    bucket = f"test-{uuid.uuid4().hex}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ratelimit.patches, "active", lambda name: name != "redis_cache_script")
        patch.setattr(ratelimit, "_add_uses_script", lambda: pytest.fail("the script path was taken"))
        assert outcomes(rate_limit_many(bucket, [1, 2, 3, 1, 1], 2, 10)) == [None] * 4 + [refused(2)]
    assert cache.get(f"rate:{bucket}:1:170000000") == 3


def test_a_single_key_limit_and_the_backoff_on_the_cluster(cluster):
    bucket = f"test-{uuid.uuid4().hex}"
    assert outcomes(rate_limit_many(bucket, ["u"] * 3, 2, 10)) == [None, None, refused(2)]
    backoff = Backoff("cluster-signin", free=2, base_seconds=30, max_seconds=300, window_seconds=600)
    counters = [(backoff, "alice"), (backoff, "10.0.0.1")]
    assert backoff_refusal(counters, "password") is None
    backoff_failed(counters)  # the first failure is free
    assert backoff_refusal(counters, "password") is None
    backoff_failed(counters)  # the second waits 30 s
    refusal = backoff_refusal(counters, "password")
    assert (refusal.code, refusal.details) == (
        ErrorCode.RATE_LIMITED,
        {"retry_after": 30, "reason": "password"},
    )
    backoff_cleared(counters)
    assert backoff_refusal(counters, "password") is None
    assert held_by_node(cluster, f"{PREFIX}:1:rate:cluster-signin*") == [set(), set(), set()]


# ---- the tests' own clean-up ---------------------------------------------------------------------


def test_forget_shared_state_empties_the_cluster_of_this_run(cluster):
    cache.set("typing:1:2", 1, timeout=60)
    presence.registry().renew_many([(uid, "c") for uid in range(1, 11)])
    cluster.client.set("another-installation:key", 1)
    forget_shared_state()
    assert set().union(*held_by_node(cluster, "*")) == {"another-installation:key"}


# ---- session revocation -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_out_session_is_revoked_through_the_cluster_cache(cluster):
    revoke_session("sid-out")
    assert (session_revoked("sid-out"), session_revoked("sid-in")) == (True, False)
    assert cache.get("revoked-session:sid-out") == 1  # REVOKED
    assert cache.get("revoked-session:sid-in") == 0  # NOT_REVOKED, for a minute


# ---- a node away ------------------------------------------------------------------------------


def test_a_node_away_leaves_rate_limits_and_backoff_open_with_one_warning(settings, monkeypatch, caplog):
    """A primary killed (no replica to take over): the cluster is down, and as while a single
    Redis restarts, limits are not counted, one warning says so, and nothing fails for a counter."""
    bucket = f"test-{uuid.uuid4().hex}"
    backoff = Backoff("cluster-signin", free=0, base_seconds=30, max_seconds=300, window_seconds=600)
    with running_cluster(node_timeout_ms=500) as running:
        on = _cluster_mode(running.urls, settings, monkeypatch)
        try:
            assert outcomes(rate_limit_many(bucket, [1, 2, 3, 1], 1, 10)) == [None, None, None, refused(1)]
            killed = running.servers[0]
            killed.kill()
            killed.wait()
            running.wait_for(
                "the others calling the killed node failed",
                lambda: all(node.cluster("INFO")["cluster_state"] == "fail" for node in running.nodes[1:]),
            )
            # A user whose counter a live node serves: that node answers CLUSTERDOWN (the killed
            # node's own keys fail to connect, as on a single Redis restarting).
            user = next(
                uid
                for uid in (1, 2, 3)
                if _serving_port(on, f"rate:{bucket}:{uid}:170000000") != _port(killed)
            )
            monkeypatch.setattr(ratelimit, "_warned_at", -math.inf)
            assert rate_limit_many(bucket, [user, user], 1, 10) == [None, None]
            assert backoff_refusal([(backoff, "bob")], "password") is None
        finally:
            _leave(on)
    warnings = [r.getMessage() for r in caplog.records if r.name == "imsuite.ratelimit"]
    assert len(warnings) == 1
    assert warnings[0].startswith("rate limits are not counted: the cache cannot be reached")
    assert warnings[0].endswith("The cluster is down)")


def _serving_port(on: SimpleNamespace, name: str) -> int:
    return on.client.get_node_from_key(cache.make_key(name)).port


def _port(server: Any) -> int:
    return int(server.args[server.args.index("--port") + 1])
