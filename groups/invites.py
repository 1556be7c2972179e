"""Invite links: the owner and admins make links that bring anyone signed in into the group (or,
with needs_approval, to a join request), friends of its members or not. A link is an unguessable
token; it stops working when revoked, past its expiry, used up, or when the group is dissolved.
A use is counted with one conditional UPDATE, so concurrent joins never exceed max_uses."""

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.access import require_active
from accounts.models import User
from chats.models import ChatMember
from chats.selectors import member_count
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.ratelimit import rate_limit_named

from .access import access_group, require_manager, require_not_banned
from .models import Group, InviteLink, JoinRequest
from .services import add_member, open_join_request

MAX_INVITE_SECONDS = 366 * 86400
MAX_INVITE_USES = 100_000


def invite_data(link: InviteLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "group_id": link.group_id,
        "token": link.token,
        "creator_id": link.creator_id,
        "needs_approval": link.needs_approval,
        "expires_at": link.expires_at,
        "max_uses": link.max_uses,
        "uses": link.uses,
        "created_at": link.created_at,
    }


def _bounded(name: str, value: int | None, top: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= top):
        raise validation_error(name, "range", f"{name} is 1 to {top}, or none.")


def invite_create(
    *,
    actor: User,
    group_id: int,
    needs_approval: bool = False,
    expires_in: int | None = None,
    max_uses: int | None = None,
) -> InviteLink:
    """Owner or admin: a new link, valid `expires_in` seconds (None: until revoked) for up to
    `max_uses` joins (None: any number)."""
    _bounded("expires_in", expires_in, MAX_INVITE_SECONDS)
    _bounded("max_uses", max_uses, MAX_INVITE_USES)
    group, member = access_group(actor, group_id)
    require_manager(member)
    with transaction.atomic():
        link = InviteLink.objects.create(
            group=group,
            token=secrets.token_urlsafe(24),
            creator=actor,
            needs_approval=bool(needs_approval),
            expires_at=timezone.now() + timedelta(seconds=expires_in) if expires_in else None,
            max_uses=max_uses,
        )
        audit.record(actor, "invite.create", "invite", link.pk, group.pk)
    return link


def invite_revoke(*, actor: User, group_id: int, invite_id: int) -> None:
    """Owner or admin: the link stops working at once (revoking twice: NOT_FOUND)."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    with transaction.atomic():
        revoked = InviteLink.objects.filter(pk=invite_id, group=group, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not revoked:
            raise not_found("Invite link")
        audit.record(actor, "invite.revoke", "invite", invite_id, group.pk)


def _refusal(reason: str, message: str) -> DomainError:
    return DomainError(ErrorCode.CONFLICT, message, {"reason": reason})


def _usable_link(actor: User, token: str) -> InviteLink:
    """The link behind `token` if `actor` may follow it now, else the reason why not."""
    require_active(actor)
    if actor.is_bot:
        raise permission_denied("bot", "Invite links are for people; a bot's owner adds it.")
    link = InviteLink.objects.select_related("group").filter(token=token).first() if token else None
    if link is None:
        raise not_found("Invite link")
    if link.group.dissolved_at is not None:
        raise _refusal("dissolved", "This group has been dissolved.")
    if link.revoked_at is not None:
        raise _refusal("revoked", "This invite link has been revoked.")
    if link.expires_at is not None and link.expires_at <= timezone.now():
        raise _refusal("expired", "This invite link has expired.")
    if link.max_uses is not None and link.uses >= link.max_uses:
        raise _refusal("used_up", "This invite link has been used up.")
    require_not_banned(link.group_id, actor.pk)
    return link


def invite_preview(*, actor: User, token: str) -> dict[str, Any]:
    """What someone holding the link sees before joining: the group's name, avatar and size,
    whether joining needs approval, and whether they are in it or have asked already."""
    link = _usable_link(actor, token)
    group: Group = link.group
    counted = Group.objects.filter(pk=group.pk).annotate(members=member_count("pk")).get()
    return {
        "group_id": group.pk,
        "name": group.name,
        "avatar_url": group.avatar_url,
        "member_count": counted.members or 0,
        "needs_approval": link.needs_approval,
        "expires_at": link.expires_at,
        "is_member": ChatMember.objects.filter(chat_id=group.pk, user=actor).exists(),
        "requested": JoinRequest.objects.filter(
            group=group, user=actor, status=JoinRequest.Status.PENDING
        ).exists(),
    }


def invite_join(*, actor: User, token: str, comment: str = "") -> ChatMember | JoinRequest:
    """Join through a link (its creator is the operator), or with needs_approval open a join
    request. Each success uses the link once; every attempt counts against RATE_LIMIT_JOIN_REQUESTS."""
    rate_limit_named("JOIN_REQUESTS", actor.pk)
    link = _usable_link(actor, token)
    group = link.group
    if ChatMember.objects.filter(chat_id=group.pk, user=actor).exists():
        raise _refusal("already_member", "Already a member.")
    with transaction.atomic():
        # The use is taken first, conditionally: under concurrency the row lock serializes the
        # updates and each re-checks `uses < max_uses`, so max_uses is never exceeded.
        usable = Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))
        if not InviteLink.objects.filter(usable, pk=link.pk, revoked_at__isnull=True).update(
            uses=F("uses") + 1
        ):
            raise _refusal("used_up", "This invite link has been used up.")
        if link.needs_approval:
            return open_join_request(group, actor, operator=actor, comment=comment or "")
        return add_member(group, actor, link.creator or actor)
