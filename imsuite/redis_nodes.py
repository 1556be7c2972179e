"""The process's Redis clients, for one server or a Redis Cluster, made in one place.

settings.REDIS_URL names one server, or with settings.REDIS_CLUSTER one or more nodes of a
Redis Cluster (comma-separated; the client learns the others and follows MOVED and ASK
redirections). Everything IM-Suite keeps in Redis takes its client here, so a deployment moves to a
cluster by setting two variables. Keys that a script or transaction uses together share a hash tag
(`{...}`), which puts them in one slot, as a cluster requires.
"""

from functools import cache
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from django.conf import settings

from .per_loop import PerLoop

# A blocking read (XREAD BLOCK) waits up to a few seconds; the socket must outlast it.
SOCKET_TIMEOUT_SECONDS = 15
# What Redis raises when it cannot answer: a server restarting, or on a cluster a node away (its
# slots' commands fail to connect, then the others answer CLUSTERDOWN until it is back or replaced).
# Callers that go on without Redis (rate limits, the sign-in backoff, lease renewals) catch these.
UNREACHABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterDownError,
)


def node_urls() -> list[str]:
    """The URLs in settings.REDIS_URL (one, or a cluster's starting nodes)."""
    return [url.strip() for url in settings.REDIS_URL.split(",") if url.strip()]


def _startup_nodes(kind: Any) -> list[Any]:
    nodes = []
    for url in node_urls():
        parts = urlsplit(url)
        nodes.append(kind(parts.hostname or "127.0.0.1", parts.port or 6379))
    return nodes


def _cluster_options() -> dict[str, Any]:
    """The credentials and TLS of the first URL, which a cluster's nodes share."""
    parts = urlsplit(node_urls()[0])
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "max_connections": settings.REDIS_MAX_CONNECTIONS,
    }
    if parts.username:
        options["username"] = parts.username
    if parts.password:
        options["password"] = parts.password
    if parts.scheme == "rediss":
        options["ssl"] = True
    return options


def _server_options() -> dict[str, Any]:
    return {"socket_timeout": SOCKET_TIMEOUT_SECONDS, "max_connections": settings.REDIS_MAX_CONNECTIONS}


@cache
def sync_client() -> "redis.Redis | redis.cluster.RedisCluster":
    """The process's blocking client (thread-safe: each command takes a pooled connection)."""
    if settings.REDIS_CLUSTER:
        return redis.cluster.RedisCluster(
            startup_nodes=_startup_nodes(redis.cluster.ClusterNode), **_cluster_options()
        )
    return redis.Redis.from_url(node_urls()[0], **_server_options())


def _make_async(_loop: Any) -> "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster":
    if settings.REDIS_CLUSTER:
        return redis.asyncio.cluster.RedisCluster(
            startup_nodes=_startup_nodes(redis.asyncio.cluster.ClusterNode), **_cluster_options()
        )
    return redis.asyncio.Redis.from_url(node_urls()[0], **_server_options())


_async_clients: PerLoop[Any] = PerLoop(_make_async)


def async_client() -> "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster":
    """The running event loop's asyncio client (redis-py's asyncio connections belong to a loop)."""
    return _async_clients.get()
