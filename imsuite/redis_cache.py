"""Django's Redis cache on a Redis Cluster (settings.REDIS_CLUSTER).

Django's RedisCacheClient knows no cluster: it writes to its first URL, reads from the others as
if they were replicas, and sends one MGET or MSET for all the keys of a call, which a cluster
refuses when they fall in different slots. This client is the process's cluster client
(imsuite.redis_nodes: it sends each key to the node serving its slot, so the cache spreads over
the nodes), and its many-key calls go slot by slot. LOCATION is not read: the nodes are
settings.REDIS_URL's, shared with presence.
"""

from collections.abc import Iterable
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from . import redis_nodes


class ClusterCacheClient(RedisCacheClient):
    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        return redis_nodes.sync_client()

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """One MGET per slot (redis-py sends each node its share in one pipeline)."""
        keys = list(keys)
        values = self.get_client().mget_nonatomic(keys)
        return {key: self._serializer.loads(v) for key, v in zip(keys, values, strict=True) if v is not None}

    def set_many(self, data: dict[str, Any], timeout: int | None) -> None:
        """Django's SET-and-EXPIRE per key, in a pipeline without MULTI (which would need one slot)."""
        pipeline = self.get_client(write=True).pipeline(transaction=False)
        for key, value in data.items():
            pipeline.set(key, self._serializer.dumps(value))
            if timeout is not None:  # 0 deletes, as in Django's
                pipeline.expire(key, timeout)
        pipeline.execute()


class RedisClusterCache(RedisCache):
    """settings.CACHES's backend when REDIS_CLUSTER is set."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ClusterCacheClient
