"""The protocol-neutral shape of chat data inside domain events and REST answers."""

from typing import Any

from media.rendering import attachment_views

from .models import Message


def message_data(message: Message) -> dict[str, Any]:
    deleted = message.deleted_at is not None
    data: dict[str, Any] = {
        "id": message.pk,
        "chat_id": message.chat_id,
        "sender_id": message.sender_id,
        "content": "" if deleted else message.content,
        "message_type": message.message_type,
        "reply_to_id": message.reply_to_id,
        "client_msg_id": message.client_msg_id,
        "created_at": message.created_at,
        "is_edited": message.is_edited,
        "updated_at": message.updated_at,
        "is_deleted": deleted,
        "deleted_by": message.deleted_by_id,
        "deleted_at": message.deleted_at,
        "attachments": [] if deleted else attachment_views(message.attachments),
        "mentions": [] if deleted else (message.mentions or []),
        **({"reactions": message.reactions} if message.reactions and not deleted else {}),  # chats.reactions
    }
    if message.forwarded_from:  # only on forwards: every other message stays as it was
        data["forwarded_from"] = message.forwarded_from
    if message.link_previews and not deleted:  # only when present: most messages link nowhere
        data["link_previews"] = message.link_previews
    return data


def message_for_viewer(message: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """client_msg_id is the sender's own correlation id; nobody else needs it."""
    if message.get("sender_id") == viewer_id:
        return message
    return {k: v for k, v in message.items() if k != "client_msg_id"}
