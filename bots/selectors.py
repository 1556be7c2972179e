"""Reads about bots' reverse endpoints."""

from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from chats.models import Message

from .models import BotEvent, ReverseEndpoint


def _total(rows: QuerySet) -> Coalesce:
    """How many rows, as a subquery of the outer row (COUNT with no GROUP BY)."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_events_waiting(endpoints: QuerySet[ReverseEndpoint]) -> QuerySet[ReverseEndpoint]:
    """Annotates `events_waiting`: what the bot's stream holds after the endpoint's last_cursor
    (others' message changes in the bot's chats, and kept events: bots.stream), which its next
    connection replays; 0 before its first connection."""
    after = Q(seq__gt=OuterRef("last_cursor"))
    messages = Message.objects.filter(after, chat__members__user_id=OuterRef("bot_id")).exclude(
        sender_id=OuterRef("bot_id")
    )
    kept = BotEvent.objects.filter(after, bot_id=OuterRef("bot_id"))
    return endpoints.annotate(events_waiting=_total(messages) + _total(kept))


def reverse_endpoints_of(bot: User) -> QuerySet[ReverseEndpoint]:
    return with_events_waiting(ReverseEndpoint.objects.filter(bot=bot)).order_by("pk")


def live_reverse_endpoint(endpoint_id: int) -> ReverseEndpoint | None:
    """The endpoint with its bot, or None once it was deleted or its bot deactivated."""
    return ReverseEndpoint.objects.select_related("bot").filter(pk=endpoint_id, bot__is_active=True).first()


def live_reverse_endpoint_ids() -> set[int]:
    """The endpoints the bridge should keep connected: those of active bots."""
    return set(ReverseEndpoint.objects.filter(bot__is_active=True).values_list("pk", flat=True))
