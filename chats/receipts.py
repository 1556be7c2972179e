"""Read receipts beyond the sender's ticks (issue 22): who of a group has read a message, and
"delivered" in private chats.

Both come from cumulative positions on the membership, never from a row per message and reader:
a group's "seen by" compares each member's read position (ChatMember.last_read_message_id) with
the message id, and delivery is a position the recipient's client moves forward with one frame for
all it received (`message.delivered` up to a message id). The send path is untouched."""

from typing import Any

from django.db import transaction

from accounts.models import User
from accounts.selectors import user_ref
from imsuite import sql
from imsuite.errors import validation_error
from imsuite.events import publish

from .access import access_chat
from .edit_history import member_message
from .models import Chat, ChatMember, Message

READERS_MAX_LIMIT = 200


def message_readers(*, actor: User, message_id: int, after: int = 0, limit: int = 50) -> dict[str, Any]:
    """The members who have read the message (their read position is at or past it), by user id
    from `after` on, at most `limit`; with how many have and have not. The sender is neither: one
    does not read one's own message. For members of the chat only."""
    message, _member = member_message(actor, message_id)
    others = ChatMember.objects.filter(chat_id=message.chat_id).exclude(user_id=message.sender_id)
    seen = others.filter(last_read_message_id__gte=message.pk)
    total, read = others.count(), seen.count()
    page = list(seen.filter(user_id__gt=after).select_related("user").order_by("user_id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "message_id": message.pk,
        "read_count": read,
        "unread_count": total - read,
        "results": [{"user_id": m.user_id, "user": user_ref(m.user)} for m in page],
        "next_after": page[-1].user_id if more else None,
    }


def message_delivered(*, actor: User, chat_id: int, up_to_message_id: int) -> bool:
    """The actor's devices have received the private chat up to this message of it: their delivery
    position moves forward (never back) and the other person hears `message.delivered`. Groups keep
    no delivery position (a write per member per message; "seen by" is their receipt). Returns
    whether the position moved."""
    member = access_chat(actor, chat_id)
    if member.chat.type != Chat.Type.PRIVATE:
        raise validation_error("chat_id", "not_private", "Delivery is acknowledged in private chats only.")
    with transaction.atomic():
        moved = sql.fetch_one(
            DELIVERED_SQL, [up_to_message_id, member.pk, up_to_message_id, up_to_message_id, chat_id]
        )
        if moved:
            peers = set(
                ChatMember.objects.filter(chat_id=chat_id)
                .exclude(user_id=actor.pk)
                .values_list("user_id", flat=True)
            )
            data = {
                "chat_id": chat_id,
                "up_to_message_id": up_to_message_id,
                "delivered_to": actor.pk,
            }
            publish("message.delivered", peers, data)
    return bool(moved)


DELIVERED_SQL = (
    f"UPDATE {ChatMember._meta.db_table} SET last_delivered_message_id = %s"  # noqa: S608  (our own tables)
    " WHERE id = %s AND last_delivered_message_id < %s"
    f" AND EXISTS (SELECT 1 FROM {Message._meta.db_table} WHERE id = %s AND chat_id = %s) RETURNING id"
)
