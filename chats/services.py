"""Every change to chats and messages."""

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Friendship, User
from accounts.presence import online_user_ids
from accounts.selectors import user_ref
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit

from .access import access_chat, access_message, can_moderate_chat, chat_audience
from .models import Chat, ChatMember, Message, SeqCounter
from .selectors import chat_ref, message_delete_data, message_event_data

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


def next_seq() -> int:
    """The next change number. Call it last in the writing transaction: the counter row stays
    locked until commit, which makes seq order the commit order."""
    table = SeqCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE id = 1 RETURNING value")  # noqa: S608
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    top = Message.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    SeqCounter.objects.get_or_create(pk=1, defaults={"value": top})  # a fresh (or flushed) database
    return next_seq()


_NUMBERED_INSERT = """
WITH next AS (UPDATE chats_seqcounter SET value = value + 1 WHERE id = 1 RETURNING value)
INSERT INTO chats_message (chat_id, sender_id, content, message_type, reply_to_id, client_msg_id, created_at,
                           is_edited, seq, created_seq)
SELECT %s, %s, %s, %s, %s, %s, %s, false, next.value, next.value FROM next
RETURNING id, seq
"""


def _insert_numbered(message: Message) -> None:
    """Insert a new message with the next seq. On PostgreSQL one statement takes the number and
    inserts, so the counter row is locked for one round trip and the commit, not for the whole
    transaction; elsewhere (SQLite serializes writers anyway) it is two statements."""
    if connection.vendor != "postgresql":
        message.seq = message.created_seq = next_seq()
        message.save(force_insert=True)
        return
    with connection.cursor() as cursor:
        values = [
            message.chat_id,
            message.sender_id,
            message.content,
            message.message_type,
            message.reply_to_id,
            message.client_msg_id,
            message.created_at,
        ]
        cursor.execute(_NUMBERED_INSERT, values)
        row = cursor.fetchone()
    if row is None:  # a fresh (or flushed) database has no counter row yet
        message.seq = message.created_seq = next_seq()
        message.save(force_insert=True)
        return
    message.pk, message.seq = row
    message.created_seq = message.seq
    message._state.adding = False


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
        earlier = (
            Message.objects.filter(sender=actor, client_msg_id=client_msg_id).select_related("chat").first()
        )
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
    limits = settings.IMSUITE
    rate_limit("message", actor.pk, limits["RATE_LIMIT_MESSAGES"], limits["RATE_LIMIT_WINDOW_SECONDS"])
    ref = chat_ref(member.chat)
    audience = chat_audience(chat_id)
    try:
        with transaction.atomic():
            message = Message(
                chat=member.chat,
                sender=actor,
                content=content,
                message_type=message_type,
                reply_to_id=reply_to_id,
                client_msg_id=client_msg_id,
                created_at=timezone.now(),
            )
            Chat.objects.filter(pk=chat_id).update(last_message_at=message.created_at)
            _insert_numbered(message)  # last: the counter stays locked only until the commit
            data = message_event_data(message, ref)
            # What the bot protocol's sender object needs besides the client's: profile and group standing.
            data["sender_profile"] = {
                "sex": actor.sex,
                "age": actor.age or 0,
                "role": member.role,
                "level": member.level,
                "card": member.card,
            }
            publish("message.new", audience, data)
    except IntegrityError:  # the same client_msg_id raced in from two connections
        return Message.objects.select_related("chat").get(sender=actor, client_msg_id=client_msg_id), False
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
    ref = chat_ref(message.chat)
    with transaction.atomic():
        message.seq = next_seq()
        message.save(update_fields=["content", "is_edited", "updated_at", "seq"])
        publish("message.edit", chat_audience(message.chat_id), message_event_data(message, ref))
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
        message.seq = next_seq()
        message.save(update_fields=["deleted_at", "deleted_by", "content", "seq"])
        if actor.pk != message.sender_id:  # a recall by a moderator is a moderation step
            group_id = message.chat_id if message.chat.type == Chat.Type.GROUP else None
            audit.record(
                actor, "message.recall", "message", message.pk, group_id, sender_id=message.sender_id
            )
        publish("message.delete", chat_audience(message.chat_id), message_delete_data(message))
    return message


def message_read(*, actor: User, message_id: int, origin: str | None = None) -> ChatMember:
    """Move the reader's read position forward (never back) to this message. The receipt goes to
    the message's sender and the reader's other devices (`origin`, the connection that read, is
    skipped), not to the whole group."""
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
            data = {
                "message_id": message.pk,
                "chat_id": message.chat_id,
                "read_by": actor.pk,
                "read_at": timezone.now(),
                "origin": origin,
            }
            publish("message.read", audience, data)
    return member


def typing_relay(*, actor: User, chat_id: int, is_typing: bool) -> bool:
    """Tell the chat's other online members that the actor is (or stopped) typing. A start is
    relayed at most once per user and chat every TYPING_THROTTLE_SECONDS; a stop always is.
    Returns whether anything was relayed."""
    access_chat(actor, chat_id)
    throttle_key = f"typing:{actor.pk}:{chat_id}"
    if is_typing:
        if not cache.add(throttle_key, 1, timeout=settings.IMSUITE["TYPING_THROTTLE_SECONDS"]):
            return False
    else:
        cache.delete(throttle_key)
    others = chat_audience(chat_id) - {actor.pk}
    audience = online_user_ids(others)
    data = {"chat_id": chat_id, "user_id": actor.pk, "is_typing": is_typing, "user": user_ref(actor)}
    publish("typing", audience, data)
    return True


def private_chat_open(*, actor: User, user_id: int) -> Chat:
    """Get or create the private chat with a friend or one's own bot; anyone else is refused."""
    other = User.objects.filter(pk=user_id, is_active=True).first()
    allowed = (
        other is not None
        and other.pk != actor.pk
        and (
            Friendship.objects.filter(user=actor, friend=other).exists()
            or (other.is_bot and other.owner_id == actor.pk)
        )
    )
    if not allowed:
        raise permission_denied("not_friends", "You can only chat privately with friends and your own bots.")
    return private_chat_ensure(user_a=actor, user_b=other)
