"""Every change to chats and messages."""

from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.access import blocked_refusal, is_moderator, require_active
from accounts.models import Friendship, User
from accounts.presence import online_user_ids
from accounts.selectors import blocked_ids, is_blocked_between, user_ref
from imsuite import audit, sql
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit
from media.services import message_files_remove
from previews.edits import message_edited as link_previews_follow

from . import edit_history, pins, reactions, search_index
from .access import access_chat, access_message, can_moderate_chat, chat_audience
from .mentions import message_mentions, unread_mentions_moved, unread_mentions_recount
from .models import Chat, ChatMember, Message, Notify, Role
from .selectors import (
    changes_since,
    chat_ref,
    message_delete_data,
    message_event_data,
    notify_data,
    private_key,
)
from .sending import SendRequest, clean_caption, clean_content, message_send_many
from .seq_counter import take_seqs


def private_chat_ensure(*, user_a: User, user_b: User) -> Chat:
    """The one private chat of two people, created on first need. Internal: callers check that the
    two may talk (friends, or a private-chat peer)."""
    with transaction.atomic():
        chat, created = Chat.objects.get_or_create(
            private_key=private_key(user_a.pk, user_b.pk), defaults={"type": Chat.Type.PRIVATE}
        )
        if created:
            ChatMember.objects.bulk_create(
                [ChatMember(chat=chat, user_id=uid) for uid in sorted((user_a.pk, user_b.pk))]
            )
    return chat


def next_seq() -> int:
    """The next change number; see chats.seq_counter.take_seqs."""
    return take_seqs(1)


def message_send(
    *,
    actor: User,
    chat_id: int,
    content: Any,
    message_type: str = Message.Type.TEXT,
    reply_to_id: int | None = None,
    client_msg_id: str | None = None,
    attachment_ids: list[int] | None = None,
) -> tuple[Message, bool]:
    """Store a message and announce it to every member. Returns (message, created); a repeated
    client_msg_id returns the original message and stores nothing, so clients may retry safely."""
    request = SendRequest(actor, chat_id, content, message_type, reply_to_id, client_msg_id, attachment_ids)
    result = message_send_many([request])[0]
    if isinstance(result, DomainError):
        raise result
    return result


def message_edit(*, actor: User, message_id: int, content: Any) -> Message:
    """The sender edits their own text within the edit window. Checked on the locked row, in the
    writing transaction: a delete committed between a check and the write would otherwise be
    overwritten with new text and announced as not deleted."""
    with transaction.atomic():
        message, member = access_message(actor, message_id, lock=True)
        if message.sender_id != actor.pk:
            raise permission_denied("not_sender", "Only the sender can edit a message.")
        if message.is_deleted:
            raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
        window = settings.IMSUITE["MESSAGE_EDIT_WINDOW_SECONDS"]
        if (timezone.now() - message.created_at).total_seconds() > window:
            raise permission_denied("edit_window", "This message is too old to edit.", window_seconds=window)
        # A message with files has a caption, not a URL: it may be edited to anything, "" too.
        content = (
            clean_caption(content) if message.attachments else clean_content(content, message.message_type)
        )
        edit_history.keep_previous(message, actor, content)
        message.content = content
        before = message.mentions  # an edit mentions anew: who the new text names, as a send would
        role = member.role if member else Role.MEMBER
        message.mentions = message_mentions(message.content, message.chat_id, actor.pk, role)
        message.is_edited = True
        message.updated_at = timezone.now()
        ref = chat_ref(message.chat)
        message.seq = next_seq()  # before the members' counts: the counter first, as sends take it
        if before != message.mentions:
            unread_mentions_moved(message, before, chat_audience(message.chat_id))
        link_previews_follow(message)
        message.save(update_fields=["content", "is_edited", "updated_at", "seq", "mentions", "link_previews"])
        search_index.keep(message)
        publish("message.edit", chat_audience(message.chat_id), message_event_data(message, ref))
    return message


def message_delete(*, actor: User, message_id: int) -> Message:
    """Recall a message: its sender, a group owner or admin, or a moderator. The row stays in
    history under its id; its content is erased. Checked on the locked row, like message_edit."""
    with transaction.atomic():
        message, member = access_message(actor, message_id, lock=True)
        if message.sender_id != actor.pk and not can_moderate_chat(actor, member, message.chat):
            raise permission_denied("not_allowed", "You cannot delete this message.")
        if message.is_deleted:
            return message
        message.deleted_at = timezone.now()
        message.deleted_by = actor
        message.content = ""
        message.seq = next_seq()
        if message.mentions:  # a deleted message no longer counts as an unread mention
            unread_mentions_moved(message, message.mentions, chat_audience(message.chat_id))
        message.save(update_fields=["deleted_at", "deleted_by", "content", "seq"])
        edit_history.forget(message)
        search_index.keep(message)
        pins.unpin_recalled(actor, message)
        if actor.pk != message.sender_id:  # a recall by a moderator is a moderation step
            group_id = message.chat_id if message.chat.type == Chat.Type.GROUP else None
            audit.record(
                actor, "message.recall", "message", message.pk, group_id, sender_id=message.sender_id
            )
            if message.attachments and is_moderator(actor):
                # A site moderator takes the files down for everyone at once; anyone else's recall
                # leaves them for MEDIA_DELETED_GRACE_SECONDS (media.retention). After commit: a
                # rolled-back recall keeps them, and a storage failure cannot undo the recall.
                transaction.on_commit(partial(message_files_remove, message.pk), robust=True)
        publish("message.delete", chat_audience(message.chat_id), message_delete_data(message))
    return message


def message_read(*, actor: User, message_id: int, origin: str | None = None) -> ChatMember:
    """Move the reader's read position forward (never back) to this message, and recount their
    unread mentions past it. The receipt goes to the message's sender and the reader's other
    devices (`origin`, the connection that read, is skipped), not to the whole group."""
    message, member = access_message(actor, message_id)
    if member is None:
        raise not_found("Message")
    with transaction.atomic():
        moved = sql.fetch_one(READ_SQL, [message.pk, member.pk, message.pk])
        if moved:
            member.last_read_message_id = message.pk
            member.unread_mentions = moved[0]
            if member.unread_mentions:  # the row stays locked: recounted before any send adds to it
                member.unread_mentions = unread_mentions_recount(member, member.unread_mentions)
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


READ_SQL = (
    f"UPDATE {ChatMember._meta.db_table} SET last_read_message_id = %s"  # noqa: S608  (our own table)
    " WHERE id = %s AND last_read_message_id < %s RETURNING unread_mentions"
)


def typing_relay(*, actor: User, chat_id: int, is_typing: bool) -> bool:
    """Tell the chat's other online members that the actor is (or stopped) typing. A start is
    relayed at most once per user and chat every TYPING_THROTTLE_SECONDS; a stop always is. Those
    the actor blocked hear nothing. Returns whether anything was relayed."""
    access_chat(actor, chat_id)
    throttle_key = f"typing:{actor.pk}:{chat_id}"
    if is_typing:
        if not cache.add(throttle_key, 1, timeout=settings.IMSUITE["TYPING_THROTTLE_SECONDS"]):
            return False
    else:
        cache.delete(throttle_key)
    others = chat_audience(chat_id) - {actor.pk} - blocked_ids(actor.pk)
    audience = online_user_ids(others)
    data = {"chat_id": chat_id, "user_id": actor.pk, "is_typing": is_typing, "user": user_ref(actor)}
    publish("typing", audience, data)
    return True


def chat_notify_set(
    *, actor: User, chat_id: int, notify: str, until: datetime | None = None
) -> dict[str, Any]:
    """Set what the actor is told of a chat's messages: all, mentions only, or muted, until a
    future time or (until None) until changed. Only the actor's own membership; every connection
    of theirs hears `chat.notify`, so all their devices follow. Returns {chat_id, notify, until}."""
    now = timezone.now()
    if notify not in Notify.values:
        raise validation_error("notify", "invalid_choice", "notify is all, mentions or muted.")
    if until is not None:
        if notify == Notify.ALL:
            raise validation_error("until", "with_all", "A setting of all has no until.")
        if until <= now:
            raise validation_error("until", "past", "until is a time in the future.")
    member = access_chat(actor, chat_id)
    with transaction.atomic():
        ChatMember.objects.filter(pk=member.pk).update(notify=notify, notify_until=until)
        member.notify, member.notify_until = notify, until
        data = notify_data(chat_id, member, now)
        publish("chat.notify", {actor.pk}, data)
    return data


def private_chat_open(*, actor: User, user_id: int) -> Chat:
    """Get or create the private chat with a friend or one's own bot; anyone else is refused, and
    so is anyone when either of the two blocked the other."""
    require_active(actor)
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
    if is_blocked_between(actor.pk, other.pk):
        raise blocked_refusal()
    return private_chat_ensure(user_a=actor, user_b=other)


def sync_page(*, actor: User, after: int, since: int) -> list[tuple[str, dict[str, Any]]]:
    """One page of a sync (chats.selectors.changes_since), counted against RATE_LIMIT_SYNCS per
    RATE_LIMIT_WINDOW_SECONDS: a client that asked for its whole history again and again kept a
    process busy and, unread, its memory growing."""
    limits = settings.IMSUITE
    rate_limit("sync", actor.pk, limits["RATE_LIMIT_SYNCS"], limits["RATE_LIMIT_WINDOW_SECONDS"])
    changes = changes_since(actor.pk, after, None, since)
    reactions.mark_mine([data["message"] for _name, data in changes if "message" in data], actor.pk)
    return changes
