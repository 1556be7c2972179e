"""Forwarding a message one can read to chats one may send in (issue 22, point 3).

A forward is an ordinary send of the original's content and files to each target chat, through
chats.sending, so every check of sending holds (membership, mutes, bans, blocks, dissolved groups,
the rate limit, client_msg_id). Each target's answer is its own: one refused chat does not hold
back the others (per-chat results).
"""

from typing import Any

from django.conf import settings

from accounts.models import User
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error
from media.models import Attachment

from .access import access_message
from .models import Message
from .sending import SendRequest, SendResult, message_send_many

# A forward's client_msg_id names the forward; each target's message is keyed by it and the chat,
# "<client_msg_id>/<chat_id>", within the 64 characters of a message's client_msg_id.
CLIENT_MSG_ID_MAX = 44


def origin_of(message: Message) -> dict[str, Any]:
    """The forwarded_from of a forward of `message`: a forward of a forward names the first original."""
    if message.forwarded_from:
        return message.forwarded_from
    sender = message.sender
    return {
        "message_id": message.pk,
        "chat_id": message.chat_id,
        "sender_id": message.sender_id,
        "sender_name": sender.display_name if sender is not None else "",
        "sent_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


def message_forward(
    *, actor: User, message_id: int, chat_ids: list[int], client_msg_id: str | None = None
) -> list[tuple[int, SendResult]]:
    """Forward a message the actor can read (as a member of its chat) to each of `chat_ids`; returns
    (chat_id, (message, created) or the DomainError refusing that chat) in the order given."""
    limit = settings.IMSUITE["FORWARD_MAX_CHATS"]
    if not chat_ids or len(chat_ids) > limit:
        raise validation_error("chat_ids", "count", f"Forward to 1 to {limit} chats.")
    if len(set(chat_ids)) != len(chat_ids):
        raise validation_error("chat_ids", "duplicate", "Each chat is named once.")
    if client_msg_id is not None and len(client_msg_id) > CLIENT_MSG_ID_MAX:
        raise validation_error(
            "client_msg_id", "format", f"A forward's client_msg_id is 1 to {CLIENT_MSG_ID_MAX} characters."
        )
    message, member = access_message(actor, message_id)
    if member is None:  # a moderator reads any chat but forwards only from their own
        raise not_found("Message")
    if message.is_deleted:
        raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
    if message.message_type == Message.Type.SYSTEM:
        raise validation_error("message_id", "system", "A system notice cannot be forwarded.")
    files = _files_of(message)
    requests = [
        SendRequest(
            actor=actor,
            chat_id=chat_id,
            content=message.content,
            message_type=message.message_type,
            client_msg_id=None if client_msg_id is None else f"{client_msg_id}/{chat_id}",
            forwarded_from=origin_of(message),
            forward_files=files,
        )
        for chat_id in chat_ids
    ]
    return list(zip(chat_ids, message_send_many(requests), strict=True))


def _files_of(message: Message) -> list[Attachment]:
    """The original's files, in its order (one a moderator removed is no longer among them)."""
    ids = [meta["id"] for meta in message.attachments or ()]
    found = Attachment.objects.in_bulk(ids) if ids else {}
    return [found[pk] for pk in ids if pk in found]
