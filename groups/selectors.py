"""Reads about groups that more than one adapter needs."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from chats.models import ChatMember, Membership, Role
from chats.selectors import member_count

from .models import Group, GroupBan, InviteLink, JoinRequest, Mute, Notice


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


def _summaries(groups: QuerySet[Group], viewer_id: int) -> list[dict[str, Any]]:
    """Groups as their members see them in REST, with one query however many there are."""
    everyone = Mute.objects.filter(group_id=OuterRef("pk"), user__isnull=True, until__gt=timezone.now())
    rows = groups.annotate(
        my_role=Subquery(
            ChatMember.objects.filter(chat_id=OuterRef("pk"), user_id=viewer_id).values("role")[:1]
        ),
        members=member_count("pk"),
        everyone_muted_until=Subquery(everyone.values("until")[:1]),  # at most one (one_group_mute)
    )
    return [
        {
            "id": group.pk,
            "name": group.name,
            "avatar_url": group.avatar_url,
            "owner_id": group.owner_id,
            "members_mention_all": group.members_mention_all,
            "member_count": 0 if group.dissolved_at else group.members or 0,
            "my_role": group.my_role,
            "muted_until": group.everyone_muted_until,
            "created_at": group.created_at,
            "dissolved_at": group.dissolved_at,
        }
        for group in rows
    ]


def group_summary(group: Group, viewer_id: int) -> dict[str, Any]:
    """A group as its members see it in REST: settings, size, the viewer's role, the whole-group mute."""
    return _summaries(Group.objects.filter(pk=group.pk), viewer_id)[0]


def group_list(viewer_id: int) -> list[dict[str, Any]]:
    """The viewer's groups, newest first, dissolved ones included (their history stays readable)."""
    groups = Group.objects.filter(chat__members__user_id=viewer_id).order_by("-created_at")
    return _summaries(groups, viewer_id)


def live_groups_of(user_id: int) -> QuerySet[Group]:
    """The groups a user is in and that still exist, by id, each with .member_count."""
    groups = Group.objects.filter(chat__members__user_id=user_id, dissolved_at__isnull=True)
    return groups.annotate(member_count=member_count("pk")).order_by("pk")


def group_exists(group_id: int) -> bool:
    return Group.objects.filter(pk=group_id).exists()


def pending_join_requests(group: Group) -> QuerySet[JoinRequest]:
    """Requests and invitations waiting for a manager, oldest first."""
    return JoinRequest.objects.filter(group=group, status="pending").select_related("user").order_by("pk")


def pending_join_request_id(group_id: int, user_id: int) -> int | None:
    return (
        JoinRequest.objects.filter(group_id=group_id, user_id=user_id, status="pending")
        .values_list("pk", flat=True)
        .first()
    )


def join_request_group_id(request_id: int) -> int | None:
    return JoinRequest.objects.filter(pk=request_id).values_list("group_id", flat=True).first()


def group_notices(group: Group) -> QuerySet[Notice]:
    """Newest first."""
    return group.notices.order_by("-created_at", "-pk")


def group_members(group: Group) -> list[ChatMember]:
    """Members with when their silence ends (as .muted_until, like active_mute_until); none once the
    group is dissolved."""
    if group.dissolved_at:
        return []
    mutes = active_mutes([group.pk]).get(group.pk, [])
    members = list(member_rows(group))
    for member in members:
        member.muted_until = mute_until(member, mutes)
    return members


def member_rows(group: Group) -> QuerySet[ChatMember]:
    """Every member row with its user, in joining order, also of a dissolved group (for moderators)."""
    return ChatMember.objects.filter(chat_id=group.pk).select_related("user").order_by("joined_at", "pk")


def ban_in_force(group_id: int, user_id: int) -> GroupBan | None:
    return GroupBan.objects.in_force().filter(group_id=group_id, user_id=user_id).first()


def bans_in_force(group: Group) -> QuerySet[GroupBan]:
    """Who is kept out of the group now, newest ban first."""
    return (
        GroupBan.objects.in_force().filter(group=group).select_related("user").order_by("-created_at", "-pk")
    )


def invite_links(group: Group) -> QuerySet[InviteLink]:
    """The group's links not revoked (expired and used-up ones too, so managers see why), newest first."""
    return InviteLink.objects.filter(group=group, revoked_at__isnull=True).order_by("-created_at", "-pk")
