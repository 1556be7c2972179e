"""The bot protocol's Actions, carried out as the bot through the same services (and so the same
permission checks) as a person. Each takes validated params and returns the response's data."""

import re
from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from accounts import services as accounts
from accounts.access import access_user
from accounts.models import User
from accounts.selectors import active_friend, friends_of, pending_friend_request_id, usernames
from chats import selectors as chat_selectors
from chats import services as chats
from chats.access import access_chat, access_message
from chats.models import Chat, Message
from groups import selectors as group_selectors
from groups import services as groups
from groups.access import access_group, access_member
from imsuite.api_fields import StrictBooleanField, StrictCharField, StrictIntegerField
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied

from .events import message_object

DEFAULT_HISTORY, MAX_HISTORY = 20, 100  # messages a get_history page holds
DEFAULT_BAN_SECONDS = 30 * 60  # OneBot's default when set_group_ban gives no time
URL_ELEMENT = re.compile(r"\[(image|file),(https?://[^\s\]]+)\]")  # kotori's element syntax
# kotori's elements that name a person or a message, written in the text (see _elements).
MENTION_ELEMENT = re.compile(r"\[mention,(\d{1,18})\]")
MENTION_ALL_ELEMENT = re.compile(r"\[(?:all|mentionAll)\]")
REPLY_ELEMENT = re.compile(r"\[reply,(\d{1,18})\]")


class Params(serializers.Serializer):
    """Action parameters, named as the protocol names them (camelCase): types are checked strictly;
    unknown keys are ignored (OneBot clients add some)."""


class IdField(StrictIntegerField):
    """An id: a JSON number, or the same number written as a string (kotori writes `"1"`), in every
    dialect; anything else (1.5, "1a", "", true) is refused as before."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and data.isascii() and data.isdecimal() and len(data) <= 18:
            data = int(data)
        return super().to_internal_value(data)


def _id(**options: Any) -> IdField:
    return IdField(min_value=1, **options)


class Sending(Params):
    message = StrictCharField(trim_whitespace=False, allow_blank=True)
    # (addition) files the bot uploaded (POST /api/uploads with its token); `message` is the caption.
    attachmentIds = serializers.ListField(child=_id(), required=False)
    # (addition) the message this one answers; a `[reply,<id>]` element in the text says the same.
    replyTo = _id(required=False)


class UserMessage(Sending):
    userId = _id()


class GroupMessage(Sending):
    groupId = _id()


class MessageRef(Params):
    messageId = _id()


class GroupRef(Params):
    groupId = _id()


class GroupName(GroupRef):
    groupName = StrictCharField(max_length=64)


class GroupAvatar(GroupRef):
    image = StrictCharField(max_length=500)


class GroupAdmin(GroupRef):
    userId = _id()
    enable = StrictBooleanField()


class GroupSwitch(GroupRef):
    enable = StrictBooleanField()


class GroupCard(GroupRef):
    userId = _id()
    card = StrictCharField(max_length=64, allow_blank=True, trim_whitespace=False)


class GroupBan(GroupRef):
    userId = _id(required=False, allow_null=True)
    time = StrictIntegerField(min_value=0, max_value=groups.MAX_MUTE_SECONDS, required=False)


class GroupNotice(GroupRef):
    content = StrictCharField(max_length=4000)
    image = StrictCharField(max_length=500, required=False, allow_blank=True, allow_null=True)


class GroupMemberRef(GroupRef):
    userId = _id()


class GroupKick(GroupMemberRef):
    # OneBot's reject_add_request: keep them out afterwards, i.e. a ban (issue 21), not just a kick.
    rejectAddRequest = StrictBooleanField(required=False, default=False)


class UserRef(Params):
    userId = _id(required=False)  # the bot itself when absent


class PersonRef(Params):
    userId = _id()


class HistoryRef(Params):
    """A group's history (groupId) or the private chat's with a person (userId): one of the two."""

    groupId = _id(required=False)
    userId = _id(required=False)
    before = _id(required=False)  # only messages older than this one: the previous page's nextBefore
    limit = StrictIntegerField(min_value=1, max_value=MAX_HISTORY, required=False, default=DEFAULT_HISTORY)


class FriendAnswer(Params):
    userId = _id(required=False)
    flag = StrictCharField(required=False)
    approve = StrictBooleanField(required=False, default=True)


class GroupAnswer(FriendAnswer):
    groupId = _id(required=False)


def send_private_msg(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """Friends only, like the document says."""
    friend = active_friend(bot, p["userId"])
    if friend is None:
        raise permission_denied("not_friends", "A bot sends private messages to its friends only.")
    chat = chats.private_chat_ensure(user_a=bot, user_b=friend)
    return _send(bot, chat.pk, p)


def send_group_msg(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    if not group_selectors.group_exists(p["groupId"]):
        raise not_found("Group")
    return _send(bot, p["groupId"], p)


def _send(bot: User, chat_id: int, p: dict[str, Any]) -> dict[str, Any]:
    """The same send as a person's, attachments and their checks included (uploader, once, a chat
    the bot may write to); a refusal of the ids names the bot's own field, attachmentIds. The text's
    kotori elements are understood (_elements); a message that is then one `[image,<url>]` or
    `[file,<url>]` element alone (what kotori's sandbox adapter sends for an image by URL) is an
    image or file message by URL, as message_type gives it on /ws."""
    content, reply_to = _elements(p["message"])
    reply_to = p.get("replyTo", reply_to)
    message_type, ids = "text", p.get("attachmentIds")
    element = None if ids else URL_ELEMENT.fullmatch(content.strip())
    if element:
        message_type, content = element[1], element[2]
    try:
        message, _ = chats.message_send(
            actor=bot,
            chat_id=chat_id,
            content=content,
            message_type=message_type,
            reply_to_id=reply_to,
            attachment_ids=ids,
        )
    except DomainError as exc:
        if exc.details.get("field") == "attachment_ids":
            exc.details["field"] = "attachmentIds"
        raise
    return {"messageId": message.pk}


def _elements(text: str) -> tuple[str, int | None]:
    """The text a person would have written for a bot's kotori elements, and the message replied
    to: `[mention,<id>]` becomes `@<username>` (which chats.mentions makes a real mention, for a
    member of the chat), `[all]` or `[mentionAll]` becomes `@all`, and a `[reply,<id>]` is taken
    out as the reply. An id of nobody leaves its element as it was."""
    reply = REPLY_ELEMENT.search(text)
    if reply:
        text = REPLY_ELEMENT.sub("", text, count=1)
    ids = {int(m) for m in MENTION_ELEMENT.findall(text)}
    names = usernames(ids)

    def mention(match: re.Match[str], name: str | None = None) -> str:
        name = name or names.get(int(match[1]))
        if name is None:
            return match[0]
        # Set apart from its neighbours: an '@' inside a word, or a name run on, mentions nobody.
        whole, start, end = match.string, match.start(), match.end()
        before = " " if start and not whole[start - 1].isspace() else ""
        after = " " if end < len(whole) and not whole[end].isspace() else ""
        return f"{before}@{name}{after}"

    text = MENTION_ELEMENT.sub(mention, text)
    text = MENTION_ALL_ELEMENT.sub(lambda match: mention(match, "all"), text)
    return text, int(reply[1]) if reply else None


def delete_msg(bot: User, p: dict[str, Any]) -> None:
    chats.message_delete(actor=bot, message_id=p["messageId"])


def set_group_name(bot: User, p: dict[str, Any]) -> None:
    groups.group_update(actor=bot, group_id=p["groupId"], name=p["groupName"])


def set_group_avatar(bot: User, p: dict[str, Any]) -> None:
    groups.group_update(actor=bot, group_id=p["groupId"], avatar_url=p["image"])


def set_group_mention_all(bot: User, p: dict[str, Any]) -> None:
    """(addition) Whether plain members may use @all."""
    groups.group_update(actor=bot, group_id=p["groupId"], members_mention_all=p["enable"])


def set_group_admin(bot: User, p: dict[str, Any]) -> None:
    role = "admin" if p["enable"] else "member"
    groups.member_update(actor=bot, group_id=p["groupId"], user_id=p["userId"], role=role)


def set_group_card(bot: User, p: dict[str, Any]) -> None:
    groups.member_update(actor=bot, group_id=p["groupId"], user_id=p["userId"], card=p["card"])


def set_group_ban(bot: User, p: dict[str, Any]) -> None:
    duration = p.get("time", DEFAULT_BAN_SECONDS)
    groups.group_ban(actor=bot, group_id=p["groupId"], user_id=p.get("userId"), duration=duration)


def set_group_whole_ban(bot: User, p: dict[str, Any]) -> None:
    """(addition) Mute the whole group for as long as a mute may last, or lift it."""
    duration = groups.MAX_MUTE_SECONDS if p["enable"] else 0
    groups.group_ban(actor=bot, group_id=p["groupId"], user_id=None, duration=duration)


def send_group_notice(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    notice = groups.notice_create(
        actor=bot, group_id=p["groupId"], content=p["content"], image=p.get("image")
    )
    return {"noticeId": notice.pk}


def set_group_kick(bot: User, p: dict[str, Any]) -> None:
    remove = groups.member_ban if p["rejectAddRequest"] else groups.member_kick
    remove(actor=bot, group_id=p["groupId"], user_id=p["userId"])


def set_group_leave(bot: User, p: dict[str, Any]) -> None:
    groups.group_leave(actor=bot, group_id=p["groupId"])


def _flag_id(flag: str | None, kind: str) -> int | None:
    """OneBot's `flag`, as our on_request events give it: "friend:<id>" or "group:<id>"."""
    if flag is None:
        return None
    prefix, _, number = flag.partition(":")
    if prefix != kind or not number.isdecimal():
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Unknown flag.", {"field": "flag", "reason": "invalid"})
    return int(number)


def set_friend_add_request(bot: User, p: dict[str, Any]) -> None:
    request_id = _flag_id(p.get("flag"), "friend")
    if request_id is None:
        if "userId" not in p:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                "userId or flag is required.",
                {"field": "userId", "reason": "required"},
            )
        request_id = pending_friend_request_id(p["userId"], bot)
        if request_id is None:
            raise not_found("Friend request")
    accounts.friend_request_answer(actor=bot, request_id=request_id, accept=p["approve"])


def set_group_add_request(bot: User, p: dict[str, Any]) -> None:
    request_id = _flag_id(p.get("flag"), "group")
    if request_id is None:
        if "userId" not in p or "groupId" not in p:
            missing = "groupId" if "userId" in p else "userId"
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"{missing} or flag is required.",
                {"field": missing, "reason": "required"},
            )
        request_id = group_selectors.pending_join_request_id(p["groupId"], p["userId"])
        if request_id is None:
            raise not_found("Join request")
    group_id = group_selectors.join_request_group_id(request_id)
    if group_id is None:
        raise not_found("Join request")
    groups.join_request_decide(actor=bot, group_id=group_id, request_id=request_id, approve=p["approve"])


def get_login_info(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    return {"userId": bot.pk, "nickname": bot.display_name}


def _person(user: User) -> dict[str, Any]:
    """A person as the bot protocol shows them; `username` (an addition) is what `@` mentions."""
    return {
        "userId": user.pk,
        "username": user.username,
        "nickname": user.display_name,
        "sex": user.sex,
        "age": user.age or 0,
    }


def get_user_info(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """(addition) A person's profile, as a person may see it; the bot's own without userId."""
    return _person(access_user(bot, p["userId"]) if "userId" in p else bot)


def get_friend_list(bot: User, p: dict[str, Any]) -> list[dict[str, Any]]:
    return [_person(f) for f in friends_of(bot)]


def _group(group: Any) -> dict[str, Any]:
    return {"groupId": group.pk, "groupName": group.name, "memberCount": group.member_count}


def get_group_list(bot: User, p: dict[str, Any]) -> list[dict[str, Any]]:
    return [_group(g) for g in group_selectors.live_groups_of(bot.pk)]


def get_group_info(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """(addition) One group of the bot's."""
    access_group(bot, p["groupId"])
    group = group_selectors.live_groups_of(bot.pk).filter(pk=p["groupId"]).first()
    if group is None:
        raise not_found("Group")
    return _group(group)


def _member(group_id: int, m: Any) -> dict[str, Any]:
    return {
        "groupId": group_id,
        **_person(m.user),
        "role": m.role,
        "level": m.level,
        "title": m.card or m.user.display_name,
        "card": m.card,
    }


def get_group_member_list(bot: User, p: dict[str, Any]) -> list[dict[str, Any]]:
    group, _ = access_group(bot, p["groupId"])
    return [_member(group.pk, m) for m in group_selectors.group_members(group)]


def get_group_member_info(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """(addition) One member of a group of the bot's."""
    group, _ = access_group(bot, p["groupId"])
    return _member(group.pk, access_member(group, p["userId"]))


def _read_back(bot: User, chat: Chat, messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as on_message shows them, with when each was sent (`time`) and whether it was
    deleted since (`deleted`: its content, files and mentions are gone then)."""
    data = chat_selectors.read_back_data(chat, messages)
    return [
        message_object(d, bot.pk)
        | {"time": int(m.created_at.timestamp()), "deleted": m.deleted_at is not None}
        for d, m in zip(data, messages, strict=True)
    ]


def get_msg(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """(addition) A message of a chat the bot is in, as a person reads it."""
    message, _ = access_message(bot, p["messageId"])
    return _read_back(bot, message.chat, [message])[0]


def _history_chat(bot: User, p: dict[str, Any]) -> Chat:
    """The chat get_history names, if the bot is in it (NOT_FOUND otherwise, as for a person)."""
    if ("groupId" in p) == ("userId" in p):
        field, reason = ("userId", "exclusive") if "groupId" in p else ("groupId", "required")
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "Give groupId or userId, one of them.",
            {"field": field, "reason": reason},
        )
    if "groupId" in p:
        chat = access_chat(bot, p["groupId"]).chat
        if chat.type != Chat.Type.GROUP:
            raise not_found("Group")
        return chat
    chat_id = chat_selectors.private_chat_id(bot.pk, p["userId"])
    if chat_id is None or p["userId"] == bot.pk:
        raise not_found("Chat")
    return access_chat(bot, chat_id).chat


def get_history(bot: User, p: dict[str, Any]) -> dict[str, Any]:
    """(addition) A page of a chat's history, newest first, through the history a person's REST
    reads; `nextBefore` asks for the older page (null at the start of the chat)."""
    chat = _history_chat(bot, p)
    page, next_before = chat_selectors.history_page(chat.pk, p.get("before"), p["limit"], member_id=bot.pk)
    return {"messages": _read_back(bot, chat, page), "nextBefore": next_before}


Action = Callable[[User, dict[str, Any]], Any]
ACTIONS: dict[str, tuple[type[Params], Action]] = {
    "send_private_msg": (UserMessage, send_private_msg),
    "send_group_msg": (GroupMessage, send_group_msg),
    "delete_msg": (MessageRef, delete_msg),
    "set_group_name": (GroupName, set_group_name),
    "set_group_avatar": (GroupAvatar, set_group_avatar),
    "set_group_admin": (GroupAdmin, set_group_admin),
    "set_group_mention_all": (GroupSwitch, set_group_mention_all),
    "set_group_card": (GroupCard, set_group_card),
    "set_group_ban": (GroupBan, set_group_ban),
    "set_group_whole_ban": (GroupSwitch, set_group_whole_ban),
    "send_group_notice": (GroupNotice, send_group_notice),
    "set_group_kick": (GroupKick, set_group_kick),
    "set_group_leave": (GroupRef, set_group_leave),
    "set_friend_add_request": (FriendAnswer, set_friend_add_request),
    "set_group_add_request": (GroupAnswer, set_group_add_request),
    "get_login_info": (Params, get_login_info),
    "get_friend_list": (Params, get_friend_list),
    "get_group_list": (Params, get_group_list),
    "get_group_member_list": (GroupRef, get_group_member_list),
    "get_user_info": (UserRef, get_user_info),
    "get_stranger_info": (PersonRef, get_user_info),  # OneBot's name, for anyone's profile
    "get_msg": (MessageRef, get_msg),
    "get_history": (HistoryRef, get_history),
    "get_group_info": (GroupRef, get_group_info),
    "get_group_member_info": (GroupMemberRef, get_group_member_info),
}
