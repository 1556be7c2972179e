"""Fixed-window rate limits kept in the shared cache (Redis in production), so every process and
every adapter (REST, WebSocket, bots) counts against the same budget. On a Redis Cluster the
counters spread over the nodes like any cache key: a batch's are added slot by slot."""

import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cache
from time import monotonic
from typing import Any

import redis.cluster
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from . import patches, redis_nodes
from .errors import DomainError, ErrorCode

logger = logging.getLogger(__name__)
UNREACHABLE_WARNING_SECONDS = 30.0  # at most one warning this often while the cache is away
_warned_at = -math.inf
# A wait is kept this long past its end: its value decides, the expiry only tidies up (and must not
# cut a wait short on a process whose clock is a little ahead)
WAIT_KEPT_EXTRA_SECONDS = 60


def rate_limit(bucket: str, key: object, limit: int, window_seconds: int) -> None:
    """Count one use; RATE_LIMITED with details.retry_after once `limit` uses fall in one window."""
    error = rate_limit_many(bucket, [key], limit, window_seconds)[0]
    if error is not None:
        raise error


def rate_limit_named(name: str, key: object) -> None:
    """Count one use of the limit named in settings.IMSUITE: RATE_LIMIT_<name> uses per
    RATE_LIMIT_<name>_WINDOW_SECONDS (FRIEND_REQUESTS, JOIN_REQUESTS, CALLS, UPLOADS, REPORTS,
    REGISTRATIONS), so that each limit is one pair of settings and one line where it applies."""
    limits = settings.IMSUITE
    rate_limit(name.lower(), key, limits[f"RATE_LIMIT_{name}"], limits[f"RATE_LIMIT_{name}_WINDOW_SECONDS"])


def rate_limit_many(
    bucket: str, keys: Sequence[Hashable], limit: int, window_seconds: int
) -> list[DomainError | None]:
    """Count one use per item of `keys` (a key may repeat), in order, with one cache round trip
    for the lot on Redis; each item gets None or its RATE_LIMITED error."""
    now = time.time()
    slot = int(now // window_seconds)
    uses = Counter(keys)
    cache_keys = {key: f"rate:{bucket}:{key}:{slot}" for key in uses}
    try:
        totals = _add_uses({cache_keys[key]: n for key, n in uses.items()}, window_seconds * 2)
    except redis_nodes.UNREACHABLE as exc:
        _cache_unreachable(exc)
        return [None] * len(keys)
    retry_after = max(1, math.ceil((slot + 1) * window_seconds - now))
    error = DomainError(
        ErrorCode.RATE_LIMITED,
        f"Too many requests: at most {limit} every {window_seconds} seconds.",
        {"retry_after": retry_after, "limit": limit, "window_seconds": window_seconds},
    )
    seen: Counter = Counter()
    results: list[DomainError | None] = []
    for key in keys:
        seen[key] += 1
        used = totals[cache_keys[key]] - uses[key] + seen[key]
        results.append(error if used > limit else None)
    return results


@dataclass(frozen=True)
class Backoff:
    """A failure counter whose refusals grow: `free` failures (counted within `window_seconds` of
    the first one) come without a wait; from then on the n-th failure makes the next attempt wait
    base_seconds * 2 ** (n - free) seconds, at most max_seconds. A wait is a refusal with
    retry_after, never a sleep: an attacker's patience costs the server nothing."""

    name: str
    free: int
    base_seconds: float
    max_seconds: float
    window_seconds: int

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.base_seconds * 2 ** min(failures - self.free, 64), self.max_seconds)

    def counter(self, key: str) -> str:
        return f"rate:{self.name}:{key}"

    def wait(self, key: str) -> str:
        return f"rate:{self.name}-wait:{key}"


def backoff_refusal(counters: Sequence[tuple[Backoff, str]], reason: str) -> DomainError | None:
    """RATE_LIMITED (details: retry_after, reason) while any of these counters makes attempts wait."""
    try:
        waits = caches["default"].get_many([backoff.wait(key) for backoff, key in counters])
    except redis_nodes.UNREACHABLE as exc:
        _cache_unreachable(exc)
        return None
    remaining = max(waits.values(), default=0.0) - time.time()
    if remaining <= 0:
        return None
    return DomainError(
        ErrorCode.RATE_LIMITED,
        "Too many failed attempts: wait before trying again.",
        {"retry_after": max(1, math.ceil(remaining)), "reason": reason},
    )


def backoff_failed(counters: Sequence[tuple[Backoff, str]]) -> None:
    """Count one failure on each counter and set the wait that its new count calls for."""
    now = time.time()
    try:
        for backoff, key in counters:
            failures = _add_uses({backoff.counter(key): 1}, backoff.window_seconds)[backoff.counter(key)]
            delay = backoff.delay(failures)
            if delay > 0:
                caches["default"].set(
                    backoff.wait(key), now + delay, timeout=math.ceil(delay) + WAIT_KEPT_EXTRA_SECONDS
                )
    except redis_nodes.UNREACHABLE as exc:
        _cache_unreachable(exc)


def backoff_cleared(counters: Sequence[tuple[Backoff, str]]) -> None:
    """Forget these counters' failures and waits (a success where they were counted)."""
    names = [name for backoff, key in counters for name in (backoff.counter(key), backoff.wait(key))]
    try:
        caches["default"].delete_many(names)
    except redis_nodes.UNREACHABLE as exc:
        _cache_unreachable(exc)


def _cache_unreachable(exc: Exception) -> None:
    """Redis is away (a restart): nothing is counted meanwhile. Sends and syncs go on
    with PostgreSQL alone rather than failing for a counter; one warning per period says so."""
    global _warned_at
    now = monotonic()
    if now - _warned_at >= UNREACHABLE_WARNING_SECONDS:
        _warned_at = now
        logger.warning("rate limits are not counted: the cache cannot be reached (%s)", exc)


# Adds ARGV[i + 1] to counter KEYS[i], giving a new counter the TTL ARGV[1]; answers the new totals.
# One command for the whole batch: a pipeline of an INCRBY and an EXPIRE per counter cost a tenth
# of a busy server's time in redis-py's command packing alone (docs/performance.md).
_ADD_USES_LUA = """
local totals = {}
for i, key in ipairs(KEYS) do
    totals[i] = redis.call('INCRBY', key, ARGV[i + 1])
    if totals[i] == tonumber(ARGV[i + 1]) then redis.call('EXPIRE', key, ARGV[1]) end
end
return totals
"""


@cache
def _add_uses_script() -> Any:
    """The script, registered once: its SHA is computed once, and each call names the client that
    runs it (Django's cache makes a new client object per get_client(), so nothing may be keyed
    on one)."""
    return caches["default"]._cache.get_client(write=True).register_script(_ADD_USES_LUA)


def _add_uses(counts: dict[str, int], timeout: int) -> dict[str, int]:
    """Add to each counter (created with `timeout` when missing); the new totals."""
    cache = caches["default"]
    # One round trip, one command (keys are per window), while Django's Redis cache is as expected.
    if isinstance(cache, RedisCache) and patches.active("redis_cache_script"):
        client = cache._cache.get_client(write=True)
        keys = [cache.make_and_validate_key(name) for name in counts]
        if isinstance(client, redis.cluster.RedisCluster) and len(slots := _by_slot(client, keys)) > 1:
            totals = _add_uses_by_slot(client, slots, list(counts.values()), timeout)
        else:
            totals = _add_uses_script()(keys=keys, args=[timeout, *counts.values()], client=client)
        return dict(zip(counts, totals, strict=True))
    totals = {}
    for name, n in counts.items():
        cache.add(name, 0, timeout=timeout)
        try:
            totals[name] = cache.incr(name, n)
        except ValueError:  # evicted between add and incr: start again
            cache.set(name, n, timeout=timeout)
            totals[name] = n
    return totals


def _by_slot(client: redis.cluster.RedisCluster, keys: list[str]) -> list[list[tuple[int, str]]]:
    """The keys (with their places) grouped by cluster slot."""
    slots: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for place, key in enumerate(keys):
        slots[client.keyslot(key)].append((place, key))
    return list(slots.values())


def _add_uses_by_slot(
    client: redis.cluster.RedisCluster, slots: list[list[tuple[int, str]]], uses: list[int], timeout: int
) -> list[int]:
    """A cluster runs a script only on keys of one slot: one script per slot, all in one pipeline
    (a round trip per node). EVAL, not EVALSHA: a pipeline cannot load the script into a node that
    does not know it (restarted, or a replica just promoted)."""
    pipe = client.pipeline(transaction=False)
    for group in slots:
        args = [timeout, *(uses[place] for place, _ in group)]
        pipe.execute_command("EVAL", _ADD_USES_LUA, len(group), *(key for _, key in group), *args)
    totals = [0] * len(uses)
    for group, group_totals in zip(slots, pipe.execute(), strict=True):
        for (place, _), total in zip(group, group_totals, strict=True):
            totals[place] = total
    return totals
