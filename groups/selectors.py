"""Reads about groups that more than one adapter needs."""

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from chats.models import ChatMember, Role

from .models import Mute


def active_mute_until(member: ChatMember) -> datetime | None:
    """When the member's silence ends, or None if they may speak. Owners and admins are exempt
    from a whole-group mute, not from a mute of their own."""
    now = timezone.now()
    mutes = Mute.objects.filter(group_id=member.chat_id, until__gt=now)
    if member.role in (Role.OWNER, Role.ADMIN):
        mutes = mutes.filter(user_id=member.user_id)
    else:
        mutes = mutes.filter(Q(user_id=member.user_id) | Q(user__isnull=True))
    return mutes.order_by("-until").values_list("until", flat=True).first()
