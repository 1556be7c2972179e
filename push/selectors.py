"""Reads of the push app for REST and admin."""

from accounts.models import User

from .models import PushSubscription


def subscriptions_of(user: User) -> list[PushSubscription]:
    return list(PushSubscription.objects.filter(user=user).order_by("pk"))
