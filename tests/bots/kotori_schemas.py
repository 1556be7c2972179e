"""kotori's adapter-sandbox schemas, ported faithfully from its src/type.ts (kotorijs/kotori,
modules/platform/adapter-sandbox, the 1.1.x adapter of kotori-bot 1.7.x) to plain Python: the
zod event and response schemas its adapter checks every incoming frame against (a frame that fails
them is answered with `on_data_error`), and the ActionList it sends. Like zod's z.object, a shape
names its required keys and lets others pass; z.union passes when one member does.

`errors(schema, value)` lists what is wrong ([] when it passes); `EVENT`, `RESPONSE` and `ACTION`
are the three unions."""

from typing import Any

Schema = Any


class Literal:
    def __init__(self, *values: Any) -> None:
        self.values = values


class Union:
    def __init__(self, *members: Schema) -> None:
        self.members = members


class Array:
    def __init__(self, item: Schema) -> None:
        self.item = item


STRING, NUMBER, BOOLEAN = str, float, bool


def errors(schema: Schema, value: Any, path: str = "$") -> list[str]:
    """What is wrong with `value` under `schema` (a dict is a z.object)."""
    if schema is STRING:
        return [] if isinstance(value, str) else [f"{path}: expected string, got {value!r}"]
    if schema is NUMBER:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if number else [f"{path}: expected number, got {value!r}"]
    if schema is BOOLEAN:
        return [] if isinstance(value, bool) else [f"{path}: expected boolean, got {value!r}"]
    if isinstance(schema, Literal):
        # JSON has no 1 == true: a literal matches only a value of its own type.
        if any(type(value) is type(v) and value == v for v in schema.values):
            return []
        return [f"{path}: expected one of {schema.values!r}, got {value!r}"]
    if isinstance(schema, Array):
        if not isinstance(value, list):
            return [f"{path}: expected array, got {value!r}"]
        return [e for i, item in enumerate(value) for e in errors(schema.item, item, f"{path}[{i}]")]
    if isinstance(schema, Union):
        found = [errors(member, value, path) for member in schema.members]
        return [] if any(not e for e in found) else [f"{path}: matches no member of the union: {found}"]
    if not isinstance(value, dict):
        return [f"{path}: expected object, got {value!r}"]
    return [
        e
        for key, sub in schema.items()
        for e in (errors(sub, value[key], f"{path}.{key}") if key in value else [f"{path}.{key}: required"])
    ]


def _event(name: str, kind: int, **fields: Schema) -> dict[str, Schema]:
    return {"event": Literal(name), "type": Literal(kind), **fields}


S, N = STRING, NUMBER

# ---- events (eventDataSchema) ----------------------------------------------------------------------
PRIVATE_MSG = _event("on_message", 0, message=S, messageAlt=S, userId=S, sender={"nickname": S}, time=N)
GROUP_MSG = _event(
    "on_message",
    1,
    message=S,
    messageAlt=S,
    userId=S,
    sender={"nickname": S, "role": Literal("owner", "admin", "member")},
    time=N,
    groupId=S,
)
CHANNEL_MSG = _event(
    "on_message", 2, message=S, messageAlt=S, userId=S, sender={"nickname": S}, time=N, channelId=S
)
PRIVATE_MSG_DELETE = _event("on_message_delete", 0, userId=S, messageId=S, time=N)
GROUP_MSG_DELETE = _event("on_message_delete", 1, userId=S, messageId=S, operatorId=S, groupId=S, time=N)
CHANNEL_MSG_DELETE = _event(
    "on_message_delete", 2, userId=S, messageId=S, operatorId=S, channelId=S, guildId=S, time=N
)
FRIEND_INCREASE = _event("on_friend_increase", 0, userId=S, time=N)
FRIEND_DECREASE = _event("on_friend_decrease", 0, userId=S, time=N)
GROUP_INCREASE = _event("on_group_increase", 1, userId=S, operatorId=S, groupId=S, time=N)
GROUP_DECREASE = _event("on_group_decrease", 1, userId=S, operatorId=S, groupId=S, time=N)
GUILD_INCREASE = _event("on_guild_increase", 2, userId=S, operatorId=S, channelId=S, guildId=S)  # no time
GUILD_DECREASE = _event("on_guild_decrease", 2, userId=S, operatorId=S, channelId=S, guildId=S, time=N)
CHANNEL_INCREASE = _event("on_channel_increase", 2, userId=S, operatorId=S, channelId=S, guildId=S, time=N)
CHANNEL_DECREASE = _event("on_channel_decrease", 2, userId=S, operatorId=S, channelId=S, guildId=S, time=N)
GROUP_ADMIN = _event("on_group_admin", 1, userId=S, operation=Literal("set", "unset"), groupId=S, time=N)
GROUP_BAN = _event("on_group_ban", 1, userId=S, operatorId=S, duration=N, groupId=S, time=N)
GROUP_WHOLE_BAN = _event(
    "on_group_whole_ban", 1, operatorId=S, operation=Literal("set", "unset"), groupId=S, time=N
)
EVENT = Union(
    PRIVATE_MSG,
    GROUP_MSG,
    CHANNEL_MSG,
    PRIVATE_MSG_DELETE,
    GROUP_MSG_DELETE,
    CHANNEL_MSG_DELETE,
    FRIEND_INCREASE,
    FRIEND_DECREASE,
    GROUP_INCREASE,
    GROUP_DECREASE,
    GUILD_INCREASE,
    GUILD_DECREASE,
    CHANNEL_INCREASE,
    CHANNEL_DECREASE,
    GROUP_ADMIN,
    GROUP_BAN,
    GROUP_WHOLE_BAN,
)

# ---- responses (responseSchema) --------------------------------------------------------------------
SEND_MESSAGE_RESPONSE = {"response": Literal("send_message_response"), "messageId": S, "time": N}
SELF_INFO_RESPONSE = {
    "response": Literal("self_info_response"),
    "userId": S,
    "username": S,
    "userDisplayname": S,
}
USER_INFO_RESPONSE = {
    "response": Literal("user_info_response"),
    "userId": S,
    "username": S,
    "userDisplayname": S,
    "userRemark": S,
}
GROUP_INFO_RESPONSE = {"response": Literal("group_info_response"), "groupId": S, "groupName": S}
GROUP_MEMBER_INFO_RESPONSE = {
    "response": Literal("group_member_info_response"),
    "userId": S,
    "username": S,
    "userDisplayname": S,
}
RESPONSE = Union(
    SEND_MESSAGE_RESPONSE,
    SELF_INFO_RESPONSE,
    USER_INFO_RESPONSE,
    Array(USER_INFO_RESPONSE),  # friendListResponseSchema
    GROUP_INFO_RESPONSE,
    Array(GROUP_INFO_RESPONSE),  # groupListResponseSchema
    GROUP_MEMBER_INFO_RESPONSE,
    Array(GROUP_MEMBER_INFO_RESPONSE),  # groupMemberListResponseSchema
)


# ---- what kotori sends (ActionList) ----------------------------------------------------------------
def _action(name: str, **fields: Schema) -> dict[str, Schema]:
    return {"action": Literal(name), **fields}


ACTIONS = {
    "send_private_msg": _action("send_private_msg", message=S, userId=S),
    "send_group_msg": _action("send_group_msg", message=S, groupId=S),
    "delete_msg": _action("delete_msg", messageId=S),
    "get_self_info": _action("get_self_info"),
    "get_user_info": _action("get_user_info", userId=S),
    "get_friend_list": _action("get_friend_list"),
    "get_group_info": _action("get_group_info", groupId=S),
    "get_group_list": _action("get_group_list"),
    "get_group_member_info": _action("get_group_member_info", groupId=S, userId=S),
    "get_group_member_list": _action("get_group_member_list", groupId=S),
    "set_group_name": _action("set_group_name", groupId=S, groupName=S),
    "leave_group": _action("leave_group", groupId=S),
    "set_group_admin": _action("set_group_admin", groupId=S, userId=S, enable=BOOLEAN),
    "set_group_card": _action("set_group_card", groupId=S, userId=S, card=S),
    "set_group_kick": _action("set_group_kick", groupId=S, userId=S),
    "set_group_ban": _action("set_group_ban", groupId=S, userId=S, time=N),
    "set_group_whole_ban": _action("set_group_whole_ban", groupId=S, enable=BOOLEAN),
    "on_data_error": _action("on_data_error", error=S),
}
ACTION = Union(*ACTIONS.values())
