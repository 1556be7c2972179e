"""Fetch-and-authorize for chats and messages. What the actor may not see does not exist (NOT_FOUND)."""

from accounts.access import is_moderator, require_active
from accounts.models import User
from imsuite.errors import not_found
from media.models import Attachment

from .models import Chat, ChatMember, Message, Role


def access_chat(actor: User, chat_id: int) -> ChatMember:
    """The actor's membership of a chat, with the chat loaded (and the actor still active:
    accounts.access.require_active)."""
    member = (
        ChatMember.objects.select_related("chat")
        .filter(chat_id=chat_id, user=actor, user__is_active=True)
        .first()
    )
    if member is None:
        require_active(actor)
        raise not_found("Chat")
    return member


def access_message(actor: User, message_id: int, *, lock: bool = False) -> tuple[Message, ChatMember | None]:
    """A message the actor may see (as a member of its chat, or as a moderator) and their membership.
    `lock` (inside a transaction) locks the message's row until commit, so a change checked on it
    cannot be overtaken by another committing in between."""
    rows = Message.objects.select_related("chat")
    if lock:
        rows = rows.select_for_update(of=("self",))
    message = rows.filter(pk=message_id).first()
    if message is None:
        raise not_found("Message")
    member = ChatMember.objects.filter(chat_id=message.chat_id, user=actor, user__is_active=True).first()
    if member is None:
        require_active(actor)
        if not is_moderator(actor):
            raise not_found("Message")
    return message, member


def access_attachment(actor: User, attachment_id: int) -> Attachment:
    """A file the actor may read: their own upload, or one sent to a chat they are in (a message
    deleted meanwhile takes its files with it), or any sent file for a moderator."""
    attachment = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
    if attachment is not None:
        if attachment.message is None:
            if attachment.uploader_id == actor.pk and attachment.message_id is None:
                require_active(actor)
                return attachment
        elif attachment.message.deleted_at is None:
            member = ChatMember.objects.filter(chat_id=attachment.chat_id, user=actor, user__is_active=True)
            if member.exists():
                return attachment
            require_active(actor)
            if is_moderator(actor):
                return attachment
    raise not_found("Attachment")


def can_moderate_chat(actor: User, member: ChatMember | None, chat: Chat) -> bool:
    """Group owners and admins moderate their group; site moderators moderate everywhere."""
    if member is not None and chat.type == Chat.Type.GROUP and member.role in (Role.OWNER, Role.ADMIN):
        return True
    return is_moderator(actor)


def chat_audience(chat_id: int) -> set[int]:
    return set(ChatMember.objects.filter(chat_id=chat_id).values_list("user_id", flat=True))
