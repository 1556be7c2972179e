"""Reads about groups that more than one adapter needs."""

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from chats.models import ChatMember, Role

from .models import Group, Mute


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


def group_summary(group: Group, viewer_id: int) -> dict[str, Any]:
    """A group as its members see it in REST: settings, size, the viewer's role, the whole-group mute."""
    my_role = (
        ChatMember.objects.filter(chat_id=group.pk, user_id=viewer_id).values_list("role", flat=True).first()
    )
    everyone = Mute.objects.filter(group=group, user__isnull=True, until__gt=timezone.now()).first()
    return {
        "id": group.pk,
        "name": group.name,
        "avatar_url": group.avatar_url,
        "owner_id": group.owner_id,
        "member_count": 0 if group.dissolved_at else ChatMember.objects.filter(chat_id=group.pk).count(),
        "my_role": my_role,
        "muted_until": everyone.until if everyone else None,
        "created_at": group.created_at,
        "dissolved_at": group.dissolved_at,
    }


def group_members(group: Group) -> list[ChatMember]:
    """Members with when their silence ends (as .muted_until, like active_mute_until); none once the
    group is dissolved."""
    if group.dissolved_at:
        return []
    mutes = dict(
        Mute.objects.filter(group=group, user__isnull=False, until__gt=timezone.now()).values_list(
            "user_id", "until"
        )
    )
    everyone = Mute.objects.filter(group=group, user__isnull=True, until__gt=timezone.now()).first()
    members = list(
        ChatMember.objects.filter(chat_id=group.pk).select_related("user").order_by("joined_at", "pk")
    )
    for member in members:  # as active_mute_until: plain members are silenced by a whole-group mute too
        group_wide = everyone.until if everyone and member.role == Role.MEMBER else None
        member.muted_until = max(filter(None, (mutes.get(member.user_id), group_wide)), default=None)
    return members
