"""Renders protocol-neutral domain events as the bot sandbox protocol's Events
(../shared/spec/bot-sandbox-protocol.md) for one bot: numeric ids, camelCase fields, `time` in
unix seconds. Returns None for what the bot protocol has no event for, or the bot need not see."""

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from media.signing import absolute

logger = logging.getLogger(__name__)

PRIVATE, GROUP = 0, 1
# kotori's element syntax has no escaping: these would end or split an element, so a URL never
# carries them unencoded (signed media paths have none; only an unusual PUBLIC_BASE_URL could).
ELEMENT_UNSAFE = str.maketrans({",": "%2C", "[": "%5B", "]": "%5D"})

Render = Callable[[dict[str, Any], int], dict[str, Any] | None]


def _base(event: str) -> dict[str, Any]:
    return {"event": event, "time": int(time.time())}


def _chat_type(chat_type: str) -> int:
    return GROUP if chat_type == "group" else PRIVATE


@functools.cache
def _warn_relative_links() -> None:
    logger.warning(
        "PUBLIC_BASE_URL is not set: bots receive attachment links relative to this server; "
        "set it to the public address (https://chat.example.com) so that they can download them"
    )


def _for_bot(attachment: dict[str, Any]) -> dict[str, Any]:
    """The attachment object with absolute links (relative, with one warning, without PUBLIC_BASE_URL)."""
    if not settings.PUBLIC_BASE_URL:
        _warn_relative_links()
    thumbnail = attachment.get("thumbnail")
    return attachment | {"url": absolute(attachment["url"]), "thumbnail": thumbnail and absolute(thumbnail)}


def _element_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.translate(ELEMENT_UNSAFE)
    host, slash, path = rest.partition("/")  # an IPv6 host keeps its brackets: they are its syntax
    return f"{scheme}://{host}{slash}{path.translate(ELEMENT_UNSAFE)}"


def message_text(caption: str, attachments: list[dict[str, Any]]) -> str:
    """The sandbox message is text: the caption, then one kotori element per attachment, one a line
    (`[image,<url>]`, `[voice,...]`, `[video,...]`, `[file,...]`)."""
    lines = [f"[{a['kind']},{_element_url(a['url'])}]" for a in attachments]
    return "\n".join([caption, *lines] if caption else lines)


def on_message(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    sender_id = data["message"]["sender_id"]
    if sender_id == bot_id or sender_id is None:
        return None  # no event for what the bot sent itself
    return _base("on_message") | message_object(data, bot_id)


def message_object(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """A message as the bot protocol shows it (on_message without event and time), from the data
    of a message.new event: what the read actions (get_msg, get_history) answer too."""
    message = data["message"]
    profile = data.get("sender_profile") or {}
    kind = _chat_type(data["chat"]["type"])
    nickname = (data["sender"] or {}).get("nickname", "")  # none for a system message
    sender: dict[str, Any] = {
        "nickname": nickname,
        "sex": profile.get("sex", "unknown"),
        "age": profile.get("age", 0),
    }
    attachments = [_for_bot(a) for a in message.get("attachments") or ()]
    mentions = message.get("mentions") or []
    shown = {
        "type": kind,
        "messageId": message["id"],
        "message": message_text(message["content"], attachments),
        "userId": message["sender_id"],
        "sender": sender,
        "attachments": attachments,  # (addition) the files: kind, name, size, mime, links; [] for none
        "mentions": mentions,  # (addition) the ids mentioned, "all" first for @all; [] for none
        "atMe": bot_id in mentions or "all" in mentions,  # (addition) a group bot answers when called
    }
    if message.get("forwarded_from"):  # (addition) a forward's original, only on forwarded messages
        shown["forwardedFrom"] = message["forwarded_from"]
    if kind == GROUP:
        sender |= {
            "role": profile.get("role", "member"),
            "level": profile.get("level", "0"),
            "title": profile.get("card") or nickname,
        }
        shown["groupId"] = message["chat_id"]
    return shown


def on_recall(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    kind = _chat_type(data.get("chat_type", "private"))
    event = _base("on_recall") | {
        "type": kind,
        "messageId": data["message_id"],
        "userId": data["sender_id"],
        "operatorId": data["deleted_by"],
    }
    if kind == GROUP:
        event["groupId"] = data["chat_id"]
    return event


def on_friend_request(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    request = data["request"]
    if request["to_user"]["id"] != bot_id or request["status"] != "pending":
        return None
    return _base("on_request") | {
        "type": PRIVATE,
        "userId": request["from_user"]["id"],
        "flag": f"friend:{request['id']}",
        "comment": request["message"],
    }


def on_join_request(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    request = data["request"]
    if request["status"] != "pending" or bot_id not in data.get("manager_ids", ()):
        return None  # only owners and admins are asked
    return _base("on_request") | {
        "type": GROUP,
        "userId": request["user_id"],
        "groupId": data["group_id"],
        "operatorId": request["operator_id"],
        "flag": f"group:{request['id']}",
        "comment": request["comment"],
    }


def on_private_add(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    return _base("on_private_add") | {"userId": data["user_id"]}


def _membership(event: str) -> Render:
    def render(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return _base(event) | {
            "userId": data["user_id"],
            "groupId": data["group_id"],
            "operatorId": data["operator_id"],
        }

    return render


def admin_change(data: dict[str, Any]) -> str | None:
    """The admin notice: "set" when a member became an admin, "unset" when one stopped being one,
    else None (a card or level, or a plain member made owner by a transfer: the protocols have no
    owner change)."""
    if "role" not in data["changed"]:
        return None
    if data["member"]["role"] == "admin":
        return "set"
    return "unset" if data.get("previous_role") == "admin" else None


def on_group_admin(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    operation = admin_change(data)
    if operation is None:
        return None
    return _base("on_group_admin") | {
        "userId": data["user_id"],
        "operation": operation,
        "groupId": data["group_id"],
    }


def on_group_ban(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    # "operationId" is spelled as the document spells it.
    return _base("on_group_ban") | {
        "userId": data["user_id"] if data["user_id"] is not None else "all",
        "operationId": data["operator_id"],
        "groupId": data["group_id"],
        "duration": data["duration"],
    }


RENDERERS: dict[str, Render] = {
    "message.new": on_message,
    "message.delete": on_recall,
    "friend.request": on_friend_request,
    "group.join_request": on_join_request,
    "friend.added": on_private_add,
    "group.member_added": _membership("on_group_increase"),
    "group.member_removed": _membership("on_group_decrease"),
    "group.member_updated": on_group_admin,
    "group.ban": on_group_ban,
}


def render_for_bot(name: str, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    render = RENDERERS.get(name)
    return render(data, bot_id) if render else None
