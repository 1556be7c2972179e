"""GET /api/health: really checks the database (a query) and the channel layer (a round trip)."""

import asyncio
import functools
import logging

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, channel_layers
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger(__name__)
LAYER_TIMEOUT_SECONDS = 3.0

HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "error"]),
        "database": serializers.ChoiceField(choices=["ok", "error"]),
        "channel_layer": serializers.ChoiceField(choices=["ok", "error"]),
    },
)


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database check failed")
        return False


@functools.cache
def _check_layer() -> BaseChannelLayer:
    """A layer instance for the check alone. On the shared one, channels-redis lets one coroutine at a
    time wait for this process's channels, and the message hub and the connections are always
    waiting on channels under other names: a check there would time out behind them."""
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


async def _layer_round_trip() -> bool:
    layer = _check_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    received = await layer.receive(channel)
    return received.get("type") == "health.ping"


def check_channel_layer() -> bool:
    async def bounded() -> bool:
        return await asyncio.wait_for(_layer_round_trip(), LAYER_TIMEOUT_SECONDS)

    try:
        return async_to_sync(bounded)()
    except Exception:
        logger.exception("health: channel layer check failed")
        return False


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, tags=["health"], auth=[])
    def get(self, request: Request) -> Response:
        parts = {"database": check_database(), "channel_layer": check_channel_layer()}
        healthy = all(parts.values())
        body = {"status": "ok" if healthy else "error"} | {
            k: "ok" if v else "error" for k, v in parts.items()
        }
        return Response(body, status=200 if healthy else 503)
