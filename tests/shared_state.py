"""State that outlives a test outside the database: presence leases, cache counters in Redis."""

from django.conf import settings
from django.core.cache import cache

from accounts import presence
from imsuite import redis_nodes


def forget_shared_state() -> None:
    """Presence leases, rate-limit counters and typing throttles start empty (user ids repeat
    between test databases, and Redis outlives a test run)."""
    presence.registry.cache_clear()
    if not settings.REDIS_URL:
        cache.clear()  # the process-local cache
        return
    client = redis_nodes.sync_client()
    for pattern in (
        f"{settings.CACHES['default']['KEY_PREFIX']}:1:*",
        f"{settings.REDIS_PREFIX}:presence:*",
    ):
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)
