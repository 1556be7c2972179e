"""Renders protocol-neutral domain events as client-protocol frames (type, payload) for one viewer."""

from typing import Any

from reports.realtime import RENDERERS as REPORT_RENDERERS

from .events import message_for_viewer

SEQ_EVENTS = frozenset(
    {"message.new", "message.edit", "message.delete", "message.reaction", "message.preview"}
)


def _chat_for(chat: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """A private chat's title is the other person's nickname, as the viewer sees it."""
    title = (chat.get("titles") or {}).get(str(viewer_id), chat.get("title"))
    return {"id": chat["id"], "type": chat["type"], "title": title}


def _message_new(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    return {
        "message": message_for_viewer(data["message"], viewer_id),
        "chat": _chat_for(data["chat"], viewer_id),
        "sender": data["sender"],
    }


def _message_edit(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    return {
        "message": message_for_viewer(data["message"], viewer_id),
        "chat": _chat_for(data["chat"], viewer_id),
    }


def _message_delete(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    keys = ("message_id", "chat_id", "deleted_by", "deleted_at")
    return {k: data[k] for k in keys}


def _message_pinned(data: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    pin = data["pin"] | {"message": message_for_viewer(data["pin"]["message"], viewer_id)}
    return {"chat_id": data["chat_id"], "message_id": data["message_id"], "pin": pin}


def _same(keys: tuple[str, ...]) -> Any:
    return lambda data, viewer_id: {k: data.get(k) for k in keys}


RENDERERS = {
    "message.new": ("message.new", _message_new),
    "message.edit": ("message.edit", _message_edit),
    "message.delete": ("message.delete", _message_delete),
    "message.reaction": (
        "message.reaction",
        _same(("chat_id", "message_id", "emoji", "user_id", "added", "reactions")),
    ),
    "message.pinned": ("message.pinned", _message_pinned),
    "message.unpinned": ("message.unpinned", _same(("chat_id", "message_id", "unpinned_by"))),
    "message.preview": ("message.preview", _same(("chat_id", "message_id", "previews"))),
    "message.read": ("message.read", _same(("message_id", "chat_id", "read_by", "read_at"))),
    "message.delivered": ("message.delivered", _same(("chat_id", "up_to_message_id", "delivered_to"))),
    "chat.notify": ("chat.notify", _same(("chat_id", "notify", "until"))),
    "draft.updated": ("draft.updated", _same(("chat_id", "text", "reply_to_id", "updated_at"))),
    "typing": ("typing", _same(("chat_id", "user_id", "is_typing", "user"))),
    "presence": ("presence", _same(("user_id", "is_online", "last_seen", "user"))),
    "notification": ("notification", _same(("title", "message", "type", "action_url"))),
    "friend.request": ("friend.request", _same(("request",))),
    "friend.request_updated": ("friend.request", _same(("request",))),
    "friend.added": ("friend.added", _same(("user_id", "user"))),
    "friend.removed": ("friend.removed", _same(("user_id",))),
    "user.blocked": ("user.blocked", _same(("user_id", "user", "created_at"))),
    "user.unblocked": ("user.unblocked", _same(("user_id",))),
    "group.created": ("group.created", _same(("group_id", "name", "owner_id", "member_ids"))),
    "group.updated": (
        "group.updated",
        _same(("group_id", "name", "avatar_url", "owner_id", "members_mention_all", "operator_id")),
    ),
    "group.member_added": ("group.member_added", _same(("group_id", "user_id", "operator_id", "member"))),
    "group.member_removed": ("group.member_removed", _same(("group_id", "user_id", "operator_id", "reason"))),
    "group.member_updated": (
        "group.member_updated",
        _same(("group_id", "user_id", "operator_id", "changed", "member")),
    ),
    "group.ban": ("group.ban", _same(("group_id", "user_id", "operator_id", "duration", "until"))),
    "group.notice": ("group.notice", _same(("group_id", "notice"))),
    "group.join_request": ("group.join_request", _same(("group_id", "request"))),
    "group.dissolved": ("group.dissolved", _same(("group_id", "operator_id"))),
    "call.offer": (
        "call.offer",
        _same(("call_id", "from_user", "to_user", "call_type", "sdp", "ice_candidates", "created_at")),
    ),
    "call.status": ("call.status", _same(("call_id", "status", "to_user"))),
    "call.answer": (
        "call.answer",
        _same(("call_id", "from_user", "to_user", "sdp", "ice_candidates", "answered_at")),
    ),
    "call.ice": ("call.ice", _same(("call_id", "from_user", "to_user", "ice_candidate"))),
    "call.end": ("call.end", _same(("call_id", "from_user", "to_user", "reason", "duration", "ended_at"))),
    **REPORT_RENDERERS,
}


def render_for(name: str, data: dict[str, Any], viewer_id: int) -> tuple[str, dict[str, Any]] | None:
    """The client frame's (type, payload) for this viewer, or None if clients do not see the event."""
    renderer = RENDERERS.get(name)
    if renderer is None:
        return None
    event_type, build = renderer
    return event_type, build(data, viewer_id)
