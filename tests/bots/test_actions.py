"""Actions over /ws/bot: each carried out as the bot through the services (the database changes,
people get the client event), the permission matrix, retcodes, and the response frame for flat and
OneBot v11 nested frames, good and bad."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import FriendRequest, Friendship, User
from accounts.services import friend_request_send
from bots.actions import ACTIONS as SERVED
from chats.models import ChatMember, Message
from chats.services import message_delete
from groups import services as groups
from groups.models import Group, JoinRequest, Mute, Notice
from imsuite.models import AuditEntry

from .helpers import (
    WAIT,
    call,
    failed,
    make_group,
    ok,
    send,
    send_private,
)

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class World:
    bot: User
    token: str
    alice: User  # the bot's owner
    bob: User  # the bot's friend
    carol: User  # not the bot's friend
    dave: User  # in no group; has asked to join the team
    club: Group  # the bot's own group, with Alice and Bob
    team: Group  # Alice's: the bot (as `bot_role`), Bob a plain member, Carol an admin
    club_message: int  # Bob's, in the club
    team_messages: dict[str, int]  # Alice's and Bob's, in the team
    join: int  # Dave's pending request to join the team


@pytest.fixture
def bot_role() -> str:
    """The bot's role in Alice's team; tests parametrize it."""
    return "member"


@pytest.fixture
def w(alice, bob, carol, make_user, bot, bot_token, bot_role) -> World:
    dave = make_user("dave", nickname="Dave")
    club = make_group(bot, alice, bob, name="Club")
    team = make_group(alice, bot, bob, carol, admins=[carol, *([bot] if bot_role == "admin" else [])])
    groups.member_update(actor=alice, group_id=team.pk, user_id=carol.pk, card="Cici", level="5")
    join = groups.join_request_create(actor=dave, group_id=team.pk)
    return World(
        bot=bot,
        token=bot_token,
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        club=club,
        team=team,
        club_message=send(bob, club.pk).pk,
        team_messages={name: send(user, team.pk).pk for name, user in (("alice", alice), ("bob", bob))},
        join=join.pk,
    )


# ---- every action, as the bot, seen by a person ------------------------------------------------------


def sent_message(w: World, data: dict[str, Any], payload: dict[str, Any], chat_type: str, text: str) -> None:
    row = Message.objects.select_related("chat").get(pk=data["messageId"])
    assert data == {"messageId": row.pk}
    assert (row.chat.type, row.sender_id, row.content) == (chat_type, w.bot.pk, text)
    assert row.chat.members.filter(user=w.bob).exists()
    assert (payload["message"]["id"], payload["sender"]["id"]) == (row.pk, w.bot.pk)


def deleted(w: World, data: Any, payload: dict[str, Any]) -> None:
    row = Message.objects.get(pk=w.club_message)
    assert (data, row.deleted_by_id, row.content) == (None, w.bot.pk, "")
    assert (payload["message_id"], payload["deleted_by"]) == (row.pk, w.bot.pk)


def group_changed(field: str, value: str | bool) -> Callable[[World, Any, dict[str, Any]], None]:
    def check(w: World, data: Any, payload: dict[str, Any]) -> None:
        assert (data, getattr(Group.objects.get(pk=w.club.pk), field)) == (None, value)
        assert (payload["group_id"], payload[field], payload["operator_id"]) == (w.club.pk, value, w.bot.pk)

    return check


def member_changed(
    group: str, who: str, field: str, value: str
) -> Callable[[World, Any, dict[str, Any]], None]:
    def check(w: World, data: Any, payload: dict[str, Any]) -> None:
        group_id, user = getattr(w, group).pk, getattr(w, who)
        row = ChatMember.objects.get(chat_id=group_id, user=user)
        assert (data, getattr(row, field)) == (None, value)
        assert (payload["user_id"], payload["changed"], payload["member"][field]) == (user.pk, [field], value)

    return check


def muted(who: str | None, seconds: int) -> Callable[[World, Any, dict[str, Any]], None]:
    def check(w: World, data: Any, payload: dict[str, Any]) -> None:
        user_id = getattr(w, who).pk if who else None
        mute = Mute.objects.get(group=w.club, user_id=user_id)
        left = (mute.until - timezone.now()).total_seconds()
        assert data is None and seconds - 10 < left <= seconds
        assert (payload["user_id"], payload["operator_id"], payload["duration"]) == (
            user_id,
            w.bot.pk,
            seconds,
        )

    return check


def noticed(w: World, data: dict[str, Any], payload: dict[str, Any]) -> None:
    notice = Notice.objects.get(group=w.club)
    assert data == {"noticeId": notice.pk}
    assert (notice.author_id, notice.content, notice.image_url) == (
        w.bot.pk,
        "Read me",
        "https://example.com/n.png",
    )
    assert payload["notice"]["id"] == notice.pk


def removed(group: str, who: str, reason: str) -> Callable[[World, Any, dict[str, Any]], None]:
    def check(w: World, data: Any, payload: dict[str, Any]) -> None:
        group_id, user = getattr(w, group).pk, getattr(w, who)
        assert data is None and not ChatMember.objects.filter(chat_id=group_id, user=user).exists()
        assert payload == {
            "group_id": group_id,
            "user_id": user.pk,
            "operator_id": w.bot.pk,
            "reason": reason,
        }

    return check


def dissolved(w: World, data: Any, payload: dict[str, Any]) -> None:
    assert data is None and Group.objects.get(pk=w.club.pk).dissolved_at is not None
    assert payload == {"group_id": w.club.pk, "operator_id": w.bot.pk}


PEOPLE = ("alice", "bob", "carol", "dave", "bot")


def in_group(group: str, **extra: Any) -> Callable[[World], dict[str, Any]]:
    """Params naming the world's `group` and, by name, its people (userId="bob" is Bob's id)."""

    def build(w: World) -> dict[str, Any]:
        people = {k: getattr(w, v).pk for k, v in extra.items() if v in PEOPLE}
        return {"groupId": getattr(w, group).pk, **extra, **people}

    return build


def club(**extra: Any) -> Callable[[World], dict[str, Any]]:
    return in_group("club", **extra)


def team(**extra: Any) -> Callable[[World], dict[str, Any]]:
    return in_group("team", **extra)


ACTIONS = {
    # name: (action, params, the client event Bob receives, the check of data, database and event)
    "send_private_msg": (
        "send_private_msg",
        lambda w: {"userId": w.bob.pk, "message": "hi Bob"},
        "message.new",
        lambda w, data, payload: sent_message(w, data, payload, "private", "hi Bob"),
    ),
    "send_group_msg": (
        "send_group_msg",
        club(message="hi all"),
        "message.new",
        lambda w, data, payload: sent_message(w, data, payload, "group", "hi all"),
    ),
    "delete_msg": ("delete_msg", lambda w: {"messageId": w.club_message}, "message.delete", deleted),
    "set_group_name": (
        "set_group_name",
        club(groupName="Renamed"),
        "group.updated",
        group_changed("name", "Renamed"),
    ),
    "set_group_avatar": (
        "set_group_avatar",
        club(image="https://example.com/club.png"),
        "group.updated",
        group_changed("avatar_url", "https://example.com/club.png"),
    ),
    "set_group_admin": (
        "set_group_admin",
        club(userId="bob", enable=True),
        "group.member_updated",
        member_changed("club", "bob", "role", "admin"),
    ),
    "set_group_card": (
        "set_group_card",
        club(userId="bob", card="Bobby"),
        "group.member_updated",
        member_changed("club", "bob", "card", "Bobby"),
    ),
    "set_group_card of its own": (
        "set_group_card",
        lambda w: {"groupId": w.team.pk, "userId": w.bot.pk, "card": "Robo!"},
        "group.member_updated",
        member_changed("team", "bot", "card", "Robo!"),
    ),
    "set_group_ban": ("set_group_ban", club(userId="bob", time=600), "group.ban", muted("bob", 600)),
    "set_group_ban everyone, default time": ("set_group_ban", club(), "group.ban", muted(None, 1800)),
    "send_group_notice": (
        "send_group_notice",
        club(content="Read me", image="https://example.com/n.png"),
        "group.notice",
        noticed,
    ),
    "set_group_kick": (
        "set_group_kick",
        club(userId="bob"),
        "group.member_removed",
        removed("club", "bob", "kick"),
    ),
    "set_group_leave": (
        "set_group_leave",
        lambda w: {"groupId": w.team.pk},
        "group.member_removed",
        removed("team", "bot", "leave"),
    ),
    "set_group_leave as owner dissolves": ("set_group_leave", club(), "group.dissolved", dissolved),
}


@pytest.mark.parametrize(("action", "params", "client_event", "check"), ACTIONS.values(), ids=ACTIONS)
async def test_action_is_carried_out_and_people_see_it(sockets, w, action, params, client_event, check):
    person = await sockets.person(w.bob)
    socket = await sockets.bot(w.token)
    reply = await socket.act(action, echo=f"{action}#1", **params(w))
    assert reply == ok(reply["data"], f"{action}#1")
    await call(check, w, reply["data"], await person.until(client_event))


async def test_set_group_admin_set_and_unset_by_the_owner_bot(sockets, w):
    socket = await sockets.bot(w.token)
    for enable, role, operation in ((True, "admin", "set"), (False, "member", "unset")):
        assert await socket.act("set_group_admin", groupId=w.club.pk, userId=w.bob.pk, enable=enable) == ok()
        assert await call(lambda: ChatMember.objects.get(chat_id=w.club.pk, user=w.bob).role) == role
        assert await socket.event() == {
            "event": "on_group_admin",
            "userId": w.bob.pk,
            "operation": operation,
            "groupId": w.club.pk,
        }


async def test_set_group_ban_time_zero_lifts(sockets, w):
    await call(groups.group_ban, actor=w.bot, group_id=w.club.pk, user_id=w.bob.pk, duration=600)
    socket = await sockets.bot(w.token)
    assert await socket.act("set_group_ban", groupId=w.club.pk, userId=w.bob.pk, time=0) == ok()
    assert not await call(Mute.objects.filter(group=w.club).exists)


# ---- answering requests -----------------------------------------------------------------------------

APPROVALS = [
    pytest.param(True, id="approve"),
    pytest.param(False, id="reject"),
    pytest.param(None, id="default"),
]


@pytest.mark.parametrize("approve", APPROVALS)
@pytest.mark.parametrize("by", ["flag", "userId"])
async def test_set_friend_add_request(sockets, bot, bot_token, carol, by, approve):
    person = await sockets.person(carol)
    socket = await sockets.bot(bot_token)
    await call(friend_request_send, actor=carol, user_id=bot.pk)
    asked = await socket.event()
    params = {"flag": asked["flag"]} if by == "flag" else {"userId": carol.pk}
    if approve is not None:
        params["approve"] = approve
    assert await socket.act("set_friend_add_request", echo=7, **params) == ok(None, 7)
    accepted = approve is not False
    status = "accepted" if accepted else "rejected"
    answer = await person.until("friend.request", lambda p: p["request"]["status"] != "pending")
    assert (answer["request"]["status"], answer["request"]["to_user"]["id"]) == (status, bot.pk)
    assert await call(lambda: FriendRequest.objects.get().status) == status
    assert await call(Friendship.objects.filter(user=bot, friend=carol).exists) is accepted
    if accepted:
        assert (await person.until("friend.added"))["user_id"] == bot.pk
        assert await socket.event() == {"event": "on_private_add", "userId": carol.pk}
    await socket.nothing()


@pytest.mark.parametrize("approve", APPROVALS)
@pytest.mark.parametrize("by", ["flag", "userId"])
async def test_set_group_add_request(sockets, w, by, approve):
    person = await sockets.person(w.carol)
    socket = await sockets.bot(w.token)
    await call(groups.join_request_create, actor=w.carol, group_id=w.club.pk, comment="me too")
    asked = await socket.event()
    params = {"flag": asked["flag"]} if by == "flag" else {"groupId": w.club.pk, "userId": w.carol.pk}
    if approve is not None:
        params["approve"] = approve
    assert await socket.act("set_group_add_request", **params) == ok()
    accepted = approve is not False
    status = "approved" if accepted else "rejected"
    decided = await person.until("group.join_request", lambda p: p["request"]["status"] != "pending")
    assert (decided["request"]["status"], decided["request"]["decided_by"]) == (status, w.bot.pk)
    assert await call(ChatMember.objects.filter(chat_id=w.club.pk, user=w.carol).exists) is accepted
    if accepted:
        added = await person.until("group.member_added")
        assert (added["group_id"], added["user_id"], added["operator_id"]) == (
            w.club.pk,
            w.carol.pk,
            w.carol.pk,
        )
        assert await socket.event() == {
            "event": "on_group_increase",
            "userId": w.carol.pk,
            "groupId": w.club.pk,
            "operatorId": w.carol.pk,
        }


# ---- the OneBot extras: reads -----------------------------------------------------------------------


def member_entry(group: Group, user: User, role: str, card: str = "", level: str = "0") -> dict[str, Any]:
    return {
        "groupId": group.pk,
        "userId": user.pk,
        "username": user.username,
        "nickname": user.nickname,
        "sex": user.sex,
        "age": user.age or 0,
        "role": role,
        "level": level,
        "title": card or user.nickname,
        "card": card,
    }


async def test_reads(sockets, w):
    gone = await call(make_group, w.bot, w.bob, name="Gone")
    await call(groups.group_dissolve, actor=w.bot, group_id=gone.pk)
    socket = await sockets.bot(w.token)
    assert await socket.act("get_login_info", echo="me") == ok({"userId": w.bot.pk, "nickname": "Robo"}, "me")
    assert await socket.act("get_friend_list") == ok(
        [
            {"userId": u.pk, "username": u.username, "nickname": u.nickname, "sex": u.sex, "age": u.age}
            for u in sorted((w.alice, w.bob), key=lambda u: u.pk)
        ]
    )
    assert await socket.act("get_group_list") == ok(
        [
            {"groupId": w.club.pk, "groupName": "Club", "memberCount": 3},
            {"groupId": w.team.pk, "groupName": "Team", "memberCount": 4},
        ]
    )
    members = sorted((w.bot, w.bob, w.carol), key=lambda u: u.pk)
    roles = {w.bot.pk: ("member",), w.bob.pk: ("member",), w.carol.pk: ("admin", "Cici", "5")}
    assert await socket.act("get_group_member_list", groupId=w.team.pk) == ok(
        [member_entry(w.team, w.alice, "owner")] + [member_entry(w.team, u, *roles[u.pk]) for u in members]
    )
    assert await socket.act("get_user_info", userId=str(w.carol.pk)) == ok(
        {"userId": w.carol.pk, "username": "carol", "nickname": "Carol", "sex": "unknown", "age": 0}
    )
    assert (await socket.act("get_user_info"))["data"]["username"] == "robo"  # without userId: itself
    assert await socket.act("get_group_info", groupId=w.team.pk) == ok(
        {"groupId": w.team.pk, "groupName": "Team", "memberCount": 4}
    )
    assert await socket.act("get_group_member_info", groupId=w.team.pk, userId=w.carol.pk) == ok(
        member_entry(w.team, w.carol, "admin", "Cici", "5")
    )
    for action, params in (("get_group_info", {}), ("get_group_member_info", {"userId": w.carol.pk})):
        assert await socket.act(action, groupId=gone.pk, **params) == failed(1409, mentions="dissolved")
    assert await socket.act("get_group_member_info", groupId=w.team.pk, userId=w.dave.pk) == failed(1404)


async def test_kotori_elements_in_a_sandbox_message_are_mentions_and_replies(sockets, w):
    """(addition) `[mention,<id>]`, `[all]` and `[reply,<id>]` in the text, or replyTo."""
    socket = await sockets.bot(w.token)
    text = f"[reply,{w.club_message}]hi [mention,{w.bob.pk}], [mentionAll]"
    reply = await socket.act("send_group_msg", groupId=w.club.pk, message=text)
    row = await call(Message.objects.get, pk=reply["data"]["messageId"])
    assert (row.content, row.reply_to_id, row.mentions) == (
        "hi @bob , @all",
        w.club_message,
        ["all", w.bob.pk],
    )
    reply = await socket.act("send_group_msg", groupId=w.club.pk, message="so", replyTo=w.club_message)
    assert (
        await call(lambda: Message.objects.get(pk=reply["data"]["messageId"]).reply_to_id) == w.club_message
    )


async def test_set_group_whole_ban(sockets, w):
    """(addition) The whole group muted for as long as a mute may last, then lifted."""
    socket = await sockets.bot(w.token)
    assert await socket.act("set_group_whole_ban", groupId=w.club.pk, enable=True) == ok()
    mute = await call(Mute.objects.get, group=w.club, user_id=None)
    assert abs((mute.until - timezone.now()).total_seconds() - groups.MAX_MUTE_SECONDS) < 10
    assert (await socket.event())["duration"] == groups.MAX_MUTE_SECONDS
    assert await socket.act("set_group_whole_ban", groupId=w.club.pk, enable=False) == ok()
    assert not await call(Mute.objects.filter(group=w.club).exists)


# ---- reading messages: get_msg, get_history ----------------------------------------------------------


def shown(message: Message, sender: User, group: Group | None = None, **standing: str) -> dict[str, Any]:
    """A message as get_msg and get_history show it (on_message's fields, when it was sent, deleted)."""
    deleted = message.deleted_at is not None
    obj: dict[str, Any] = {
        "type": 0 if group is None else 1,
        "messageId": message.pk,
        "message": "" if deleted else message.content,
        "userId": sender.pk,
        "sender": {"nickname": sender.nickname, "sex": sender.sex, "age": sender.age or 0},
        "attachments": [],
        "mentions": [],
        "atMe": False,
        "time": int(message.created_at.timestamp()),
        "deleted": deleted,
    }
    if group is not None:
        role, card = standing.get("role", "member"), standing.get("card", "")
        title = card or sender.nickname
        obj["sender"] |= {"role": role, "level": standing.get("level", "0"), "title": title}
        obj["groupId"] = group.pk
    return obj


def _messages(*ids: int) -> list[Message]:
    return [Message.objects.get(pk=pk) for pk in ids]


async def test_get_msg_shows_a_message_as_on_message_does(sockets, w):
    carols = await call(send, w.carol, w.team.pk, "from Cici")
    private = await call(send_private, w.bob, w.bot, "psst")
    socket = await sockets.bot(w.token)
    club, team, bobs = await call(_messages, w.club_message, carols.pk, private.pk)
    assert await socket.act("get_msg", echo="m", messageId=club.pk) == ok(shown(club, w.bob, w.club), "m")
    assert await socket.act("get_msg", messageId=str(team.pk)) == ok(
        shown(team, w.carol, w.team, role="admin", card="Cici", level="5")
    )
    assert await socket.act("get_msg", messageId=bobs.pk) == ok(shown(bobs, w.bob))


async def test_get_msg_of_a_deleted_message_shows_it_deleted(sockets, w):
    await call(message_delete, actor=w.bob, message_id=w.club_message)
    socket = await sockets.bot(w.token)
    (deleted,) = await call(_messages, w.club_message)
    assert await socket.act("get_msg", messageId=deleted.pk) == ok(shown(deleted, w.bob, w.club))
    assert (await socket.act("get_msg", messageId=deleted.pk))["data"]["deleted"] is True


async def test_get_history_of_a_group_newest_first_in_pages(sockets, w):
    own = await call(send, w.bot, w.team.pk, "mine")
    socket = await sockets.bot(w.token)
    alices, bobs, mine = await call(_messages, w.team_messages["alice"], w.team_messages["bob"], own.pk)
    newest = [
        shown(mine, w.bot, w.team),
        shown(bobs, w.bob, w.team),
        shown(alices, w.alice, w.team, role="owner"),
    ]
    everything = await socket.act("get_history", echo=1, groupId=w.team.pk)
    assert everything == ok({"messages": newest, "nextBefore": None}, 1)
    first = await socket.act("get_history", groupId=w.team.pk, limit=2)
    assert first == ok({"messages": newest[:2], "nextBefore": bobs.pk})
    second = await socket.act("get_history", groupId=w.team.pk, limit=2, before=bobs.pk)
    assert second == ok({"messages": newest[2:], "nextBefore": None})


async def test_get_history_of_a_private_chat(sockets, w):
    first = await call(send_private, w.bob, w.bot, "one")
    second = await call(send_private, w.bot, w.bob, "two")
    socket = await sockets.bot(w.token)
    one, two = await call(_messages, first.pk, second.pk)
    assert await socket.act("get_history", userId=w.bob.pk) == ok(
        {"messages": [shown(two, w.bot), shown(one, w.bob)], "nextBefore": None}
    )


# ---- permissions -------------------------------------------------------------------------------------


def state(w: World) -> tuple[Any, ...]:
    """Everything a refused action could have changed."""
    group = Group.objects.get(pk=w.team.pk)
    members = ChatMember.objects.filter(chat_id=group.pk).order_by("user_id")
    return (
        group.name,
        group.avatar_url,
        group.dissolved_at,
        list(members.values_list("user_id", "role", "card", "level")),
        list(Mute.objects.values_list("group_id", "user_id")),
        Notice.objects.count(),
        list(Message.objects.order_by("pk").values_list("pk", "content", "deleted_at")),
        list(JoinRequest.objects.values_list("pk", "status")),
        list(Friendship.objects.order_by("pk").values_list("user_id", "friend_id")),
    )


MEMBER_REFUSED = {
    "kick": ("set_group_kick", team(userId="bob")),
    "mute": ("set_group_ban", team(userId="bob", time=60)),
    "mute everyone": ("set_group_ban", team(time=60)),
    "rename": ("set_group_name", team(groupName="Mine now")),
    "avatar": ("set_group_avatar", team(image="https://example.com/x.png")),
    "set admin": ("set_group_admin", team(userId="bob", enable=True)),
    "make itself admin": ("set_group_admin", team(userId="bot", enable=True)),
    "card of another": ("set_group_card", team(userId="bob", card="Bobby")),
    "notice": ("send_group_notice", team(content="hear me")),
    "recall another's message": ("delete_msg", lambda w: {"messageId": w.team_messages["bob"]}),
    "decide a join request": ("set_group_add_request", lambda w: {"flag": f"group:{w.join}"}),
}
ADMIN_REFUSED = {
    "kick the owner": ("set_group_kick", team(userId="alice")),
    "kick another admin": ("set_group_kick", team(userId="carol")),
    "mute the owner": ("set_group_ban", team(userId="alice", time=60)),
    "mute another admin": ("set_group_ban", team(userId="carol", time=60)),
    "set admin": ("set_group_admin", team(userId="bob", enable=True)),
    "unset admin": ("set_group_admin", team(userId="carol", enable=False)),
    "card of the owner": ("set_group_card", team(userId="alice", card="Boss")),
    "kick itself": ("set_group_kick", team(userId="bot")),
}
REFUSED = [pytest.param("member", *case, id=f"member: {name}") for name, case in MEMBER_REFUSED.items()] + [
    pytest.param("admin", *case, id=f"admin: {name}") for name, case in ADMIN_REFUSED.items()
]


@pytest.mark.parametrize(("bot_role", "action", "params"), REFUSED)
async def test_refused_action_is_1403_and_changes_nothing(sockets, w, bot_role, action, params):
    before = await call(state, w)
    socket = await sockets.bot(w.token)
    assert await socket.act(action, echo={"n": 1}, **params(w)) == failed(1403, {"n": 1})
    assert await call(state, w) == before


ADMIN_ALLOWED = {
    "kick a plain member": ("set_group_kick", team(userId="bob")),
    "mute a plain member": ("set_group_ban", team(userId="bob", time=60)),
    "mute everyone": ("set_group_ban", team(time=60)),
    "rename": ("set_group_name", team(groupName="Ours")),
    "card of a plain member": ("set_group_card", team(userId="bob", card="Bobby")),
    "notice": ("send_group_notice", team(content="hear me")),
    "recall the owner's message": ("delete_msg", lambda w: {"messageId": w.team_messages["alice"]}),
    "approve a join request": ("set_group_add_request", lambda w: {"flag": f"group:{w.join}"}),
}


@pytest.mark.parametrize("bot_role", ["admin"])
@pytest.mark.parametrize(("action", "params"), ADMIN_ALLOWED.values(), ids=ADMIN_ALLOWED)
async def test_bot_as_admin_manages_plain_members(sockets, w, bot_role, action, params):
    before = await call(state, w)
    socket = await sockets.bot(w.token)
    assert (await socket.act(action, **params(w)))["status"] == "ok"
    assert await call(state, w) != before


def other_group(w: World) -> dict[str, Any]:
    """A group that exists but the bot is not in."""
    return {"groupId": make_group(w.alice, w.carol, name="Private").pk}


def message_elsewhere(w: World) -> dict[str, Any]:
    """A message in a chat the bot is not in."""
    return {"messageId": send(w.alice, other_group(w)["groupId"]).pk}


def muted_bot_sends(everyone: bool) -> Callable[[World], dict[str, Any]]:
    def build(w: World) -> dict[str, Any]:
        user_id = None if everyone else w.bot.pk
        groups.group_ban(actor=w.alice, group_id=w.team.pk, user_id=user_id, duration=600)
        return {"groupId": w.team.pk, "message": "hi"}

    return build


def private_chat(w: World) -> int:
    """The bot's private chat with Bob."""
    return send_private(w.bob, w.bot).chat_id


NO_SUCH = 10**9
FAILURES = {
    "private message to a non-friend": (
        1403,
        "send_private_msg",
        lambda w: {"userId": w.carol.pk, "message": "hi"},
    ),
    "private message to nobody": (1403, "send_private_msg", lambda w: {"userId": NO_SUCH, "message": "hi"}),
    "muted": (1403, "send_group_msg", muted_bot_sends(everyone=False)),
    "everyone muted": (1403, "send_group_msg", muted_bot_sends(everyone=True)),
    "unknown group": (1404, "send_group_msg", lambda w: {"groupId": NO_SUCH, "message": "hi"}),
    "group of others": (1404, "send_group_msg", lambda w: {**other_group(w), "message": "hi"}),
    "rename a group of others": (1404, "set_group_name", lambda w: {**other_group(w), "groupName": "x"}),
    "members of a group of others": (1404, "get_group_member_list", other_group),
    "unknown message": (1404, "delete_msg", lambda w: {"messageId": NO_SUCH}),
    "message of others": (1404, "delete_msg", message_elsewhere),
    "kick a non-member": (1404, "set_group_kick", lambda w: {"groupId": w.club.pk, "userId": w.carol.pk}),
    "no friend request": (1404, "set_friend_add_request", lambda w: {"userId": w.carol.pk}),
    "unknown friend flag": (1404, "set_friend_add_request", lambda w: {"flag": f"friend:{NO_SUCH}"}),
    "unknown join flag": (1404, "set_group_add_request", lambda w: {"flag": f"group:{NO_SUCH}"}),
    "no join request": (
        1404,
        "set_group_add_request",
        lambda w: {"groupId": w.club.pk, "userId": w.carol.pk},
    ),
    "a group flag for a friend request": (
        1400,
        "set_friend_add_request",
        lambda w: {"flag": f"group:{w.join}"},
    ),
    "malformed flag": (1400, "set_group_add_request", lambda w: {"flag": "group:x"}),
    "neither userId nor flag": (1400, "set_friend_add_request", lambda w: {}),
    "groupId without userId": (1400, "set_group_add_request", lambda w: {"groupId": w.club.pk}),
    "empty message": (1400, "send_group_msg", lambda w: {"groupId": w.club.pk, "message": "  "}),
    "avatar not a URL": (1400, "set_group_avatar", lambda w: {"groupId": w.club.pk, "image": "club.png"}),
    "mute too long": (
        1400,
        "set_group_ban",
        lambda w: {"groupId": w.club.pk, "userId": w.bob.pk, "time": 10**8},
    ),
    "get_msg of a chat of others": (1404, "get_msg", message_elsewhere),
    "get_msg of nothing": (1404, "get_msg", lambda w: {"messageId": NO_SUCH}),
    "history of a group of others": (1404, "get_history", other_group),
    "history of nobody's group": (1404, "get_history", lambda w: {"groupId": NO_SUCH}),
    "history of a private chat as a group": (1404, "get_history", lambda w: {"groupId": private_chat(w)}),
    "history with a stranger": (1404, "get_history", lambda w: {"userId": w.carol.pk}),
    "history with itself": (1404, "get_history", lambda w: {"userId": w.bot.pk}),
    "history of neither": (1400, "get_history", lambda w: {"limit": 5}),
    "history of both": (1400, "get_history", lambda w: {"groupId": w.club.pk, "userId": w.bob.pk}),
    "history too long": (1400, "get_history", lambda w: {"groupId": w.club.pk, "limit": 101}),
    "history too short": (1400, "get_history", lambda w: {"groupId": w.club.pk, "limit": 0}),
    "dissolved group": (1409, "set_group_name", lambda w: {"groupId": w.team.pk, "groupName": "x"}),
}


@pytest.mark.parametrize(("retcode", "action", "params"), FAILURES.values(), ids=FAILURES)
async def test_failures_have_their_retcode(sockets, w, retcode, action, params):
    if retcode == 1409:
        await call(groups.group_dissolve, actor=w.alice, group_id=w.team.pk)
    built = await call(params, w)
    before = await call(state, w)
    socket = await sockets.bot(w.token)
    assert await socket.act(action, echo="e", **built) == failed(retcode, "e")
    assert await call(state, w) == before


@pytest.mark.parametrize("bot_role", ["admin"])
async def test_moderation_by_the_bot_is_audited_with_source_bot(sockets, w, bot_role):
    socket = await sockets.bot(w.token)
    assert await socket.act("set_group_kick", groupId=w.team.pk, userId=w.bob.pk) == ok()
    entries = await call(lambda: list(AuditEntry.objects.filter(action="member.kick").values()))
    assert [(e["actor_id"], e["target_id"], e["group_id"], e["source"]) for e in entries] == [
        (w.bot.pk, w.bob.pk, w.team.pk, "bot")
    ]


async def test_sending_is_rate_limited(sockets, w, settings):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 2, "RATE_LIMIT_WINDOW_SECONDS": 3600}
    socket = await sockets.bot(w.token)
    for echo in (1, 2):
        assert (await socket.act("send_group_msg", echo=echo, groupId=w.club.pk, message="spam"))[
            "status"
        ] == "ok"
    assert await socket.act("send_private_msg", echo=3, userId=w.bob.pk, message="spam") == failed(1429, 3)
    assert await call(Message.objects.filter(sender=w.bot).count) == 2
    assert (await socket.act("get_login_info"))["status"] == "ok"


# ---- frames ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("echo", [None, "abc", 42, {"seq": 1}, [1, "x"]], ids=repr)
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
async def test_flat_and_nested_frames(sockets, w, nested, echo):
    params = {"groupId": w.club.pk, "message": "hello"}
    frame = {
        "action": "send_group_msg",
        **({"params": {**params, "auto_escape": False}} if nested else params),
    }
    if echo is not None:
        frame["echo"] = echo
    socket = await sockets.bot(w.token)
    await socket.send(frame)
    reply = await socket.reply()
    newest = await call(lambda: Message.objects.filter(sender=w.bot).latest("pk"))
    assert reply == ok({"messageId": newest.pk}, echo)
    assert (newest.chat_id, newest.content) == (w.club.pk, "hello")


NOT_ACTIONS = {
    "not JSON": "{nope",
    "a JSON array": '[{"action": "get_login_info"}]',
    "a JSON string": '"get_login_info"',
    "missing action": {"groupId": 1, "echo": "e"},
    "action not a string": {"action": ["get_login_info"], "echo": "e"},
    "kotori's on_data_error notice": {"event": "on_data_error", "type": "unknown", "message": "bad"},
    "a response": {"status": "failed", "retcode": 1400, "data": None, "message": "no", "echo": "e"},
}


@pytest.mark.parametrize("frame", NOT_ACTIONS.values(), ids=NOT_ACTIONS)
async def test_a_frame_that_is_no_action_is_never_answered(sockets, bot, bot_token, frame):
    socket = await sockets.bot(bot_token)
    await socket.send(frame)
    await socket.nothing()
    assert await socket.act("get_login_info", echo="after") == ok(
        {"userId": bot.pk, "nickname": "Robo"}, "after"
    )


async def test_a_peer_that_keeps_sending_unusable_frames_is_slowed_then_closed(
    sockets, bot_token, monkeypatch
):
    from bots import protocol

    monkeypatch.setattr(protocol, "UNUSABLE_FREE", 2)
    monkeypatch.setattr(protocol, "UNUSABLE_LIMIT", 4)
    monkeypatch.setattr(protocol, "UNUSABLE_DELAY_SECONDS", 0.01)
    socket = await sockets.bot(bot_token)
    for n in range(4):
        await socket.send({"action": "fly", "echo": n})  # unknown actions: answered, and counted
        assert (await socket.reply())["retcode"] == 1400
    await socket.send({"oops": 5})
    assert await socket.communicator.receive_output(WAIT) == {
        "type": "websocket.close",
        "code": 1008,
        "reason": "too_many_unusable_frames",
    }


async def test_ids_may_be_numeric_strings(sockets, w):
    socket = await sockets.bot(w.token)
    reply = await socket.act("send_group_msg", groupId=str(w.club.pk), message="hi")
    newest = await call(lambda: Message.objects.filter(sender=w.bot).latest("pk"))
    assert reply == ok({"messageId": newest.pk})
    assert newest.chat_id == w.club.pk


BAD_FRAMES = {
    "unknown action": ({"action": "fly_to_the_moon", "echo": "e"}, "e", "action"),
    "missing field": ({"action": "send_group_msg", "message": "x", "echo": "e"}, "e", "groupId"),
    "mistyped groupId": (
        {"action": "send_group_msg", "groupId": "1a", "message": "x", "echo": "e"},
        "e",
        "groupId",
    ),
    "mistyped message": (
        {"action": "send_private_msg", "userId": 1, "message": 5, "echo": "e"},
        "e",
        "message",
    ),
    "mistyped enable": (
        {"action": "set_group_admin", "groupId": 1, "userId": 1, "enable": "yes", "echo": "e"},
        "e",
        "enable",
    ),
    "negative time": ({"action": "set_group_ban", "groupId": 1, "time": -5, "echo": "e"}, "e", "time"),
    "nested, missing field": ({"action": "delete_msg", "params": {}, "echo": 9}, 9, "messageId"),
    "nested, mistyped field": (
        {"action": "delete_msg", "params": {"messageId": 1.5}, "echo": 9},
        9,
        "messageId",
    ),
}


@pytest.mark.parametrize(("frame", "echo", "mentions"), BAD_FRAMES.values(), ids=BAD_FRAMES)
async def test_bad_frame_is_1400_and_the_socket_stays_open(sockets, bot, bot_token, frame, echo, mentions):
    socket = await sockets.bot(bot_token)
    await socket.send(frame)
    assert await socket.reply() == failed(1400, echo, mentions)
    assert await socket.act("get_login_info", echo="after") == ok(
        {"userId": bot.pk, "nickname": "Robo"}, "after"
    )


async def test_a_binary_frame_is_never_answered_and_the_socket_stays_open(sockets, bot_token):
    socket = await sockets.bot(bot_token)
    await socket.communicator.send_to(bytes_data=b'{"action": "get_login_info"}')
    await socket.nothing()
    assert (await socket.act("get_login_info"))["status"] == "ok"


async def test_each_action_gets_exactly_one_response_in_order(sockets, w):
    socket = await sockets.bot(w.token)
    frames = [
        {"action": "send_group_msg", "groupId": w.club.pk, "message": "one", "echo": 1},
        {"action": "nope", "echo": 2},
        {"action": "get_login_info", "params": {}, "echo": 3},
        {"action": "set_group_kick", "groupId": NO_SUCH, "userId": 1, "echo": 4},
    ]
    for frame in frames:
        await socket.send(frame)
    replies = [await socket.reply() for _ in frames]
    assert [(r["echo"], r["retcode"]) for r in replies] == [(1, 0), (2, 1400), (3, 0), (4, 1404)]
    await socket.nothing()


def test_every_documented_action_is_served() -> None:
    document = {
        "send_private_msg",
        "send_group_msg",
        "delete_msg",
        "set_group_name",
        "set_group_avatar",
        "set_group_admin",
        "set_group_card",
        "set_group_ban",
        "send_group_notice",
        "set_group_kick",
        "set_group_leave",
    }
    extras = {
        "set_friend_add_request",
        "set_group_add_request",
        "get_login_info",
        "get_friend_list",
        "get_group_list",
        "get_group_member_list",
        "set_group_mention_all",
        "get_msg",
        "get_history",
        # for the onebot11 dialect, in every dialect
        "get_stranger_info",
        "set_group_whole_ban",
        "get_user_info",
        "get_group_info",
        "get_group_member_info",
    }
    assert set(SERVED) == document | extras
    assert {action for action, *_ in ACTIONS.values()} == document
