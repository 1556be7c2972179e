"""Reads about bots' reverse endpoints."""

from django.db.models import QuerySet

from accounts.models import User

from .models import ReverseEndpoint


def reverse_endpoints_of(bot: User) -> QuerySet[ReverseEndpoint]:
    return ReverseEndpoint.objects.filter(bot=bot).order_by("pk")
