"""GET /api/health: really checks the database (a query), the event transport ("channel_layer":
with Redis, the routes' Redis answering a command; embedded, a round trip through the in-memory
channel layer) and the cache (a write and a read), at once and bounded in time, and says which of
them failed."""

import asyncio
import functools
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor, wait

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, channel_layers
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import db_outage, redis_nodes

logger = logging.getLogger(__name__)
LAYER_TIMEOUT_SECONDS = 3.0
# The database check waits at most DB_POOL_TIMEOUT (3 s) for a connection; a check still running
# after this counts as failed.
CHECK_TIMEOUT_SECONDS = 4.0

HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "error"]),
        "database": serializers.ChoiceField(choices=["ok", "error"]),
        "channel_layer": serializers.ChoiceField(choices=["ok", "error"]),
        "cache": serializers.ChoiceField(choices=["ok", "error"]),
    },
)
_failing: set[str] = set()  # parts whose failure has been logged and that have not answered since


def _failed(part: str, exc: Exception) -> bool:
    """One warning line when a part starts failing, none while it goes on (no traceback)."""
    if part not in _failing:
        _failing.add(part)
        logger.warning("health: %s check failed (%s: %s)", part, type(exc).__name__, exc)
    return False


def _answered(part: str) -> bool:
    _failing.discard(part)
    return True


def check_database() -> bool:
    """In a thread of its own, whose pooled connection it gives back."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        if db_outage.is_unavailable(exc):
            db_outage.failed(exc)  # logged once per outage, with the other doors' failures
            return False
        return _failed("database", exc)
    finally:
        connection.close()
    db_outage.succeeded()
    return _answered("database")


def check_cache() -> bool:
    key = f"health:{secrets.token_hex(8)}"
    try:
        cache.set(key, "ok", 10)
        if cache.get(key) != "ok":
            raise LookupError("the value written was not read back")
        cache.delete(key)
    except Exception as exc:
        return _failed("cache", exc)
    return _answered("cache")


@functools.cache
def _check_layer() -> BaseChannelLayer:
    """A layer instance for the check alone: it never waits behind the hubs' own receives."""
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


async def _layer_round_trip() -> bool:
    if settings.REDIS_URL:  # what the hubs route events through (imsuite.event_routes)
        return bool(await redis_nodes.async_client().ping())
    layer = _check_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    received = await layer.receive(channel)
    return received.get("type") == "health.ping"


def check_channel_layer() -> bool:
    async def bounded() -> bool:
        return await asyncio.wait_for(_layer_round_trip(), LAYER_TIMEOUT_SECONDS)

    try:
        if not async_to_sync(bounded)():
            raise LookupError("the message sent was not received")
    except Exception as exc:
        return _failed("channel_layer", exc)
    return _answered("channel_layer")


def check_all() -> dict[str, bool]:
    """Each part's state. The database and cache checks run in threads of their own while the
    channel layer's runs here (async_to_sync needs the server's event loop, which only the request's
    thread knows); a check that has not answered within CHECK_TIMEOUT_SECONDS counts as failed."""
    threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imsuite-health")
    checks = {"database": threads.submit(check_database), "cache": threads.submit(check_cache)}
    threads.shutdown(wait=False)
    layer = check_channel_layer()
    done, _ = wait(checks.values(), timeout=CHECK_TIMEOUT_SECONDS)
    states = {part: check in done and check.result() for part, check in checks.items()}
    return {"database": states["database"], "channel_layer": layer, "cache": states["cache"]}


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, tags=["health"], auth=[])
    def get(self, request: Request) -> Response:
        parts = check_all()
        healthy = all(parts.values())
        body = {"status": "ok" if healthy else "error"} | {
            k: "ok" if v else "error" for k, v in parts.items()
        }
        return Response(body, status=200 if healthy else 503)
