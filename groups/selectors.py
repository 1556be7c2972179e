"""Reads about groups that more than one adapter needs."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from chats.models import ChatMember, Membership, Role

from .models import Group, Mute


def active_mute_until(member: ChatMember) -> datetime | None:
    """When the member's silence ends, or None if they may speak."""
    return mute_until(member, active_mutes([member.chat_id]).get(member.chat_id, []))


def active_mutes(group_ids: Iterable[int]) -> dict[int, list[Mute]]:
    """The mutes in force in each group, with one query."""
    mutes: dict[int, list[Mute]] = defaultdict(list)
    group_ids = list(group_ids)
    if group_ids:
        for mute in Mute.objects.filter(group_id__in=group_ids, until__gt=timezone.now()):
            mutes[mute.group_id].append(mute)
    return mutes


def mute_until(member: Membership, mutes: Iterable[Mute]) -> datetime | None:
    """When the member's silence ends under these mutes of their group. Owners and admins are
    exempt from a whole-group mute, not from a mute of their own."""
    exempt = member.role in (Role.OWNER, Role.ADMIN)
    return max(
        (
            mute.until
            for mute in mutes
            if mute.user_id == member.user_id or (mute.user_id is None and not exempt)
        ),
        default=None,
    )


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
    mutes = active_mutes([group.pk]).get(group.pk, [])
    members = list(
        ChatMember.objects.filter(chat_id=group.pk).select_related("user").order_by("joined_at", "pk")
    )
    for member in members:
        member.muted_until = mute_until(member, mutes)
    return members
