"""The copy of what was reported, taken when the report is made: it must stay readable after the
message is recalled, the profile changed or the group renamed."""

from typing import Any

from accounts.models import User
from chats.models import Message
from groups.models import Group
from imsuite.events import plain


def message_evidence(message: Message, group: Group | None) -> dict[str, Any]:
    sender = message.sender
    return plain(
        {
            "message_id": message.pk,
            "chat_id": message.chat_id,
            "chat_type": message.chat.type,
            "group_name": group.name if group else None,
            "sender_id": message.sender_id,
            "sender_username": sender.username if sender else None,
            "sender_nickname": sender.display_name if sender else None,
            "message_type": message.message_type,
            "content": message.content,
            "attachments": [
                {"id": meta["id"], "name": meta["name"], "mime": meta["mime"]}
                for meta in message.attachments or []
            ],
            "created_at": message.created_at,
        }
    )


def user_evidence(user: User) -> dict[str, Any]:
    return {
        "user_id": user.pk,
        "username": user.username,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "bio": user.bio,
        "sex": user.sex,
        "age": user.age,
        "is_bot": user.is_bot,
    }


def group_evidence(group: Group) -> dict[str, Any]:
    return {
        "group_id": group.pk,
        "name": group.name,
        "avatar_url": group.avatar_url,
        "owner_id": group.owner_id,
    }
