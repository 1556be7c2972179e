"""The `kotori` dialect: what the current kotori adapter-sandbox (kotori-bot 1.7 with
@kotori-bot/kotori-plugin-adapter-sandbox 1.1; its src/type.ts holds the schemas) accepts and sends.

Its adapter checks every frame against those schemas and answers one it cannot parse with an
`on_data_error` action, so every frame here matches them exactly: ids are strings, events carry
`type` (0 private, 1 group), `time` is in milliseconds (kotori's session data says so). Message
elements are written in the text (`[mention,<id>]`, `[all]`, `[reply,<id>]`, `[image,<url>]`).
An action is answered only where kotori waits for an answer (the sends and the queries, each with
its `{"response": "<name>_response", ...}` frame, a list for a list); the other actions, and every
failure, are answered with nothing: kotori has no frame for them (bots.protocol logs failures)."""

import time
from collections.abc import Callable
from typing import Any

from bots.events import _element_url, _for_bot, admin_change, message_text
from imsuite.errors import DomainError

from .base import Call, Dialect

PRIVATE, GROUP = 0, 1
# kotori's action names, as bots.actions names them; any other name is an unknown action.
ACTIONS = {
    "send_private_msg": "send_private_msg",
    "send_group_msg": "send_group_msg",
    "delete_msg": "delete_msg",
    "get_self_info": "get_user_info",  # without userId: the bot itself
    "get_user_info": "get_user_info",
    "get_friend_list": "get_friend_list",
    "get_group_info": "get_group_info",
    "get_group_list": "get_group_list",
    "get_group_member_info": "get_group_member_info",
    "get_group_member_list": "get_group_member_list",
    "set_group_name": "set_group_name",
    "leave_group": "set_group_leave",
    "set_group_admin": "set_group_admin",
    "set_group_card": "set_group_card",
    "set_group_kick": "set_group_kick",
    "set_group_ban": "set_group_ban",
    "set_group_whole_ban": "set_group_whole_ban",
}
NOTICES = frozenset({"on_data_error"})  # kotori's complaints: never answered
MEDIA_TYPES = frozenset({"image", "file", "video", "voice"})


def _now() -> int:
    return int(time.time() * 1000)


def _id(value: Any) -> str:
    """An id as kotori writes it; "0" for nobody (a mute that ran out has no operator)."""
    return "0" if value is None else str(value)


def _base(event: str, kind: int) -> dict[str, Any]:
    return {"event": event, "type": kind, "time": _now()}


def on_message(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    """The text as written, then its elements: the reply, the mentions (the text keeps the names
    people wrote: where each stands is not in the event), then one element per attachment, a line
    each. Elements after the text keep a command at its start (kotori matches `/echo ...` there).
    messageAlt is the text as written."""
    message = data["message"]
    if message["sender_id"] in (bot_id, None):
        return None  # no event for what the bot sent itself
    content = message["content"]
    attachments = [_for_bot(a) for a in message.get("attachments") or ()]
    tails = [f"[reply,{message['reply_to_id']}]"] if message.get("reply_to_id") else []
    tails += ["[all]" if m == "all" else f"[mention,{m}]" for m in message.get("mentions") or ()]
    if message.get("message_type") in MEDIA_TYPES and not attachments:  # by URL: content is the URL
        text, alt = f"[{message['message_type']},{_element_url(content)}]", ""
    else:
        text, alt = content, content
    text = message_text(text + "".join(tails), attachments)
    group = data["chat"]["type"] == "group"
    sender = {"nickname": data["sender"]["nickname"]}
    event = _base("on_message", GROUP if group else PRIVATE) | {
        "messageId": str(message["id"]),
        "message": text,
        "messageAlt": alt,
        "userId": str(message["sender_id"]),
        "sender": sender,
    }
    if group:
        sender["role"] = (data.get("sender_profile") or {}).get("role", "member")
        event["groupId"] = str(message["chat_id"])
    return event


def on_message_delete(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    group = data.get("chat_type") == "group"
    event = _base("on_message_delete", GROUP if group else PRIVATE) | {
        "userId": _id(data["sender_id"]),
        "messageId": str(data["message_id"]),
    }
    if group:
        event |= {"operatorId": _id(data["deleted_by"]), "groupId": str(data["chat_id"])}
    return event


def _friend(event: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    def render(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return _base(event, PRIVATE) | {"userId": str(data["user_id"])}

    return render


def _membership(event: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    def render(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return _base(event, GROUP) | {
            "userId": str(data["user_id"]),
            "operatorId": _id(data["operator_id"]),
            "groupId": str(data["group_id"]),
        }

    return render


def on_group_admin(data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
    operation = admin_change(data)
    if operation is None:
        return None
    return _base("on_group_admin", GROUP) | {
        "userId": str(data["user_id"]),
        "operation": operation,
        "groupId": str(data["group_id"]),
    }


def on_group_ban(data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """A member's mute, or (no user) the whole group's: on_group_whole_ban, set or unset."""
    if data["user_id"] is None:
        return _base("on_group_whole_ban", GROUP) | {
            "operatorId": _id(data["operator_id"]),
            "operation": "set" if data["duration"] else "unset",
            "groupId": str(data["group_id"]),
        }
    return _base("on_group_ban", GROUP) | {
        "userId": str(data["user_id"]),
        "operatorId": _id(data["operator_id"]),
        "duration": data["duration"],
        "groupId": str(data["group_id"]),
    }


# Domain events kotori's sandbox has an event for (it has none for friend and join requests).
RENDERERS: dict[str, Callable[[dict[str, Any], int], dict[str, Any] | None]] = {
    "message.new": on_message,
    "message.delete": on_message_delete,
    "friend.added": _friend("on_friend_increase"),
    "friend.removed": _friend("on_friend_decrease"),
    "group.member_added": _membership("on_group_increase"),
    "group.member_removed": _membership("on_group_decrease"),
    "group.member_updated": on_group_admin,
    "group.ban": on_group_ban,
}


def _self_info(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "response": "self_info_response",
        "userId": str(person["userId"]),
        "username": person["username"],
        "userDisplayname": person["nickname"],
    }


def _user_info(person: dict[str, Any]) -> dict[str, Any]:
    # IM-Suite has no remarks (what one calls a friend privately): always "".
    return _self_info(person) | {"response": "user_info_response", "userRemark": ""}


def _group_info(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "response": "group_info_response",
        "groupId": str(group["groupId"]),
        "groupName": group["groupName"],
    }


def _member_info(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "response": "group_member_info_response",
        "userId": str(member["userId"]),
        "username": member["username"],
        "userDisplayname": member["card"] or member["nickname"],
    }


def _sent(data: dict[str, Any]) -> dict[str, Any]:
    return {"response": "send_message_response", "messageId": str(data["messageId"]), "time": _now()}


# The answers kotori waits for, by its action name, made from the action's data.
RESPONSES: dict[str, Callable[[Any], Any]] = {
    "send_private_msg": _sent,
    "send_group_msg": _sent,
    "get_self_info": _self_info,
    "get_user_info": _user_info,
    "get_friend_list": lambda people: [_user_info(p) for p in people],
    "get_group_info": _group_info,
    "get_group_list": lambda groups: [_group_info(g) for g in groups],
    "get_group_member_info": _member_info,
    "get_group_member_list": lambda members: [_member_info(m) for m in members],
}


class Kotori(Dialect):
    """kotori's adapter-sandbox (see the module's docstring)."""

    name = "kotori"

    def event_names(self) -> frozenset[str]:
        return frozenset(RENDERERS)

    def missed(self, bot_id: int, since: int, oldest: int) -> None:
        """kotori has no such event and answers an unknown one with on_data_error: nothing is sent
        (the replay still starts at the oldest event kept)."""
        return None

    def event(self, name: str, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        render = RENDERERS.get(name)
        return render(data, bot_id) if render else None

    def parse(self, frame: dict[str, Any]) -> Call | None:
        """kotori's actions are flat frames without echo; `on_data_error` (its complaint about a
        frame) and response frames are no action."""
        call = super().parse(frame)
        if call is None or call.name in NOTICES or "response" in frame:
            return None
        call.action = ACTIONS.get(call.name, "")  # "" is no action of bots.actions: unknown
        if call.name == "get_self_info":
            call.params = {}
        return call

    def answer(
        self, call: Call | None, data: Any = None, error: DomainError | None = None
    ) -> dict[str, Any] | list[Any] | None:
        if error is not None or call is None or call.name not in RESPONSES:
            return None
        return RESPONSES[call.name](data)
