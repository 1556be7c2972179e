"""Blocking (issue 21, point 2): one person stops another from reaching them.

The effects are enforced by the services that do each thing (private chats, sending, friend
requests, calls, presence, typing, push) through accounts.selectors' block reads; this module only
creates and lifts blocks. docs/architecture.md, "Blocking", names the choices."""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from imsuite.errors import not_found, permission_denied
from imsuite.events import publish

from . import presence
from .access import access_user, require_active
from .models import Block, FriendRequest, User
from .selectors import user_ref
from .services import friend_request_data, permission_to_self, presence_audience


def block_data(block: Block) -> dict[str, Any]:
    return {"user_id": block.blocked_id, "user": user_ref(block.blocked), "created_at": block.created_at}


def block_create(*, actor: User, user_id: int) -> tuple[Block, bool]:
    """Block someone (a person or a bot, not oneself). Pending friend requests between the two are
    cancelled; a friendship stays (the block, not an unfriending, stops them). Idempotent: returns
    (block, created). The blocker's devices hear `user.blocked`; the blocked person, if they could
    see the blocker's presence, sees them go offline."""
    if actor.is_bot:
        raise permission_denied("bot", "Bots cannot block.")
    target = access_user(actor, user_id)
    if target.pk == actor.pk:
        raise permission_to_self()
    with transaction.atomic():
        block, created = Block.objects.get_or_create(blocker=actor, blocked=target)
        if created:
            _cancel_friend_requests(actor, target)
            publish("user.blocked", {actor.pk}, block_data(block))
            _presence_to(actor, target.pk, is_online=False, last_seen=None)
    return block, created


def block_remove(*, actor: User, user_id: int) -> None:
    """Lift one's block of someone; NOT_FOUND when there is none. The person sees the actor's
    presence again, at once if they are among those who hear it."""
    with transaction.atomic():
        require_active(actor)
        deleted, _ = Block.objects.filter(blocker=actor, blocked_id=user_id).delete()
        if not deleted:
            raise not_found("Block")
        publish("user.unblocked", {actor.pk}, {"user_id": user_id})
        last_seen = User.objects.filter(pk=actor.pk).values_list("last_seen", flat=True).first()
        _presence_to(actor, user_id, is_online=presence.is_online(actor.pk), last_seen=last_seen)


def _presence_to(actor: User, user_id: int, *, is_online: bool, last_seen: Any) -> None:
    if user_id in presence_audience(actor.pk, include_blocked=True):
        data = {"user_id": actor.pk, "is_online": is_online, "last_seen": last_seen, "user": user_ref(actor)}
        publish("presence", {user_id}, data)


def _cancel_friend_requests(actor: User, target: User) -> None:
    """Pending requests either way end as cancelled; both hear it, as they would of a refusal."""
    pending = FriendRequest.objects.select_related("from_user", "to_user").filter(
        Q(from_user=actor, to_user=target) | Q(from_user=target, to_user=actor),
        status=FriendRequest.Status.PENDING,
    )
    for request in pending:
        request.status = FriendRequest.Status.CANCELLED
        request.responded_at = timezone.now()
        request.save(update_fields=["status", "responded_at"])
        publish("friend.request_updated", {actor.pk, target.pk}, {"request": friend_request_data(request)})
