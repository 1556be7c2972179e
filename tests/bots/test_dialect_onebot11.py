"""The `onebot11` dialect (OneBot v11, github.com/botuniverse/onebot-11): every event and action as
exact frames over /ws/bot?dialect=onebot11, CQ codes both ways, and one reverse connection with its
handshake headers. tests/e2e/test_nonebot.py runs the real framework against it."""

import asyncio
import json
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Friendship, User
from accounts.services import friend_remove, friend_request_answer, friend_request_send, friendship_create
from bots import dialects
from bots.dialects import cq
from bots.services import reverse_endpoint_create
from chats.models import Message
from chats.services import message_delete, message_send
from groups import services as groups
from groups.models import Group, GroupBan, JoinRequest, Mute

from . import test_forward, test_reverse
from .helpers import WAIT, befriend, call, make_group, send, send_private, timeless

pytestmark = pytest.mark.django_db(transaction=True)

team = test_forward.team  # Alice's group: the bot and Bob members, Carol an admin "Cici" of level 5
backend, supervise, receive = test_reverse.backend, test_reverse.supervise, test_reverse.receive


@pytest.fixture
def admin_team(alice: User, bob: User, carol: User, bot: User) -> Group:
    """Alice's group where the bot is an admin: Bob a plain member, Carol too."""
    return make_group(alice, bot, bob, carol, admins=[bot])


class OneBot:
    """A OneBot client on /ws/bot?dialect=onebot11."""

    def __init__(self, socket: Any, bot: User) -> None:
        self.socket, self.bot = socket, bot
        self.events: list[dict[str, Any]] = []  # those that came while an answer was awaited

    async def act(self, action: str, echo: Any = "e", **params: Any) -> dict[str, Any]:
        """The answer; events that come first are kept for event()."""
        await self.socket.send({"action": action, "params": params, "echo": echo})
        while "post_type" in (frame := await self.socket.reply()):
            self.events.append(frame)
        return frame

    async def event(self) -> dict[str, Any]:
        frame = timeless(self.events.pop(0) if self.events else await self.socket.reply())
        assert frame.pop("self_id") == self.bot.pk
        return frame


async def connect(sockets: Any, bot: User, token: str, dialect: str = "onebot11", **how: Any) -> OneBot:
    socket, accepted = await sockets.open_bot(how.get("query", f"?dialect={dialect}&access_token={token}"))
    if "headers" in how:
        socket, accepted = await sockets.open_bot(f"?dialect={dialect}", how["headers"])
    assert accepted
    client = OneBot(socket, bot)
    assert await client.event() == {
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }
    return client


@pytest.fixture
async def onebot(sockets: Any, bot: User, bot_token: str) -> OneBot:
    return await connect(sockets, bot, bot_token)


def ok(data: Any = None, echo: Any = "e") -> dict[str, Any]:
    return {"status": "ok", "retcode": 0, "data": data, "message": "", "echo": echo}


def failed(retcode: int, part: str, echo: Any = "e") -> dict[str, Any]:
    return {"status": "failed", "retcode": retcode, "data": None, "message": Containing(part), "echo": echo}


class Containing(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and str(self) in other

    __hash__ = str.__hash__


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": value}}


def at(qq: Any) -> dict[str, Any]:
    return {"type": "at", "data": {"qq": str(qq)}}


# ---- connecting, meta events ------------------------------------------------------------------------


async def test_bearer_header_connects_and_gets_the_lifecycle_event_first(sockets, bot, bot_token):
    client = await connect(
        sockets, bot, bot_token, headers=[(b"authorization", f"Bearer {bot_token}".encode())]
    )
    assert await client.act("get_login_info") == ok({"user_id": bot.pk, "nickname": "Robo"})


async def test_heartbeats(sockets, bot, bot_token, monkeypatch):
    monkeypatch.setattr(dialects.get("onebot11"), "heartbeat_seconds", 0.2)
    client = await connect(sockets, bot, bot_token)
    for _ in range(2):
        assert await client.event() == {
            "post_type": "meta_event",
            "meta_event_type": "heartbeat",
            "status": {"online": True, "good": True},
            "interval": 200,
        }


# ---- message events ---------------------------------------------------------------------------------


async def test_private_message(bot, bob, onebot):
    await call(friendship_create, user_a=bob, user_b=bot)
    assert await onebot.event() == {"post_type": "notice", "notice_type": "friend_add", "user_id": bob.pk}
    message = await call(send_private, actor=bob, to=bot, content="Hello [x] & y")
    assert await onebot.event() == {
        "post_type": "message",
        "message_type": "private",
        "sub_type": "friend",
        "message_id": message.pk,
        "user_id": bob.pk,
        "message": [text("Hello [x] & y")],
        "raw_message": "Hello &#91;x&#93; &amp; y",
        "font": 0,
        "sender": {"user_id": bob.pk, "nickname": "Bob", "sex": "male", "age": 31},
    }


async def test_group_message_with_mentions_and_a_reply(team, bot, carol, alice, onebot):
    first = await call(send, actor=alice, chat_id=team.pk, content="first")
    assert (await onebot.event())["message_id"] == first.pk
    message, _ = await call(
        message_send, actor=carol, chat_id=team.pk, content="@robo @all look", reply_to_id=first.pk
    )
    segments = [
        {"type": "reply", "data": {"id": str(first.pk)}},
        text("@robo @all look"),
        at("all"),
        at(bot.pk),
    ]
    assert await onebot.event() == {
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "group_id": team.pk,
        "message_id": message.pk,
        "user_id": carol.pk,
        "anonymous": None,
        "message": segments,
        "raw_message": f"[CQ:reply,id={first.pk}]@robo @all look[CQ:at,qq=all][CQ:at,qq={bot.pk}]",
        "font": 0,
        "sender": {
            "user_id": carol.pk,
            "nickname": "Carol",
            "sex": "unknown",
            "age": 0,
            "role": "admin",
            "level": "5",
            "title": "",
            "card": "Cici",
            "area": "",
        },
    }


async def test_the_string_format_sends_cq_codes(sockets, bot, bot_token, team, alice):
    client = await connect(sockets, bot, bot_token, dialect="onebot11_string")
    message, _ = await call(
        message_send, actor=alice, chat_id=team.pk, content="https://x.test/a,b.png", message_type="image"
    )
    event = await client.event()
    assert (
        event["message"]
        == event["raw_message"]
        == "[CQ:image,file=https://x.test/a&#44;b.png,url=https://x.test/a&#44;b.png]"
    )
    assert event["message_id"] == message.pk


async def test_no_event_for_the_bots_own_messages(team, alice, onebot):
    assert (await onebot.act("send_group_msg", group_id=team.pk, message="mine"))["status"] == "ok"
    await onebot.socket.nothing()


# ---- notices and requests ---------------------------------------------------------------------------


async def test_recalls(team, bot, alice, bob, onebot):
    in_group = await call(send, actor=bob, chat_id=team.pk)
    private = await call(send_private, actor=alice, to=bot)
    await onebot.event(), await onebot.event()
    await call(message_delete, actor=alice, message_id=in_group.pk)
    assert await onebot.event() == {
        "post_type": "notice",
        "notice_type": "group_recall",
        "group_id": team.pk,
        "user_id": bob.pk,
        "operator_id": alice.pk,
        "message_id": in_group.pk,
    }
    await call(message_delete, actor=alice, message_id=private.pk)
    assert await onebot.event() == {
        "post_type": "notice",
        "notice_type": "friend_recall",
        "user_id": alice.pk,
        "message_id": private.pk,
    }


async def test_friend_request_added_and_removed(bot, carol, onebot):
    request = await call(friend_request_send, actor=carol, user_id=bot.pk, comment="hi robo")
    assert await onebot.event() == {
        "post_type": "request",
        "request_type": "friend",
        "user_id": carol.pk,
        "comment": "hi robo",
        "flag": f"friend:{request.pk}",
    }
    await call(friend_request_answer, actor=bot, request_id=request.pk, accept=True)
    assert await onebot.event() == {"post_type": "notice", "notice_type": "friend_add", "user_id": carol.pk}
    await call(friend_remove, actor=carol, user_id=bot.pk)
    assert await onebot.event() == {
        "post_type": "notice",
        "notice_type": "friend_decrease",
        "user_id": carol.pk,
    }


async def test_join_request_to_a_managing_bot(admin_team, make_user, onebot):
    dave = await call(make_user, "dave")
    join = await call(groups.join_request_create, actor=dave, group_id=admin_team.pk, comment="let me in")
    assert await onebot.event() == {
        "post_type": "request",
        "request_type": "group",
        "sub_type": "add",
        "group_id": admin_team.pk,
        "user_id": dave.pk,
        "comment": "let me in",
        "flag": f"group:{join.pk}",
    }


def notice(kind: str, **fields: Any) -> dict[str, Any]:
    return {"post_type": "notice", "notice_type": kind, **fields}


async def test_group_member_notices(team, bot, alice, bob, carol, make_user, onebot):
    dave = await call(make_user, "dave")
    await call(befriend, alice, dave)
    await call(groups.member_add, actor=alice, group_id=team.pk, user_id=dave.pk)
    increase = {"group_id": team.pk, "operator_id": alice.pk, "user_id": dave.pk}
    assert await onebot.event() == notice("group_increase", sub_type="invite", **increase)
    await call(groups.group_leave, actor=dave, group_id=team.pk)
    left = {"group_id": team.pk, "operator_id": dave.pk, "user_id": dave.pk}
    assert await onebot.event() == notice("group_decrease", sub_type="leave", **left)
    await call(groups.member_kick, actor=alice, group_id=team.pk, user_id=bob.pk)
    kicked = {"group_id": team.pk, "operator_id": alice.pk, "user_id": bob.pk}
    assert await onebot.event() == notice("group_decrease", sub_type="kick", **kicked)
    await call(groups.member_update, actor=alice, group_id=team.pk, user_id=carol.pk, role="member")
    assert await onebot.event() == notice("group_admin", sub_type="unset", group_id=team.pk, user_id=carol.pk)
    await call(groups.member_update, actor=alice, group_id=team.pk, user_id=carol.pk, role="admin")
    assert await onebot.event() == notice("group_admin", sub_type="set", group_id=team.pk, user_id=carol.pk)
    await call(groups.group_ban, actor=alice, group_id=team.pk, user_id=carol.pk, duration=600)
    ban = {"group_id": team.pk, "operator_id": alice.pk, "user_id": carol.pk}
    assert await onebot.event() == notice("group_ban", sub_type="ban", duration=600, **ban)
    await call(groups.group_ban, actor=alice, group_id=team.pk, user_id=carol.pk, duration=0)
    assert await onebot.event() == notice("group_ban", sub_type="lift_ban", duration=0, **ban)
    await call(groups.group_ban, actor=alice, group_id=team.pk, duration=60)
    whole = {"group_id": team.pk, "operator_id": alice.pk, "user_id": 0}
    assert await onebot.event() == notice("group_ban", sub_type="ban", duration=60, **whole)
    await call(groups.member_kick, actor=alice, group_id=team.pk, user_id=bot.pk)
    me = {"group_id": team.pk, "operator_id": alice.pk, "user_id": bot.pk}
    assert await onebot.event() == notice("group_decrease", sub_type="kick_me", **me)
    await onebot.socket.nothing()


async def test_an_ownership_transfer_is_only_the_old_owner_made_admin(team, bot, alice, bob, onebot):
    """OneBot has no owner change: a plain member made owner is no group_admin notice (it was
    "unset", as if an admin had been demoted); the old owner, now an admin, is "set"."""
    await call(groups.group_transfer, actor=alice, group_id=team.pk, user_id=bob.pk)
    assert await onebot.event() == notice("group_admin", sub_type="set", group_id=team.pk, user_id=alice.pk)
    await onebot.socket.nothing()


# ---- actions: sending -------------------------------------------------------------------------------


def last_message(chat_id: int) -> Message:
    return Message.objects.filter(chat_id=chat_id).latest("pk")


async def test_send_group_msg_with_segments_mentions_and_a_reply(team, bob, carol, sockets, onebot):
    person = await sockets.person(bob)
    earlier = await call(send, actor=carol, chat_id=team.pk, content="question")
    await onebot.event()
    segments = [
        {"type": "reply", "data": {"id": str(earlier.pk)}},
        at(bob.pk),
        text("answer for "),
        at("all"),
    ]
    reply = await onebot.act("send_group_msg", group_id=str(team.pk), message=segments)
    message = await call(last_message, team.pk)
    assert reply == ok({"message_id": message.pk})
    assert (message.content, message.reply_to_id, message.mentions) == (
        "@bob answer for @all",
        earlier.pk,
        [bob.pk],
    )
    seen = await person.until("message.new", lambda p: p["message"]["id"] == message.pk)
    assert (seen["message"]["mentions"], seen["message"]["reply_to_id"]) == ([bob.pk], earlier.pk)


@pytest.mark.parametrize(
    ("message", "extra", "content"),
    [
        ("[CQ:at,qq={bob}] hi &#91;1&#93;", {}, "@bob hi [1]"),
        ("[CQ:at,qq={bob}]hi", {}, "@bob hi"),
        ("[CQ:at,qq={bob}] hi", {"auto_escape": True}, "[CQ:at,qq={bob}] hi"),
        ({"type": "text", "data": {"text": "one segment"}}, {}, "one segment"),
        ([{"type": "at", "data": {"qq": "{bob}"}}, {"type": "text"}, text("!")], {}, "@bob !"),
    ],
    ids=["cq string", "at then text", "auto_escape", "single segment", "a segment without data"],
)
async def test_send_private_msg_forms(bot, bob, message, extra, content, onebot):
    await call(friendship_create, user_a=bob, user_b=bot)
    message = json.loads(json.dumps(message).replace("{bob}", str(bob.pk)))
    content = content.format(bob=bob.pk)
    reply = await onebot.act("send_private_msg", user_id=bob.pk, message=message, **extra)
    sent = await call(Message.objects.get, pk=reply["data"]["message_id"])
    assert reply == ok({"message_id": sent.pk})
    assert sent.content == content


@pytest.mark.parametrize(
    ("segments", "message_type", "content"),
    [
        ([{"type": "image", "data": {"file": "https://x.test/cat.png"}}], "image", "https://x.test/cat.png"),
        ("[CQ:image,file=x.png,url=https://x.test/cat.png]", "image", "https://x.test/cat.png"),
        ([{"type": "record", "data": {"file": "https://x.test/a.mp3"}}], "file", "https://x.test/a.mp3"),
        (
            [{"type": "image", "data": {"file": "https://x.test/c.png"}}, text(" look")],
            "text",
            "https://x.test/c.png look",
        ),
    ],
    ids=["image", "image by url", "record", "image and text"],
)
async def test_send_media_by_url(team, segments, message_type, content, onebot):
    reply = await onebot.act("send_msg", message_type="group", group_id=team.pk, message=segments)
    sent = await call(Message.objects.get, pk=reply["data"]["message_id"])
    assert (sent.message_type, sent.content) == (message_type, content)


async def test_send_msg_picks_the_chat_by_its_ids(team, alice, onebot):
    to_group = await onebot.act("send_msg", group_id=team.pk, message="g")
    to_alice = await onebot.act("send_msg", user_id=alice.pk, message="p")
    group_message = await call(Message.objects.get, pk=to_group["data"]["message_id"])
    private_message = await call(Message.objects.get, pk=to_alice["data"]["message_id"])
    assert group_message.chat_id == team.pk
    assert private_message.chat_id != team.pk and private_message.content == "p"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([{"type": "image", "data": {"file": "base64://AAAA"}}], "http(s) URL"),
        ([{"type": "face", "data": {"id": "1"}}], "does not send 'face'"),
        ([at("bob")], 'user id or "all"'),
        (5, "message is a string"),
        ([{"data": {}}], "A segment is an object"),
    ],
)
async def test_bad_messages_are_refused_with_100(team, message, reason, onebot):
    assert await onebot.act("send_group_msg", group_id=team.pk, message=message) == failed(100, reason)


# ---- actions: the rest ------------------------------------------------------------------------------


async def test_delete_and_get_msg(team, bob, bot, onebot):
    message, _ = await call(message_send, actor=bob, chat_id=team.pk, content="@robo hi")
    await onebot.event()
    got = await onebot.act("get_msg", message_id=message.pk)
    assert got == ok(
        {
            "time": int(message.created_at.timestamp()),
            "message_type": "group",
            "message_id": message.pk,
            "real_id": message.pk,
            "sender": {
                "user_id": bob.pk,
                "nickname": "Bob",
                "sex": "male",
                "age": 31,
                "role": "member",
                "level": "0",
                "title": "Bob",
            },
            "message": [text("@robo hi"), at(bot.pk)],
            "raw_message": f"@robo hi[CQ:at,qq={bot.pk}]",
            "group_id": team.pk,
        }
    )
    assert await onebot.act("delete_msg", message_id=message.pk) == failed(103, "cannot delete")
    own = (await onebot.act("send_group_msg", group_id=team.pk, message="oops"))["data"]["message_id"]
    assert await onebot.act("delete_msg", message_id=own) == ok()
    assert await onebot.event() == notice(
        "group_recall", group_id=team.pk, user_id=bot.pk, operator_id=bot.pk, message_id=own
    )
    assert await onebot.act("get_msg", message_id=10**9) == failed(102, "not found")


async def test_queries(team, bot, alice, bob, carol, onebot):
    assert await onebot.act("get_stranger_info", user_id=carol.pk, no_cache=True) == ok(
        {"user_id": carol.pk, "username": "carol", "nickname": "Carol", "sex": "unknown", "age": 0}
    )
    assert await onebot.act("get_friend_list") == ok(
        [
            {
                "user_id": alice.pk,
                "username": "alice",
                "nickname": "Alice",
                "sex": "female",
                "age": 28,
                "remark": "",
            }
        ]
    )
    info = {"group_id": team.pk, "group_name": "Team", "member_count": 4, "max_member_count": 0}
    assert await onebot.act("get_group_info", group_id=team.pk) == ok(info)
    assert await onebot.act("get_group_list") == ok([info])
    carol_info = {
        "group_id": team.pk,
        "user_id": carol.pk,
        "username": "carol",
        "nickname": "Carol",
        "sex": "unknown",
        "age": 0,
        "role": "admin",
        "level": "5",
        "title": "Cici",
        "card": "Cici",
    }
    assert await onebot.act("get_group_member_info", group_id=team.pk, user_id=carol.pk) == ok(carol_info)
    members = await onebot.act("get_group_member_list", group_id=team.pk)
    assert [m["user_id"] for m in members["data"]] == sorted([alice.pk, bot.pk, bob.pk, carol.pk])
    assert [m for m in members["data"] if m["user_id"] == carol.pk] == [carol_info]
    assert await onebot.act("get_group_info", group_id=10**9) == failed(102, "not found")
    assert await onebot.act("get_stranger_info") == failed(100, "user_id")


async def test_group_management(admin_team, bot, alice, bob, carol, onebot):
    g = admin_team.pk
    assert await onebot.act("set_group_ban", group_id=g, user_id=bob.pk, duration=120) == ok()
    mute = await call(Mute.objects.get, group_id=g, user_id=bob.pk)
    assert 115 <= (mute.until - timezone.now()).total_seconds() <= 120
    assert await onebot.act("set_group_ban", group_id=g, user_id=bob.pk, duration=0) == ok()
    assert not await call(Mute.objects.filter(group_id=g, user_id=bob.pk).exists)
    assert await onebot.act("set_group_whole_ban", group_id=g) == ok()
    assert await call(Mute.objects.filter(group_id=g, user_id=None).exists)
    assert await onebot.act("set_group_whole_ban", group_id=g, enable=False) == ok()
    assert not await call(Mute.objects.filter(group_id=g, user_id=None).exists)
    assert await onebot.act("set_group_card", group_id=g, user_id=bob.pk, card="Bobby") == ok()
    assert await onebot.act("set_group_name", group_id=g, group_name="Renamed") == ok()
    assert await onebot.act("set_group_kick", group_id=g, user_id=carol.pk, reject_add_request=False) == ok()
    members = (await onebot.act("get_group_member_list", group_id=g))["data"]
    assert sorted((m["user_id"], m["card"]) for m in members) == sorted(
        [(alice.pk, ""), (bot.pk, ""), (bob.pk, "Bobby")]
    )
    assert (await onebot.act("get_group_info", group_id=g))["data"]["group_name"] == "Renamed"
    assert await onebot.act("set_group_admin", group_id=g, user_id=bob.pk) == failed(103, "")
    assert await onebot.act("set_group_leave", group_id=g, is_dismiss=False) == ok()
    assert await onebot.act("get_group_info", group_id=g) == failed(102, "not found")


async def test_kick_with_reject_add_request_bans(admin_team, bot, bob, carol, onebot):
    """OneBot's reject_add_request is a ban (issue 21): removed, and refused when asking again."""
    g = admin_team.pk
    assert await onebot.act("set_group_kick", group_id=g, user_id=bob.pk, reject_add_request=True) == ok()
    assert await onebot.act("set_group_kick", group_id=g, user_id=carol.pk) == ok()
    bans = await call(
        lambda: list(GroupBan.objects.values_list("group_id", "user_id", "until", "operator_id"))
    )
    assert bans == [(g, bob.pk, None, bot.pk)]
    members = (await onebot.act("get_group_member_list", group_id=g))["data"]
    assert bob.pk not in {m["user_id"] for m in members} and carol.pk not in {m["user_id"] for m in members}


async def test_owner_bot_sets_admins(bot, bob, onebot):
    club = await call(make_group, bot, bob, name="Club")
    assert await onebot.act("set_group_admin", group_id=club.pk, user_id=bob.pk) == ok()
    assert (await onebot.act("get_group_member_info", group_id=club.pk, user_id=bob.pk))["data"][
        "role"
    ] == "admin"
    assert await onebot.act("set_group_admin", group_id=club.pk, user_id=bob.pk, enable=False) == ok()
    assert (await onebot.act("get_group_member_info", group_id=club.pk, user_id=bob.pk))["data"][
        "role"
    ] == "member"


async def test_requests_are_answered_by_flag(bot, carol, admin_team, make_user, onebot):
    request = await call(friend_request_send, actor=carol, user_id=bot.pk)
    flag = (await onebot.event())["flag"]
    assert await onebot.act("set_friend_add_request", flag=flag, approve=True, remark="") == ok()
    assert await call(Friendship.objects.filter(user=bot, friend=carol).exists)
    assert request.pk == int(flag.split(":")[1])
    await onebot.event()  # friend_add
    dave = await call(make_user, "dave")
    join = await call(groups.join_request_create, actor=dave, group_id=admin_team.pk)
    flag = (await onebot.event())["flag"]
    assert (
        await onebot.act("set_group_add_request", flag=flag, sub_type="add", approve=False, reason="no")
        == ok()
    )
    assert (await call(JoinRequest.objects.get, pk=join.pk)).status == "rejected"
    assert await onebot.act("set_group_add_request", flag="friend:1") == failed(100, "flag")


async def test_async_forms_unknown_actions_and_no_loops(team, onebot):
    assert await onebot.act("send_group_msg_async", group_id=team.pk, message="later") == {
        "status": "async",
        "retcode": 1,
        "data": None,
        "message": "",
        "echo": "e",
    }
    assert await onebot.act("get_cookies", domain="x") == failed(1404, "get_cookies")
    assert await onebot.act("set_group_ban", group_id=10**9, user_id=1) == failed(102, "")
    for frame in ({"status": "failed", "retcode": 1400, "echo": "e"}, {"post_type": "notice"}, "not json"):
        await onebot.socket.send(frame)
    await onebot.socket.nothing()
    assert await onebot.act("get_login_info", echo={"n": 1}) == ok(
        {"user_id": onebot.bot.pk, "nickname": "Robo"}, {"n": 1}
    )


# ---- CQ codes -----------------------------------------------------------------------------------------


def test_cq_codes_round_trip():
    segments = [
        text("a [b] & c,"),
        {"type": "share", "data": {"title": "x,y=z", "url": "http://h/?a=1&b=2"}},
        at("all"),
    ]
    string = "a &#91;b&#93; &amp; c,[CQ:share,title=x&#44;y=z,url=http://h/?a=1&amp;b=2][CQ:at,qq=all]"
    assert cq.to_string(segments) == string
    assert cq.from_string(string) == segments
    assert cq.from_string("[CQ:shake]") == [{"type": "shake", "data": {}}]


# ---- reverse ------------------------------------------------------------------------------------------


async def test_reverse_connection(backend, supervise, bot, alice, team):
    await call(
        reverse_endpoint_create,
        actor=alice,
        bot_id=bot.pk,
        url=backend.url,
        access_token="s3cret",
        dialect="onebot11",
    )
    connection = await asyncio.wait_for(backend.arrivals.get(), WAIT)
    headers = connection.request.headers
    assert (headers["X-Self-ID"], headers["X-Client-Role"], headers["Authorization"]) == (
        str(bot.pk),
        "Universal",
        "Bearer s3cret",
    )
    assert headers["User-Agent"] == "IM-Suite OneBot/11"
    lifecycle = timeless(await receive(connection))
    assert lifecycle == {
        "self_id": bot.pk,
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }
    await connection.send(
        json.dumps({"action": "send_group_msg", "params": {"group_id": team.pk, "message": "hi"}, "echo": 7})
    )
    reply = await receive(connection)
    assert reply == ok({"message_id": reply["data"]["message_id"]}, 7)
    message = await call(send, actor=alice, chat_id=team.pk, content="back")
    event = timeless(await receive(connection))
    assert (event["post_type"], event["message_id"], event["message"]) == (
        "message",
        message.pk,
        [text("back")],
    )
