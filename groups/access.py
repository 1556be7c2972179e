"""Fetch-and-authorize for groups, and who outranks whom."""

from accounts.access import is_moderator, require_active
from accounts.models import User
from chats.models import ChatMember, Role
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied

from .models import Group, GroupBan

RANK = {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1}
MODERATOR_RANK = 4  # site moderators (staff) act from admin with more than an owner's power


def access_group(
    actor: User, group_id: int, *, allow_dissolved: bool = False
) -> tuple[Group, ChatMember | None]:
    """The group and the actor's membership. Non-members get NOT_FOUND, except site moderators
    (membership None). Changes to a dissolved group are a CONFLICT."""
    group = Group.objects.select_related("chat").filter(pk=group_id).first()
    member = (
        ChatMember.objects.filter(chat_id=group_id, user=actor, user__is_active=True).first()
        if group
        else None
    )
    if member is None:
        require_active(actor)  # (accounts.access.require_active)
    if group is None or (member is None and not is_moderator(actor)):
        raise not_found("Group")
    if group.dissolved_at is not None and not allow_dissolved:
        raise DomainError(ErrorCode.CONFLICT, "This group has been dissolved.", {"reason": "dissolved"})
    return group, member


def rank(member: ChatMember | None) -> int:
    return MODERATOR_RANK if member is None else RANK[member.role]


def require_manager(member: ChatMember | None) -> None:
    """Owners, admins and site moderators manage a group."""
    if rank(member) < RANK[Role.ADMIN]:
        raise permission_denied("not_admin", "Only the group's owner and admins can do this.")


def require_outranks(actor_member: ChatMember | None, target: ChatMember) -> None:
    """An admin acts on plain members only; the owner on everyone else."""
    if rank(actor_member) <= rank(target):
        raise permission_denied("rank", "You cannot do this to a member of equal or higher rank.")


def access_member(group: Group, user_id: int) -> ChatMember:
    member = ChatMember.objects.select_related("user").filter(chat_id=group.pk, user_id=user_id).first()
    if member is None:
        raise not_found("Member")
    return member


def require_not_banned(group_id: int, user_id: int) -> None:
    """Refuse every way into a group while a ban of the person is in force."""
    if GroupBan.objects.in_force().filter(group_id=group_id, user_id=user_id).exists():
        raise permission_denied("banned", "Banned from this group.")
