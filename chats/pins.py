"""Pinned messages (issue 22, point 3): group owners and admins pin in their group, either person
in a private chat. Pins are a chat's state, read with GET /api/chats/{id}/pins; the live events
message.pinned / message.unpinned (our additions) tell the chat's members. A recalled message is
unpinned with its recall (chats.services.message_delete)."""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.access import blocked_refusal
from accounts.models import User
from accounts.selectors import is_blocked_between, user_ref
from groups.models import Group
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, permission_denied
from imsuite.events import publish

from .access import access_chat, access_message, chat_audience
from .events import message_data, message_for_viewer
from .models import Chat, ChatMember, Message, Pin, Role


def _may_pin(actor: User, member: ChatMember | None, chat: Chat) -> None:
    """Refuse unless the actor may pin and unpin in this chat (the same rule for both)."""
    if member is None:  # a site moderator reads every chat but pins in none
        raise permission_denied("not_member", "Only the chat's members can pin messages.")
    if chat.type == Chat.Type.GROUP:
        if member.role not in (Role.OWNER, Role.ADMIN):
            raise permission_denied("not_admin", "Only the group's owner and admins can pin messages.")
        if Group.objects.filter(pk=chat.pk, dissolved_at__isnull=False).exists():
            raise permission_denied("dissolved", "This group has been dissolved.")
    else:
        peer = (
            ChatMember.objects.filter(chat_id=chat.pk)
            .exclude(user_id=actor.pk)
            .values_list("user_id", flat=True)
        )
        if any(is_blocked_between(actor.pk, peer_id) for peer_id in peer):
            raise blocked_refusal()


def message_pin(*, actor: User, message_id: int) -> Pin:
    """Pin a message in its chat; pinning a pinned message again changes nothing (no event)."""
    with transaction.atomic():
        message, member = access_message(actor, message_id, lock=True)
        _may_pin(actor, member, message.chat)
        if message.is_deleted:
            raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
        existing = Pin.objects.filter(chat_id=message.chat_id, message=message).first()
        if existing is not None:
            return existing
        limit = settings.IMSUITE["PINS_PER_CHAT_MAX"]
        if Pin.objects.filter(chat_id=message.chat_id).count() >= limit:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"A chat holds at most {limit} pins.",
                {"reason": "too_many_pins", "limit": limit},
            )
        pin = Pin.objects.create(
            chat_id=message.chat_id, message=message, pinned_by=actor, pinned_at=timezone.now()
        )
        _audit(actor, "message.pin", message)
        data = {"chat_id": message.chat_id, "message_id": message.pk, "pin": pin_data(pin, message, actor)}
        publish("message.pinned", chat_audience(message.chat_id), data)
    return pin


def message_unpin(*, actor: User, message_id: int) -> None:
    """Unpin a message; unpinning one that is not pinned changes nothing (no event)."""
    with transaction.atomic():
        message, member = access_message(actor, message_id, lock=True)
        _may_pin(actor, member, message.chat)
        if _unpin(actor, message):
            _audit(actor, "message.unpin", message)


def unpin_recalled(actor: User, message: Message) -> None:
    """A recalled message leaves the pins with its recall (in the recall's transaction; the recall
    itself is what the audit log keeps)."""
    _unpin(actor, message)


def _audit(actor: User, action: str, message: Message) -> None:
    """Pins in groups are a step of the group's admins, kept in the audit log; private chats' are not."""
    if message.chat.type == Chat.Type.GROUP:
        audit.record(actor, action, "message", message.pk, message.chat_id)


def _unpin(actor: User, message: Message) -> bool:
    if not Pin.objects.filter(chat_id=message.chat_id, message=message).delete()[0]:
        return False
    data = {"chat_id": message.chat_id, "message_id": message.pk, "unpinned_by": actor.pk}
    publish("message.unpinned", chat_audience(message.chat_id), data)
    return True


def pin_data(pin: Pin, message: Message, pinned_by: User | None) -> dict[str, Any]:
    return {
        "message": message_data(message),
        "pinned_by": user_ref(pinned_by),
        "pinned_at": pin.pinned_at,
    }


def chat_pins(*, actor: User, chat_id: int) -> list[dict[str, Any]]:
    """The chat's pins, newest first (at most PINS_PER_CHAT_MAX), for a member of the chat."""
    access_chat(actor, chat_id)
    pins = (
        Pin.objects.filter(chat_id=chat_id)
        .select_related("message", "pinned_by")
        .order_by("-pinned_at", "-id")[: settings.IMSUITE["PINS_PER_CHAT_MAX"]]
    )
    out = []
    for pin in pins:
        item = pin_data(pin, pin.message, pin.pinned_by)
        item["message"] = message_for_viewer(item["message"], actor.pk)
        out.append(item)
    return out
