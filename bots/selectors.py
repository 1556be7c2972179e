"""Reads about bots' reverse endpoints and connections."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts import presence
from accounts.models import User

from .models import BotConnection, ReverseEndpoint

ALIVE_SECONDS = 20.0  # how often the bridge says that a connection is still open
ALIVE_MISSED = 3  # ... and how many of these may be missing before it reads as gone


def reverse_endpoints_of(bot: User) -> QuerySet[ReverseEndpoint]:
    return ReverseEndpoint.objects.filter(bot=bot).order_by("pk")


def live_reverse_endpoint(endpoint_id: int) -> ReverseEndpoint | None:
    """The endpoint with its bot, or None once it was deleted or its bot deactivated."""
    return ReverseEndpoint.objects.select_related("bot").filter(pk=endpoint_id, bot__is_active=True).first()


def live_reverse_endpoint_ids() -> set[int]:
    """The endpoints the bridge should keep connected: those of active bots."""
    return set(ReverseEndpoint.objects.filter(bot__is_active=True).values_list("pk", flat=True))


def endpoint_connected(endpoint: ReverseEndpoint, now: datetime | None = None) -> bool:
    """Whether the bridge is connected to the endpoint: it said so, and has said so lately."""
    if endpoint.connected_at is None or endpoint.alive_at is None:
        return False
    now = now or timezone.now()
    return endpoint.alive_at >= now - timedelta(seconds=ALIVE_SECONDS * ALIVE_MISSED)


@dataclass
class ForwardConnection:
    row: BotConnection
    open: bool  # False: its process ended without closing it (its presence lease is gone)


def live_connections(bot_id: int) -> set[str]:
    """The bot's connections whose presence lease lives (accounts.presence)."""
    return presence.registry().live(bot_id)


def forward_connections_of(bot: User) -> list[ForwardConnection]:
    """The bot's forward connections, oldest first, each open or not by its presence lease."""
    live = live_connections(bot.pk)
    rows = BotConnection.objects.filter(bot=bot).order_by("opened_at", "pk")
    return [ForwardConnection(row, row.connection in live) for row in rows]


def usernames(user_ids: set[int]) -> dict[int, str]:
    """The usernames of these users (the ones that exist), by id: a bot's mention by id is written
    as `@username`, which chats.mentions understands."""
    if not user_ids:
        return {}
    return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username"))
