"""OneBot v11 (github.com/botuniverse/onebot-11) over WebSocket, forward and reverse, as NoneBot2's
nonebot-adapter-onebot and other OneBot clients expect it: events with `time`, `self_id` and
`post_type`, a lifecycle `connect` meta event first on every connection, heartbeats, snake_case
action params and `{status, retcode, data, message, echo}` answers.

Messages: events carry `message` as an array of segments (`onebot11`) or as a CQ string
(`onebot11_string`, OneBot's `event.message_format=string`), and `raw_message` as a CQ string. A
mention becomes an `at` segment after the text (which keeps the `@name` as written); a reply a
leading `reply` segment; files `image`, `record`, `video` or `file` segments. Incoming, `at` is
written into the text as `@<username>` (so chats.mentions makes it a real mention), `reply` is the
message's reply_to, and a message that is one media segment by http(s) URL is an image or file
message by URL (IM-Suite keeps no voice or video by URL: those are file messages)."""

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bots.events import admin_change
from imsuite.errors import DomainError, ErrorCode

from . import cq
from .base import Call, Dialect

if TYPE_CHECKING:
    from accounts.models import User

# OneBot's retcodes: 100 bad params, 102 no such data, 103 the operation failed (not allowed), 201 the
# implementation is not ready; 1401/1404 as the HTTP statuses of communication/ws.md (1404: no such API).
RETCODES = {
    ErrorCode.VALIDATION_ERROR: 100,
    ErrorCode.PAYLOAD_TOO_LARGE: 100,
    ErrorCode.NOT_FOUND: 102,
    ErrorCode.PERMISSION_DENIED: 103,
    ErrorCode.CONFLICT: 103,
    ErrorCode.RATE_LIMITED: 103,
    ErrorCode.INTERNAL_ERROR: 103,
    ErrorCode.AUTHENTICATION_FAILED: 1401,
    ErrorCode.SERVICE_UNAVAILABLE: 201,
}
UNKNOWN_ACTION = 1404
HEARTBEAT_SECONDS = 15.0  # OneBot's heartbeat.interval default
WHOLE_BAN_SECONDS = 30 * 86400  # set_group_whole_ban has no duration: the longest mute, until lifted
# OneBot's param names -> bots.actions'; unknown ones are ignored (no_cache, ...).
RENAMES = {
    "user_id": "userId",
    "group_id": "groupId",
    "message_id": "messageId",
    "group_name": "groupName",
    "duration": "time",
    "card": "card",
    "enable": "enable",
    "approve": "approve",
    "flag": "flag",
    "reject_add_request": "rejectAddRequest",
}
CAMEL = re.compile(r"(?<=[a-z])([A-Z])")
MEDIA_URL = re.compile(r"https?://[^\s\]]+")
OUT_MEDIA = {"image": "image", "voice": "record", "video": "video", "file": "file"}  # attachment kind ->
IN_MEDIA = {"image": "image", "record": "file", "video": "file", "file": "file"}  # segment -> element
SAME = (
    "delete_msg",
    "get_msg",
    "get_login_info",
    "get_stranger_info",
    "get_friend_list",
    "get_group_info",
    "get_group_list",
    "get_group_member_info",
    "get_group_member_list",
    "set_group_kick",
    "set_group_ban",
    "set_group_admin",
    "set_group_card",
    "set_group_name",
    "set_group_leave",
    "set_friend_add_request",
    "set_group_add_request",
)
DEFAULTS = {"set_group_admin": {"enable": True}, "set_group_card": {"card": ""}}
ASYNC_SUFFIXES = ("_async", "_rate_limited")  # answered {status: "async", retcode: 1} once carried out


def snake(value: Any) -> Any:
    """bots.actions' camelCase keys (and those of nested objects) as OneBot's snake_case."""
    if isinstance(value, dict):
        return {CAMEL.sub(r"_\1", k).lower(): snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


def _renamed(params: dict[str, Any], action: str) -> dict[str, Any]:
    return DEFAULTS.get(action, {}) | {RENAMES[k]: v for k, v in params.items() if k in RENAMES}


def _whole_ban(bot: "User", params: dict[str, Any]) -> dict[str, Any]:
    enable = params.get("enable", True)
    return {"groupId": params.get("group_id"), "userId": None, "time": WHOLE_BAN_SECONDS if enable else 0}


def _media_url(seg: cq.Segment) -> str:
    data = seg.get("data") or {}
    url = str(data.get("url") or data.get("file") or "")
    if not MEDIA_URL.fullmatch(url):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"A {seg['type']} segment is sent by its http(s) URL (file or url).",
            {"field": "message", "reason": "unsupported_file"},
        )
    return url


def _mentioned(segments: list[cq.Segment]) -> set[int]:
    ids = set()
    for seg in segments:
        if seg["type"] != "at":
            continue
        qq = str((seg.get("data") or {}).get("qq", ""))
        if qq != "all" and not (qq.isascii() and qq.isdecimal() and len(qq) <= 18):
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                'An at segment names a user id or "all" (qq).',
                {"field": "message", "reason": "invalid_at"},
            )
        if qq != "all":
            ids.add(int(qq))
    return ids


def message_params(bot: "User", params: dict[str, Any]) -> dict[str, Any]:
    """A send's `message` (CQ string or segments) as the text of bots.actions' send, with replyTo."""
    from accounts.selectors import usernames

    segments = cq.read_message(params.get("message"), params.get("auto_escape") is True)
    names = usernames(_mentioned(segments))
    out = _renamed(params, "send")
    parts: list[str] = []  # the text, mentions and links of the message, in order
    media: list[tuple[str, str]] = []  # each media segment's element kind and URL
    for i, seg in enumerate(segments):
        kind, data = seg["type"], seg.get("data") or {}
        if kind == "text":
            parts.append(str(data.get("text", "")))
        elif kind == "at":
            qq = str(data["qq"])
            following = segments[i + 1] if i + 1 < len(segments) else {}
            after = (following.get("data") or {}).get("text", "") if following.get("type") == "text" else ""
            spaced = str(after)[:1].isspace()
            name = "all" if qq == "all" else names.get(int(qq), qq)
            parts.append(f"@{name}" + ("" if spaced else " "))  # a name ends before a space
        elif kind == "reply":
            out["replyTo"] = data.get("id")
        elif kind in IN_MEDIA:
            url = _media_url(seg)
            media.append((IN_MEDIA[kind], url))
            parts.append(url)
        else:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"IM-Suite does not send {kind!r} segments.",
                {"field": "message", "reason": "unsupported_segment"},
            )
    text = "".join(parts).strip()
    # One media segment alone is its element, which bots.actions sends as an image or file by URL.
    out["message"] = f"[{media[0][0]},{media[0][1]}]" if len(media) == 1 and text == media[0][1] else text
    return out


def out_segments(
    content: str,
    message_type: str,
    attachments: list[dict[str, Any]],
    mentions: list[Any],
    reply_to: int | None = None,
) -> list[cq.Segment]:
    """A message as segments: reply first, the text (or an image/file by URL), files, mentions last."""
    segments = [cq.segment("reply", id=reply_to)] if reply_to else []
    if message_type in ("image", "file") and not attachments:
        segments.append(cq.segment(message_type, file=content, url=content))
    elif content:
        segments.append(cq.segment("text", text=content))
    for a in attachments:
        segments.append(cq.segment(OUT_MEDIA.get(a["kind"], "file"), file=a["url"], url=a["url"]))
    segments.extend(cq.segment("at", qq=m) for m in mentions)
    return segments


class OneBot11(Dialect):
    """OneBot v11; `message_format` "array" (the default) or "string" (CQ codes) for events."""

    heartbeat_seconds = HEARTBEAT_SECONDS

    def __init__(self, name: str = "onebot11", message_format: str = "array") -> None:
        self.name, self.message_format = name, message_format

    # ---- events --------------------------------------------------------------------------------

    def _base(self, bot_id: int, post_type: str, **fields: Any) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": bot_id, "post_type": post_type, **fields}

    def _notice(self, bot_id: int, notice_type: str, **fields: Any) -> dict[str, Any]:
        return self._base(bot_id, "notice", notice_type=notice_type, **fields)

    def _message(self, segments: list[cq.Segment]) -> Any:
        return cq.to_string(segments) if self.message_format == "string" else segments

    def event(self, name: str, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        render = getattr(self, "_on_" + name.replace(".", "_"), None)
        return render(data, bot_id) if render else None

    def missed(self, bot_id: int, since: int, oldest: int) -> dict[str, Any]:
        """(extension) A notice that the events after `since` are no longer kept: the replay starts
        at `oldest` (OneBot v11 has no such notice; a framework logs an unknown notice type)."""
        return self._notice(bot_id, "events_missed", since=since, oldest=oldest)

    def event_names(self) -> frozenset[str]:
        """The domain events with a renderer below (`_on_group_member_added`: group.member_added)."""
        return frozenset(n[4:].replace("_", ".", 1) for n in dir(self) if n.startswith("_on_"))

    def _on_message_new(self, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        from bots.events import message_object

        message = data["message"]
        if message["sender_id"] in (bot_id, None):
            return None  # no event for what the bot sent itself
        shown = message_object(data, bot_id)  # the sender's standing and absolute file links
        segments = out_segments(
            message["content"],
            message["message_type"],
            shown["attachments"],
            shown["mentions"],
            message.get("reply_to_id"),
        )
        sender = {"user_id": message["sender_id"], **shown["sender"]}
        event = self._base(bot_id, "message", message_type="private", sub_type="friend")
        if "groupId" in shown:
            event |= {"message_type": "group", "sub_type": "normal", "group_id": shown["groupId"]}
            sender |= {"card": data.get("sender_profile", {}).get("card", ""), "area": "", "title": ""}
            event["anonymous"] = None
        return event | {
            "message_id": message["id"],
            "user_id": message["sender_id"],
            "message": self._message(segments),
            "raw_message": cq.to_string(segments),
            "font": 0,
            "sender": sender,
        }

    def _on_message_delete(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        if data.get("chat_type") == "group":
            return self._notice(
                bot_id,
                "group_recall",
                group_id=data["chat_id"],
                user_id=data["sender_id"],
                operator_id=data["deleted_by"],
                message_id=data["message_id"],
            )
        return self._notice(bot_id, "friend_recall", user_id=data["sender_id"], message_id=data["message_id"])

    def _on_friend_request(self, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        request = data["request"]
        if request["to_user"]["id"] != bot_id or request["status"] != "pending":
            return None
        return self._base(
            bot_id,
            "request",
            request_type="friend",
            user_id=request["from_user"]["id"],
            comment=request["message"],
            flag=f"friend:{request['id']}",
        )

    def _on_group_join_request(self, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        request = data["request"]
        if request["status"] != "pending" or bot_id not in data.get("manager_ids", ()):
            return None  # only owners and admins are asked
        return self._base(
            bot_id,
            "request",
            request_type="group",
            sub_type="add",
            group_id=data["group_id"],
            user_id=request["user_id"],
            comment=request["comment"],
            flag=f"group:{request['id']}",
        )

    def _on_friend_added(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return self._notice(bot_id, "friend_add", user_id=data["user_id"])

    def _on_friend_removed(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        """(addition) OneBot v11 has no notice for it; named as its implementations that do name it."""
        return self._notice(bot_id, "friend_decrease", user_id=data["user_id"])

    def _on_group_member_added(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        sub_type = "approve" if data["operator_id"] == data["user_id"] else "invite"
        return self._notice(
            bot_id,
            "group_increase",
            sub_type=sub_type,
            group_id=data["group_id"],
            operator_id=data["operator_id"],
            user_id=data["user_id"],
        )

    def _on_group_member_removed(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        user_id, operator_id = data["user_id"], data["operator_id"]
        sub_type = "leave" if operator_id == user_id else "kick_me" if user_id == bot_id else "kick"
        return self._notice(
            bot_id,
            "group_decrease",
            sub_type=sub_type,
            group_id=data["group_id"],
            operator_id=operator_id,
            user_id=user_id,
        )

    def _on_group_member_updated(self, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        sub_type = admin_change(data)
        if sub_type is None:
            return None
        return self._notice(
            bot_id, "group_admin", sub_type=sub_type, group_id=data["group_id"], user_id=data["user_id"]
        )

    def _on_group_ban(self, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return self._notice(
            bot_id,
            "group_ban",
            sub_type="ban" if data["duration"] else "lift_ban",
            group_id=data["group_id"],
            operator_id=data["operator_id"] or 0,
            user_id=data["user_id"] or 0,  # 0: the whole group
            duration=data["duration"],
        )

    def opening(self, bot: "User") -> list[dict[str, Any]]:
        """The lifecycle `connect` meta event: NoneBot's adapter takes the bot's self_id from it."""
        return [self._base(bot.pk, "meta_event", meta_event_type="lifecycle", sub_type="connect")]

    def heartbeat(self, bot: "User") -> dict[str, Any]:
        return self._base(
            bot.pk,
            "meta_event",
            meta_event_type="heartbeat",
            status={"online": True, "good": True},
            interval=int(self.heartbeat_seconds * 1000),
        )

    def reverse_headers(self, bot: "User", access_token: str) -> dict[str, str]:
        """communication/ws-reverse.md's handshake of a Universal client."""
        return super().reverse_headers(bot, access_token) | {
            "X-Client-Role": "Universal",
            "User-Agent": "IM-Suite OneBot/11",
        }

    # ---- actions -------------------------------------------------------------------------------

    def parse(self, frame: dict[str, Any]) -> Call | None:
        """`{action, params, echo}`; an action's `_async` / `_rate_limited` form is carried out the same."""
        name = frame.get("action")
        if not isinstance(name, str):
            return None
        params = frame.get("params")
        params = params if isinstance(params, dict) else {}
        echo = frame.get("echo")
        action = name.removesuffix(ASYNC_SUFFIXES[0]).removesuffix(ASYNC_SUFFIXES[1])
        prepare: Callable[[User, dict[str, Any]], dict[str, Any]]
        if action == "send_msg":
            group = params.get("message_type", "group" if "group_id" in params else "private") == "group"
            action, prepare = ("send_group_msg" if group else "send_private_msg"), message_params
        elif action in ("send_private_msg", "send_group_msg"):
            prepare = message_params
        elif action == "set_group_whole_ban":
            action, prepare = "set_group_ban", _whole_ban
        elif action in SAME:
            prepare = _rename(action)
        else:
            return Call(name, {}, echo, name)  # answered as an unknown action (1404)
        return Call(action, params, echo, name, prepare)

    def answer(self, call: Call | None, data: Any = None, error: DomainError | None = None) -> dict[str, Any]:
        echo = call.echo if call else None
        if error is not None:
            failed = super().answer(call, error=error)
            message = failed["message"]
            for onebot, ours in RENAMES.items():
                if ours != onebot and ours[0].islower() and not ours.islower():
                    message = message.replace(ours, onebot)
            unknown = error.details.get("reason") == "unknown_action"
            retcode = UNKNOWN_ACTION if unknown else RETCODES.get(error.code, 100)
            return {"status": "failed", "retcode": retcode, "data": None, "message": message, "echo": echo}
        if call is not None and call.name.endswith(ASYNC_SUFFIXES):
            return {"status": "async", "retcode": 1, "data": None, "message": "", "echo": echo}
        return {"status": "ok", "retcode": 0, "data": self._result(call, data), "message": "", "echo": echo}

    def _result(self, call: Call | None, data: Any) -> Any:
        """The action's data as OneBot's API documents it."""
        action = call.action if call else ""
        if action == "get_msg":
            return self._message_result(data)
        data = snake(data)
        if action in ("get_group_info", "get_group_list"):
            extra = {"max_member_count": 0}  # IM-Suite has no group size limit
        elif action == "get_friend_list":
            extra = {"remark": ""}
        else:
            return data
        return [d | extra for d in data] if isinstance(data, list) else data | extra

    def _message_result(self, shown: dict[str, Any]) -> dict[str, Any]:
        """get_msg's data from bots.actions.get_msg's message object (the text without its elements)."""
        attachments = shown["attachments"]
        lines = shown["message"].split("\n")
        caption = "\n".join(lines[: len(lines) - len(attachments)]) if attachments else shown["message"]
        segments = out_segments(caption, "text", attachments, shown["mentions"])
        group = "groupId" in shown
        return {
            "time": shown["time"],
            "message_type": "group" if group else "private",
            "message_id": shown["messageId"],
            "real_id": shown["messageId"],
            "sender": {"user_id": shown["userId"], **snake(shown["sender"])},
            "message": self._message(segments),
            "raw_message": cq.to_string(segments),
            **({"group_id": shown["groupId"]} if group else {}),
        }


def _rename(action: str) -> Callable[["User", dict[str, Any]], dict[str, Any]]:
    def prepare(bot: "User", params: dict[str, Any]) -> dict[str, Any]:
        return _renamed(params, action)

    return prepare
