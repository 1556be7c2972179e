"""A message's earlier texts (issue 22): every edit keeps the text it replaces, and members of the
chat can read them. A recall forgets them with the text: recalling removes the words, all of them."""

from typing import Any

from django.utils import timezone

from accounts.models import User
from imsuite.errors import not_found

from .access import access_message
from .models import ChatMember, Message, MessageEdit


def keep_previous(message: Message, editor: User, new_content: str) -> None:
    """Inside message_edit's transaction, before the message takes `new_content`: its current text
    becomes history. An edit to the same text keeps nothing (nothing was replaced)."""
    if new_content != message.content:
        MessageEdit.objects.create(
            message=message, content=message.content, edited_at=timezone.now(), editor=editor
        )


def forget(message: Message) -> None:
    """Inside message_delete's transaction: the recalled message's earlier texts go with it."""
    MessageEdit.objects.filter(message=message).delete()


def message_edits(*, actor: User, message_id: int) -> dict[str, Any]:
    """The message's earlier texts, oldest first, for the members of its chat (moderators read
    them in the admin). A recalled message has none."""
    message, _member = member_message(actor, message_id)
    edits = MessageEdit.objects.filter(message=message).order_by("id")
    return {
        "message_id": message.pk,
        "results": [
            {"content": e.content, "edited_at": e.edited_at, "editor_id": e.editor_id} for e in edits
        ],
    }


def member_message(actor: User, message_id: int) -> tuple[Message, ChatMember]:
    """A message of a chat the actor is in. Edit history and receipts are for the chat's members:
    a moderator who is not one reads the admin, a stranger learns nothing (NOT_FOUND, as for the
    message itself)."""
    message, member = access_message(actor, message_id)
    if member is None:
        raise not_found("Message")
    return message, member
