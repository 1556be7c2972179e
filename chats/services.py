"""Every change to chats and messages."""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish

from .access import access_chat, access_message, can_moderate_chat, chat_audience
from .events import message_data
from .models import Chat, ChatMember, Message

CONTENT_TYPES = (Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE)


def private_chat_ensure(*, user_a: User, user_b: User) -> Chat:
    """The one private chat of two people, created on first need. Internal: callers check that the
    two may talk (friends, or a private-chat peer)."""
    low, high = sorted((user_a.pk, user_b.pk))
    with transaction.atomic():
        chat, created = Chat.objects.get_or_create(
            private_key=f"{low}:{high}", defaults={"type": Chat.Type.PRIVATE}
        )
        if created:
            ChatMember.objects.bulk_create(
                [ChatMember(chat=chat, user_id=low), ChatMember(chat=chat, user_id=high)]
            )
    return chat


def _clean_content(content: Any, message_type: str) -> str:
    if not isinstance(content, str):
        raise validation_error("content", "type", "content must be a string.")
    content = content.strip()
    limit = settings.IMSUITE["MESSAGE_MAX_LENGTH"]
    if not content:
        raise validation_error("content", "empty", "A message cannot be empty.")
    if len(content) > limit:
        raise validation_error("content", "too_long", f"A message is at most {limit} characters.")
    if message_type in (Message.Type.IMAGE, Message.Type.FILE) and not content.startswith(
        ("https://", "http://")
    ):
        raise validation_error("content", "not_url", "An image or file message carries its http(s) URL.")
    return content


def _check_may_send(member: ChatMember) -> None:
    from groups.selectors import active_mute_until

    if member.chat.type == Chat.Type.GROUP:
        group = getattr(member.chat, "group", None)
        if group is not None and group.dissolved_at is not None:
            raise permission_denied("dissolved", "This group has been dissolved.")
        until = active_mute_until(member)
        if until is not None:
            raise permission_denied("muted", "You are muted in this group.", until=until.isoformat())


def message_send(
    *,
    actor: User,
    chat_id: int,
    content: Any,
    message_type: str = Message.Type.TEXT,
    reply_to_id: int | None = None,
    client_msg_id: str | None = None,
) -> tuple[Message, bool]:
    """Store a message and announce it to every member. Returns (message, created); a repeated
    client_msg_id returns the original message and stores nothing, so clients may retry safely."""
    if client_msg_id is not None and (not isinstance(client_msg_id, str) or not 0 < len(client_msg_id) <= 64):
        raise validation_error("client_msg_id", "format", "client_msg_id is a string of 1 to 64 characters.")
    member = access_chat(actor, chat_id)
    if client_msg_id is not None:
        earlier = Message.objects.filter(sender=actor, client_msg_id=client_msg_id).first()
        if earlier is not None:
            return earlier, False
    if message_type not in CONTENT_TYPES:
        raise validation_error("message_type", "choice", "message_type is text, image or file.")
    content = _clean_content(content, message_type)
    _check_may_send(member)
    if reply_to_id is not None and not Message.objects.filter(pk=reply_to_id, chat_id=chat_id).exists():
        raise validation_error(
            "reply_to_id", "not_in_chat", "You can only reply to a message of the same chat."
        )
    try:
        with transaction.atomic():
            message = Message.objects.create(
                chat_id=chat_id,
                sender=actor,
                content=content,
                message_type=message_type,
                reply_to_id=reply_to_id,
                client_msg_id=client_msg_id,
            )
            Chat.objects.filter(pk=chat_id).update(last_message_at=message.created_at)
            publish("message.new", chat_audience(chat_id), {"message": message_data(message)})
    except IntegrityError:  # the same client_msg_id raced in from two connections
        return Message.objects.get(sender=actor, client_msg_id=client_msg_id), False
    return message, True


def message_edit(*, actor: User, message_id: int, content: Any) -> Message:
    """The sender edits their own text within the edit window."""
    message, _member = access_message(actor, message_id)
    if message.sender_id != actor.pk:
        raise permission_denied("not_sender", "Only the sender can edit a message.")
    if message.is_deleted:
        raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
    window = settings.IMSUITE["MESSAGE_EDIT_WINDOW_SECONDS"]
    if (timezone.now() - message.created_at).total_seconds() > window:
        raise permission_denied("edit_window", "This message is too old to edit.", window_seconds=window)
    message.content = _clean_content(content, message.message_type)
    message.is_edited = True
    message.updated_at = timezone.now()
    with transaction.atomic():
        message.save(update_fields=["content", "is_edited", "updated_at"])
        publish("message.edit", chat_audience(message.chat_id), {"message": message_data(message)})
    return message


def message_delete(*, actor: User, message_id: int) -> Message:
    """Recall a message: its sender, a group owner or admin, or a moderator. The row stays in
    history under its id; its content is erased."""
    message, member = access_message(actor, message_id)
    if message.sender_id != actor.pk and not can_moderate_chat(actor, member, message.chat):
        raise permission_denied("not_allowed", "You cannot delete this message.")
    if message.is_deleted:
        return message
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.content = ""
    with transaction.atomic():
        message.save(update_fields=["deleted_at", "deleted_by", "content"])
        publish(
            "message.delete",
            chat_audience(message.chat_id),
            {
                "message_id": message.pk,
                "chat_id": message.chat_id,
                "sender_id": message.sender_id,
                "deleted_by": actor.pk,
                "deleted_at": message.deleted_at,
                "chat_type": message.chat.type,
            },
        )
    return message


def message_read(*, actor: User, message_id: int) -> ChatMember:
    """Move the reader's read position forward (never back) to this message."""
    message, member = access_message(actor, message_id)
    if member is None:
        raise not_found("Message")
    with transaction.atomic():
        moved = ChatMember.objects.filter(pk=member.pk, last_read_message_id__lt=message.pk).update(
            last_read_message_id=message.pk
        )
        if moved:
            member.last_read_message_id = message.pk
            audience = {actor.pk} | ({message.sender_id} if message.sender_id else set())
            publish(
                "message.read",
                audience,
                {
                    "message_id": message.pk,
                    "chat_id": message.chat_id,
                    "read_by": actor.pk,
                    "read_at": timezone.now(),
                },
            )
    return member
