"""Fixed-window rate limits kept in the shared cache (Redis in production), so every process and
every adapter (REST, WebSocket, bots) counts against the same budget."""

import math
import time

from django.core.cache import cache

from .errors import DomainError, ErrorCode


def rate_limit(bucket: str, key: object, limit: int, window_seconds: int) -> None:
    """Count one use; RATE_LIMITED with details.retry_after once `limit` uses fall in one window."""
    now = time.time()
    slot = int(now // window_seconds)
    cache_key = f"rate:{bucket}:{key}:{slot}"
    cache.add(cache_key, 0, timeout=window_seconds * 2)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr: start again
        cache.set(cache_key, 1, timeout=window_seconds * 2)
        used = 1
    if used > limit:
        retry_after = max(1, math.ceil((slot + 1) * window_seconds - now))
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests: at most {limit} every {window_seconds} seconds.",
            {"retry_after": retry_after, "limit": limit, "window_seconds": window_seconds},
        )
