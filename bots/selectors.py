"""Reads about bots' reverse endpoints."""

from django.db.models import QuerySet

from accounts.models import User

from .models import ReverseEndpoint


def reverse_endpoints_of(bot: User) -> QuerySet[ReverseEndpoint]:
    return ReverseEndpoint.objects.filter(bot=bot).order_by("pk")


def live_reverse_endpoint(endpoint_id: int) -> ReverseEndpoint | None:
    """The endpoint with its bot, or None once it was deleted or its bot deactivated."""
    return ReverseEndpoint.objects.select_related("bot").filter(pk=endpoint_id, bot__is_active=True).first()


def live_reverse_endpoint_ids() -> set[int]:
    """The endpoints the bridge should keep connected: those of active bots."""
    return set(ReverseEndpoint.objects.filter(bot__is_active=True).values_list("pk", flat=True))


def usernames(user_ids: set[int]) -> dict[int, str]:
    """The usernames of these users (the ones that exist), by id: a bot's mention by id is written
    as `@username`, which chats.mentions understands."""
    if not user_ids:
        return {}
    return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username"))
