"""Who is online: each open connection keeps a lease that it renews; a user is online while any
lease of theirs is alive. Leases expire by themselves, so a crashed process cannot leave a user
"online" for ever. Redis holds the leases when REDIS_URL is set (shared by every daphne process);
the embedded mode keeps them in this process. On a Redis Cluster each user's leases are one key,
so the users spread over the nodes and every script stays within one slot.
"""

import abc
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.commands.core import Script

from imsuite import redis_nodes


def _ttl() -> int:
    return settings.IMSUITE["PRESENCE_TTL_SECONDS"]


def _any_live(leases: dict[str, float], now: float) -> bool:
    return any(expires > now for expires in leases.values())


class _Leases(abc.ABC):
    def renew(self, user_id: int, connection: str) -> bool:
        """Whether the user held a live lease before this one (renew_each for one)."""
        return self.renew_each([(user_id, connection)])[0]

    def drop(self, user_id: int, connection: str) -> bool:
        """Whether the user holds a live lease still (drop_each for one)."""
        return self.drop_each([(user_id, connection)])[0]

    @abc.abstractmethod
    def renew_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        """For each lease renewed, in order, whether its user held a live one before it."""

    @abc.abstractmethod
    def drop_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        """For each lease dropped, in order, whether its user holds a live one still."""


class MemoryPresence(_Leases):
    """Leases in this process. `renew_each` answers for each lease whether its user held a live one
    before it, `drop_each` whether one is left (one step each, so that connections opening or
    closing ask the store once)."""

    def __init__(self) -> None:
        self._leases: dict[int, dict[str, float]] = {}
        self._lock = threading.Lock()

    def renew_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        now = time.time()
        answers = []
        with self._lock:
            for user_id, connection in leases:
                held = self._leases.setdefault(user_id, {})
                answers.append(_any_live(held, now))
                held[connection] = now + _ttl()
        return answers

    def renew_many(self, leases: Iterable[tuple[int, str]]) -> None:
        """Extend the leases of live connections, recreating any that is gone. A closed connection's
        is never among them: its close waits for renewals on their way (imsuite.watchdog)."""
        expires = time.time() + _ttl()
        with self._lock:
            for user_id, connection in leases:
                self._leases.setdefault(user_id, {})[connection] = expires

    def drop_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        now = time.time()
        answers = []
        with self._lock:
            for user_id, connection in leases:
                held = self._leases.get(user_id, {})
                held.pop(connection, None)
                answers.append(_any_live(held, now))
        return answers

    def live(self, user_id: int) -> set[str]:
        """The user's connections whose lease lives."""
        now = time.time()
        with self._lock:
            return {c for c, expires in self._leases.get(user_id, {}).items() if expires > now}

    def online(self, user_ids: Iterable[int]) -> set[int]:
        now = time.time()
        with self._lock:
            return {uid for uid in user_ids if _any_live(self._leases.get(uid, {}), now)}


# A user's leases are a sorted set, connection -> expiry time. ARGV: now, connection, and for a
# renewal its new expiry and the set's TTL. Every connection opening and closing runs one of these:
# a script is one command, where a MULTI pipeline of four cost twice the CPU to pack and answer.
_RENEW_LUA = """
local live = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return live
"""
_DROP_LUA = """
redis.call('ZREM', KEYS[1], ARGV[2])
return redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
"""


class RedisPresence(_Leases):
    def __init__(self) -> None:
        self._redis = redis_nodes.sync_client()
        self._prefix = settings.REDIS_PREFIX + ":presence:"
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._drop = self._redis.register_script(_DROP_LUA)

    def renew_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        """Connections opening together renew their leases in one round trip (one per node of a
        cluster); a user's second lease in it finds the first, as the scripts run in order."""
        now, ttl = time.time(), _ttl()
        return self._each(self._renew, leases, lambda connection: [now, connection, now + ttl, ttl])

    def drop_each(self, leases: Sequence[tuple[int, str]]) -> list[bool]:
        """Connections closing together drop their leases in one round trip, as renew_each."""
        now = time.time()
        return self._each(self._drop, leases, lambda connection: [now, connection])

    def _each(
        self, script: Script, leases: Sequence[tuple[int, str]], args: Callable[[str], list[Any]]
    ) -> list[bool]:
        """`script` on each lease's user key with args(connection), pipelined, its answers as
        booleans. Where Redis no longer knows the script (a node restarted), it is loaded and those
        are run again."""

        def run(indexes: list[int]) -> list[Any]:
            pipe = self._redis.pipeline(transaction=False)
            for i in indexes:
                user_id, connection = leases[i]
                pipe.evalsha(script.sha, 1, f"{self._prefix}{user_id}", *args(connection))
            return pipe.execute(raise_on_error=False)

        answers = run(list(range(len(leases))))
        unknown = [
            i for i, answer in enumerate(answers) if isinstance(answer, redis.exceptions.NoScriptError)
        ]
        if unknown:
            self._redis.script_load(script.script)
            for i, answer in zip(unknown, run(unknown), strict=True):
                answers[i] = answer
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return [bool(answer) for answer in answers]

    def renew_many(self, leases: Iterable[tuple[int, str]]) -> None:
        """Extend the leases of live connections in one round trip (one per node of a cluster),
        recreating those Redis lost (a restart): no XX, because a closed connection's renewal can no
        longer be on its way when its lease is dropped (imsuite.watchdog orders the two)."""
        expires = time.time() + _ttl()
        pipe = self._redis.pipeline(transaction=False)
        for user_id, connection in leases:
            key = f"{self._prefix}{user_id}"
            pipe.zadd(key, {connection: expires})
            pipe.expire(key, _ttl())
        pipe.execute()

    def live(self, user_id: int) -> set[str]:
        members = self._redis.zrangebyscore(f"{self._prefix}{user_id}", time.time(), "+inf")
        return {m.decode() for m in members}

    def online(self, user_ids: Iterable[int]) -> set[int]:
        ids = list(user_ids)
        pipe = self._redis.pipeline(transaction=False)  # no MULTI: the users' keys are in many slots
        now = time.time()
        for uid in ids:
            pipe.zcount(f"{self._prefix}{uid}", now, "+inf")
        return {uid for uid, count in zip(ids, pipe.execute(), strict=True) if count}


@cache
def registry() -> MemoryPresence | RedisPresence:
    """The presence store for this process, chosen by the same REDIS_URL as the channel layer."""
    return RedisPresence() if settings.REDIS_URL else MemoryPresence()


def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    return registry().online(user_ids)


def is_online(user_id: int) -> bool:
    return user_id in online_user_ids([user_id])
