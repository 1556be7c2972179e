"""Every change to groups: creation, settings, members and roles, mutes, bans, ownership, notices,
join requests, leaving and dissolving (invite links: groups.invites). Each checks the actor's rank
itself, writes in one transaction, records moderation steps in the audit log, and publishes group.*
events after commit."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import require_active
from accounts.models import Friendship, User
from accounts.selectors import user_ref
from chats.access import chat_audience
from chats.models import Chat, ChatMember, Role
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import DomainEvent, publish, publish_events
from imsuite.ratelimit import rate_limit_named
from media.avatars import avatar_replaced, avatar_stored

from .access import (
    RANK,
    access_group,
    access_member,
    rank,
    require_manager,
    require_not_banned,
    require_outranks,
)
from .models import Group, GroupBan, JoinRequest, Mute, Notice
from .selectors import active_mute_until, ban_in_force

MAX_MUTE_SECONDS = 30 * 86400  # the longest mute, as in most chat products
MAX_BAN_SECONDS = 366 * 86400  # a timed ban lasts up to a year; without a duration it is for good


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise validation_error("name", "empty", "A group needs a name.")
    name = name.strip()
    if len(name) > 64:
        raise validation_error("name", "too_long", "A group name is at most 64 characters.")
    return name


def addable_user_ids(actor: User, user_ids: Iterable[int]) -> set[int]:
    """Of these users, the ones the actor may add to a group: their friends and their own bots."""
    wanted = set(user_ids) - {actor.pk}
    friends = set(
        Friendship.objects.filter(user=actor, friend_id__in=wanted).values_list("friend_id", flat=True)
    )
    bots = set(User.objects.filter(pk__in=wanted, owner=actor, is_bot=True).values_list("pk", flat=True))
    return friends | bots


def group_create(*, actor: User, name: str, avatar_url: str = "", member_ids: Iterable[int] = ()) -> Group:
    """The creator becomes owner; initial members must be the creator's friends or own bots."""
    name = _check_name(name)
    wanted = set(member_ids) - {actor.pk}
    allowed = addable_user_ids(actor, wanted)
    if wanted - allowed:
        raise permission_denied(
            "not_friends",
            "You can only add your friends and your own bots.",
            user_ids=sorted(wanted - allowed),
        )
    with transaction.atomic():
        require_active(actor)
        chat = Chat.objects.create(type=Chat.Type.GROUP)
        group = Group.objects.create(chat=chat, name=name, avatar_url=avatar_url or "", owner=actor)
        users = User.objects.in_bulk(allowed)
        added = [ChatMember(chat=chat, user=users[uid], role=Role.MEMBER) for uid in sorted(allowed)]
        ChatMember.objects.bulk_create([ChatMember(chat=chat, user=actor, role=Role.OWNER), *added])
        publish(
            "group.created",
            {actor.pk, *allowed},
            {
                "group_id": chat.pk,
                "name": name,
                "owner_id": actor.pk,
                "member_ids": sorted({actor.pk, *allowed}),
            },
        )
        # People learn the members from group.created; the bot protocols have no such event, only
        # one per member added, so the group's bots hear of each member added with it (themselves too).
        bots = frozenset(uid for uid, user in users.items() if user.is_bot)
        publish_events([_member_added(group, member, actor, bots, None) for member in added] if bots else [])
    return group


# ---- shapes shared by events and REST --------------------------------------------------------


def group_data(group: Group) -> dict[str, Any]:
    return {
        "group_id": group.pk,
        "name": group.name,
        "avatar_url": group.avatar_url,
        "owner_id": group.owner_id,
        "members_mention_all": group.members_mention_all,
        "dissolved_at": group.dissolved_at,
    }


def member_data(member: ChatMember, muted_until: datetime | None = None) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "user": user_ref(member.user),
        "username": member.user.username,
        "role": member.role,
        "level": member.level,
        "card": member.card,
        "title": member.card or member.user.display_name,
        "muted_until": muted_until,
        "joined_at": member.joined_at,
    }


def _members(group: Group) -> set[int]:
    return chat_audience(group.pk)


def _managers(group: Group) -> set[int]:
    return set(
        ChatMember.objects.filter(chat_id=group.pk, role__in=[Role.OWNER, Role.ADMIN]).values_list(
            "user_id", flat=True
        )
    )


# ---- settings ------------------------------------------------------------------------------


def group_update(
    *,
    actor: User,
    group_id: int,
    name: str | None = None,
    avatar_url: str | None = None,
    members_mention_all: bool | None = None,
) -> Group:
    """Rename, change the avatar, or let plain members use @all (or not): owner or admin."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _check_name(name)
    if avatar_url is not None:
        if avatar_url and not (
            isinstance(avatar_url, str) and avatar_url.startswith(("https://", "http://"))
        ):
            raise validation_error("avatar_url", "not_url", "An avatar is an http(s) URL.")
        changes["avatar_url"] = avatar_url
    if members_mention_all is not None:
        if not isinstance(members_mention_all, bool):
            raise validation_error("members_mention_all", "invalid", "members_mention_all is true or false.")
        changes["members_mention_all"] = members_mention_all
    if not changes:
        return group
    return _group_save(group, actor, changes)


def group_avatar_upload(*, actor: User, group_id: int, upload: UploadedFile) -> Group:
    """An uploaded picture as the group's avatar: whoever may change it by URL (owner, admin). The
    uploaded one it replaces is removed. Counts against the upload rate limit."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    with avatar_stored(actor=actor, upload=upload) as url:
        return _group_save(group, actor, {"avatar_url": url})


def _group_save(group: Group, actor: User, changes: dict[str, Any]) -> Group:
    with transaction.atomic():
        if "avatar_url" in changes:
            avatar_replaced(group.avatar_url, changes["avatar_url"])
        for key, value in changes.items():
            setattr(group, key, value)
        group.save(update_fields=list(changes))
        audit.record(actor, "group.update", "group", group.pk, group.pk, **changes)
        publish("group.updated", _members(group), {**group_data(group), "operator_id": actor.pk})
    return group


# ---- members -------------------------------------------------------------------------------


def add_member(group: Group, user: User, operator: User) -> ChatMember:
    """Make `user` a member (if not already), settle their pending request, tell the group. Every
    way in passes here, so a ban in force refuses them all."""
    require_not_banned(group.pk, user.pk)
    member, created = ChatMember.objects.get_or_create(chat_id=group.pk, user=user)
    if created:
        member.user = user
        # A request still pending for someone added directly is settled by the addition.
        JoinRequest.objects.filter(group=group, user=user, status=JoinRequest.Status.PENDING).update(
            status=JoinRequest.Status.APPROVED, decided_by=operator, decided_at=timezone.now()
        )
        audience = frozenset(_members(group))
        publish_events([_member_added(group, member, operator, audience, active_mute_until(member))])
    return member


def _member_added(
    group: Group, member: ChatMember, operator: User, audience: frozenset[int], muted_until: datetime | None
) -> DomainEvent:
    data = {
        "group_id": group.pk,
        "user_id": member.user_id,
        "operator_id": operator.pk,
        "member": member_data(member, muted_until),
    }
    return DomainEvent("group.member_added", audience, data)


def member_add(*, actor: User, group_id: int, user_id: int) -> ChatMember | JoinRequest:
    """An owner or admin adds a friend or own bot at once; a plain member's invitation becomes a
    join request (operator = the member) for the owner and admins to decide."""
    group, member = access_group(actor, group_id)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not addable_user_ids(actor, [user_id]):
        raise permission_denied("not_friends", "You can only add your friends and your own bots.")
    if ChatMember.objects.filter(chat_id=group.pk, user=user).exists():
        raise DomainError(ErrorCode.CONFLICT, "Already a member.", {"reason": "already_member"})
    if rank(member) < RANK[Role.ADMIN]:
        return open_join_request(group, user, operator=actor, comment="")
    with transaction.atomic():
        added = add_member(group, user, actor)
        audit.record(actor, "member.add", "user", user.pk, group.pk)
    return added


def member_kick(*, actor: User, group_id: int, user_id: int) -> None:
    """The owner may kick anyone else, an admin only plain members. Nobody kicks the owner, not even
    a site moderator: a group must keep its owner (dissolve it instead)."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    target = access_member(group, user_id)
    if target.role == Role.OWNER:
        raise permission_denied("rank", "The owner cannot be kicked; dissolve the group instead.")
    require_outranks(member, target)
    with transaction.atomic():
        _remove_member(group, target, operator=actor, reason="kick")
        audit.record(actor, "member.kick", "user", user_id, group.pk)


def _remove_member(group: Group, target: ChatMember, operator: User, reason: str) -> None:
    audience = _members(group)
    target.delete()
    Mute.objects.filter(group=group, user_id=target.user_id).delete()
    data = {"group_id": group.pk, "user_id": target.user_id, "operator_id": operator.pk, "reason": reason}
    publish("group.member_removed", audience, data)


def member_update(
    *,
    actor: User,
    group_id: int,
    user_id: int,
    role: str | None = None,
    card: str | None = None,
    level: str | None = None,
) -> ChatMember:
    """role (admin|member) by the owner; card by the member themself or a manager above them;
    level by a manager above the member."""
    group, member = access_group(actor, group_id)
    target = access_member(group, user_id)
    changes: dict[str, Any] = {}
    if role is not None:
        if role not in (Role.ADMIN, Role.MEMBER):
            raise validation_error("role", "choice", "role is admin or member.")
        if rank(member) < RANK[Role.OWNER]:
            raise permission_denied("not_owner", "Only the owner appoints and removes admins.")
        if target.role == Role.OWNER:
            raise permission_denied("rank", "The owner's role cannot change.")
        changes["role"] = role
    if card is not None:
        if not isinstance(card, str) or len(card.strip()) > 64:
            raise validation_error("card", "too_long", "A card is at most 64 characters.")
        if target.user_id != actor.pk:
            require_manager(member)
            require_outranks(member, target)
        changes["card"] = card.strip()
    if level is not None:
        if not isinstance(level, str) or not 0 < len(level.strip()) <= 32:
            raise validation_error("level", "format", "A level is a string of 1 to 32 characters.")
        require_manager(member)
        if target.user_id != actor.pk:
            require_outranks(member, target)
        changes["level"] = level.strip()
    changes = {k: v for k, v in changes.items() if getattr(target, k) != v}
    if not changes:
        return target
    with transaction.atomic():
        previous_role = target.role
        for key, value in changes.items():
            setattr(target, key, value)
        target.save(update_fields=list(changes))
        if target.user_id != actor.pk or "role" in changes:
            audit.record(actor, "member.update", "user", target.user_id, group.pk, **changes)
        publish_events([_member_updated(group, target, actor, sorted(changes), previous_role)])
    return target


def _member_updated(
    group: Group, target: ChatMember, operator: User, changed: list[str], previous_role: str
) -> DomainEvent:
    data = {
        "group_id": group.pk,
        "user_id": target.user_id,
        "operator_id": operator.pk,
        "changed": changed,
        "previous_role": previous_role,
        "member": member_data(target, active_mute_until(target)),
    }
    return DomainEvent("group.member_updated", frozenset(_members(group)), data)


def group_transfer(*, actor: User, group_id: int, user_id: int) -> Group:
    """The owner hands the group to another member (a person, not a bot), staying on as an admin.
    Only the owner: a site moderator does not give someone else's group away."""
    group, member = access_group(actor, group_id)
    if member is None or member.role != Role.OWNER:
        raise permission_denied("not_owner", "Only the owner can hand the group over.")
    if user_id == actor.pk:
        raise permission_denied("self", "You already own this group.")
    target = access_member(group, user_id)
    if target.user.is_bot:
        raise permission_denied("bot", "A bot cannot own a group.")
    with transaction.atomic():
        # One handover at a time: a second one waits, then finds the actor no longer owner.
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.owner_id != actor.pk:
            raise permission_denied("not_owner", "Only the owner can hand the group over.")
        target_role = target.role
        member.role, target.role = Role.ADMIN, Role.OWNER
        member.save(update_fields=["role"])
        target.save(update_fields=["role"])
        group.owner = target.user
        group.save(update_fields=["owner"])
        audit.record(actor, "group.transfer", "user", target.user_id, group.pk)
        publish_events(
            [
                _member_updated(group, target, actor, ["role"], target_role),
                _member_updated(group, member, actor, ["role"], Role.OWNER),
                DomainEvent(
                    "group.updated",
                    frozenset(_members(group)),
                    {**group_data(group), "operator_id": actor.pk},
                ),
            ]
        )
    return group


# ---- mutes -----------------------------------------------------------------------------------


def group_ban(*, actor: User, group_id: int, duration: int, user_id: int | None = None) -> Mute | None:
    """Mute a member (or, without user_id, the whole group) for `duration` seconds; 0 lifts it.
    An admin cannot mute the owner or another admin; nobody mutes themself."""
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= MAX_MUTE_SECONDS:
        raise validation_error("duration", "range", f"duration is 0 to {MAX_MUTE_SECONDS} seconds.")
    group, member = access_group(actor, group_id)
    require_manager(member)
    if user_id is not None:
        target = access_member(group, user_id)
        if target.user_id == actor.pk:
            raise permission_denied("self", "You cannot mute yourself.")
        require_outranks(member, target)
    with transaction.atomic():
        Mute.objects.filter(group=group, user_id=user_id).delete()
        mute = None
        until = None
        if duration:
            until = timezone.now() + timedelta(seconds=duration)
            mute = Mute.objects.create(group=group, user_id=user_id, until=until, operator=actor)
        audit.record(
            actor,
            "group.ban" if duration else "group.unban",
            "user" if user_id else "group",
            user_id or group.pk,
            group.pk,
            duration=duration,
        )
        _announce_ban(group, user_id, actor.pk, duration, until)
    return mute


def _announce_ban(
    group: Group, user_id: int | None, operator_id: int | None, duration: int, until: Any
) -> None:
    data = {
        "group_id": group.pk,
        "user_id": user_id,
        "operator_id": operator_id,
        "duration": duration,
        "until": until,
    }
    publish("group.ban", _members(group), data)


def mutes_expire(*, now: datetime | None = None) -> int:
    """End every mute whose time is up, announced like a lift (duration 0). Run by `runtimers`."""
    now = now or timezone.now()
    ended = 0
    for mute in Mute.objects.filter(until__lte=now).select_related("group"):
        with transaction.atomic():
            if Mute.objects.filter(pk=mute.pk).delete()[0]:  # another timer process may have taken it
                _announce_ban(mute.group, mute.user_id, mute.operator_id, 0, None)
                ended += 1
    return ended


# ---- bans (keeping someone out; distinct from a mute, which the protocols call a "ban") ---------


def ban_data(ban: GroupBan) -> dict[str, Any]:
    return {
        "group_id": ban.group_id,
        "user_id": ban.user_id,
        "user": user_ref(ban.user),
        "operator_id": ban.operator_id,
        "reason": ban.reason,
        "until": ban.until,
        "created_at": ban.created_at,
    }


def member_ban(
    *, actor: User, group_id: int, user_id: int, duration: int | None = None, reason: str = ""
) -> GroupBan:
    """Keep someone out of the group, for `duration` seconds or (None) until lifted: a member is
    removed (told with reason "ban"), their pending requests and invitations are rejected, and
    joining again in any way is refused. The owner and admins ban, by the kick rank rules (an admin
    bans plain members and outsiders; nobody bans the owner or themself)."""
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= MAX_BAN_SECONDS
    ):
        raise validation_error("duration", "range", f"duration is 1 to {MAX_BAN_SECONDS} seconds, or none.")
    if not isinstance(reason, str) or len(reason.strip()) > 200:
        raise validation_error("reason", "too_long", "A reason is at most 200 characters.")
    group, member = access_group(actor, group_id)
    require_manager(member)
    if user_id == actor.pk:
        raise permission_denied("self", "You cannot ban yourself.")
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise not_found("User")
    target = ChatMember.objects.filter(chat_id=group.pk, user=user).first()
    if target is not None:
        if target.role == Role.OWNER:
            raise permission_denied("rank", "The owner cannot be banned; dissolve the group instead.")
        require_outranks(member, target)
    until = timezone.now() + timedelta(seconds=duration) if duration else None
    with transaction.atomic():
        ban, _ = GroupBan.objects.update_or_create(
            group=group,
            user=user,
            defaults={"until": until, "reason": reason.strip(), "operator": actor},
        )
        if target is not None:
            _remove_member(group, target, operator=actor, reason="ban")
        JoinRequest.objects.filter(group=group, user=user, status=JoinRequest.Status.PENDING).update(
            status=JoinRequest.Status.REJECTED, decided_by=actor, decided_at=timezone.now()
        )
        audit.record(actor, "member.ban", "user", user.pk, group.pk, duration=duration, reason=reason.strip())
    return ban


def ban_lift(*, actor: User, group_id: int, user_id: int) -> None:
    """Owner or admin lets a banned person back (they still have to join again)."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    with transaction.atomic():
        ban = ban_in_force(group.pk, user_id)
        if ban is None:
            raise not_found("Ban")
        ban.delete()
        audit.record(actor, "member.unban", "user", user_id, group.pk)


# ---- notices -------------------------------------------------------------------------------


def notice_data(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.pk,
        "group_id": notice.group_id,
        "author_id": notice.author_id,
        "content": notice.content,
        "image": notice.image_url or None,
        "created_at": notice.created_at,
    }


def notice_create(*, actor: User, group_id: int, content: str, image: str | None = None) -> Notice:
    group, member = access_group(actor, group_id)
    require_manager(member)
    if not isinstance(content, str) or not content.strip():
        raise validation_error("content", "empty", "A notice needs content.")
    if len(content) > 4000:
        raise validation_error("content", "too_long", "A notice is at most 4000 characters.")
    if image and not (isinstance(image, str) and image.startswith(("https://", "http://"))):
        raise validation_error("image", "not_url", "image is an http(s) URL.")
    with transaction.atomic():
        notice = Notice.objects.create(
            group=group, author=actor, content=content.strip(), image_url=image or ""
        )
        audit.record(actor, "notice.create", "notice", notice.pk, group.pk)
        publish("group.notice", _members(group), {"group_id": group.pk, "notice": notice_data(notice)})
    return notice


# ---- join requests ---------------------------------------------------------------------------


def join_request_data(request: JoinRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "group_id": request.group_id,
        "user_id": request.user_id,
        "user": user_ref(request.user),
        "operator_id": request.operator_id,
        "comment": request.comment,
        "status": request.status,
        "created_at": request.created_at,
        "decided_by": request.decided_by_id,
        "decided_at": request.decided_at,
    }


def open_join_request(group: Group, user: User, operator: User, comment: str) -> JoinRequest:
    """A pending request for the owner and admins (an invitation when operator is not the user);
    refused while the user is banned."""
    require_not_banned(group.pk, user.pk)
    if len(comment) > 200:
        raise validation_error("comment", "too_long", "A comment is at most 200 characters.")
    try:
        with transaction.atomic():
            request = JoinRequest.objects.create(
                group=group, user=user, operator=operator, comment=comment.strip()
            )
            publish(
                "group.join_request",
                _managers(group) | {user.pk, operator.pk},
                {
                    "group_id": group.pk,
                    "request": join_request_data(request),
                    "manager_ids": sorted(_managers(group)),
                },
            )
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "A request is already pending.", {"reason": "already_requested"}
        ) from exc
    return request


def join_request_create(*, actor: User, group_id: int, comment: str = "") -> JoinRequest:
    """Ask to join a group (its id is enough to ask; the owner and admins decide). Every attempt
    counts against RATE_LIMIT_JOIN_REQUESTS."""
    rate_limit_named("JOIN_REQUESTS", actor.pk)
    group = Group.objects.filter(pk=group_id, dissolved_at__isnull=True).first()
    if group is None:
        raise not_found("Group")
    if ChatMember.objects.filter(chat_id=group.pk, user=actor).exists():
        raise DomainError(ErrorCode.CONFLICT, "Already a member.", {"reason": "already_member"})
    return open_join_request(group, actor, operator=actor, comment=comment or "")


def join_request_decide(*, actor: User, group_id: int, request_id: int, approve: bool) -> JoinRequest:
    group, member = access_group(actor, group_id)
    require_manager(member)
    with transaction.atomic():
        request = (
            JoinRequest.objects.select_for_update()
            .select_related("user")
            .filter(pk=request_id, group=group)
            .first()
        )
        if request is None:
            raise not_found("Join request")
        if request.status != JoinRequest.Status.PENDING:
            raise DomainError(
                ErrorCode.CONFLICT, f"This request was already {request.status}.", {"reason": request.status}
            )
        request.status = JoinRequest.Status.APPROVED if approve else JoinRequest.Status.REJECTED
        request.decided_by, request.decided_at = actor, timezone.now()
        request.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(
            actor,
            "join_request.approve" if approve else "join_request.reject",
            "user",
            request.user_id,
            group.pk,
        )
        publish(
            "group.join_request",
            _managers(group) | {request.user_id, request.operator_id},
            {
                "group_id": group.pk,
                "request": join_request_data(request),
                "manager_ids": sorted(_managers(group)),
            },
        )
        if approve and request.user.is_active:
            operator = User.objects.get(pk=request.operator_id)
            add_member(group, request.user, operator)
    return request


# ---- leaving and dissolving ----------------------------------------------------------------


def group_leave(*, actor: User, group_id: int) -> None:
    """A member leaves; the owner leaving dissolves the group."""
    group, member = access_group(actor, group_id)
    if member is None:
        raise not_found("Group")
    if member.role == Role.OWNER:
        group_dissolve(actor=actor, group_id=group_id)
        return
    with transaction.atomic():
        _remove_member(group, member, operator=actor, reason="leave")


def group_dissolve(*, actor: User, group_id: int) -> Group:
    """The owner (or a site moderator) dissolves the group: everyone is removed from it and its
    history stays, read-only, for those who were in it."""
    group, member = access_group(actor, group_id)
    if rank(member) < RANK[Role.OWNER]:
        raise permission_denied("not_owner", "Only the owner can dissolve the group.")
    with transaction.atomic():
        audience = _members(group)
        group.dissolved_at = timezone.now()
        group.save(update_fields=["dissolved_at"])
        Mute.objects.filter(group=group).delete()
        JoinRequest.objects.filter(group=group, status=JoinRequest.Status.PENDING).update(
            status=JoinRequest.Status.REJECTED, decided_by=actor, decided_at=group.dissolved_at
        )
        audit.record(actor, "group.dissolve", "group", group.pk, group.pk)
        publish_events(_dissolve_events(group, actor, audience))
    return group


def _dissolve_events(group: Group, actor: User, members: set[int]) -> list[DomainEvent]:
    """Each member hears of their own removal only, then of the dissolution: 2 events per member,
    where a removal of everyone told to everyone was members² (21 members: 462)."""
    removed = [
        DomainEvent(
            "group.member_removed",
            frozenset({user_id}),
            {"group_id": group.pk, "user_id": user_id, "operator_id": actor.pk, "reason": "dissolve"},
        )
        for user_id in sorted(members)
    ]
    dissolved = DomainEvent(
        "group.dissolved", frozenset(members), {"group_id": group.pk, "operator_id": actor.pk}
    )
    return [*removed, dissolved]
