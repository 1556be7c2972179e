"""Forward mode (/ws/bot): who may connect, and the Events a bot receives, frame by frame, as
../shared/spec/bot-sandbox-protocol.md has them (numeric ids, its field names, `time` in unix
seconds), for exactly what the bot's account may see."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts import presence
from accounts.models import User
from accounts.services import (
    bot_token_rotate,
    friend_request_answer,
    friend_request_send,
    friendship_create,
    user_set_active,
)
from chats.services import message_delete, message_edit, message_read
from groups import services as groups
from groups.models import Group, JoinRequest

from .helpers import (
    WAIT,
    befriend,
    call,
    make_group,
    ok,
    send,
    send_private,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(alice: User, bob: User, carol: User, bot: User) -> Group:
    """Alice's group with her bot and Bob as plain members, and Carol as an admin with a card and level."""
    group = make_group(alice, bot, bob, carol, admins=[carol])
    groups.member_update(actor=alice, group_id=group.pk, user_id=carol.pk, card="Cici", level="5")
    return group


@pytest.fixture
def dave(make_user: Callable[..., User], alice: User) -> User:
    """Alice's friend, in none of her groups."""
    user = make_user("dave", nickname="Dave")
    befriend(alice, user)
    return user


# ---- connecting -------------------------------------------------------------------------------------

TRANSPORTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "token": lambda token: {"query": f"?token={token}"},
    "access_token": lambda token: {"query": f"?access_token={token}"},
    "bearer": lambda token: {"headers": [(b"authorization", f"Bearer {token}".encode())]},
}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_bot_token_connects_by_each_transport(sockets, bot, bot_token, transport):
    socket, accepted = await sockets.open_bot(**TRANSPORTS[transport](bot_token))
    assert accepted
    assert await socket.act("get_login_info", echo=1) == ok({"userId": bot.pk, "nickname": "Robo"}, 1)


def rotated(alice: User, bot: User, token: str, moderator: User) -> str:
    bot_token_rotate(actor=alice, bot_id=bot.pk)
    return token


def bot_deactivated(alice: User, bot: User, token: str, moderator: User) -> str:
    user_set_active(actor=moderator, user_id=bot.pk, active=False)
    return token


def owner_deactivated(alice: User, bot: User, token: str, moderator: User) -> str:
    user_set_active(actor=moderator, user_id=alice.pk, active=False)
    return token


BAD_TOKENS: dict[str, Callable[[User, User, str, User], str]] = {
    "unknown": lambda alice, bot, token, moderator: "imb_" + "x" * 43,
    "tampered": lambda alice, bot, token, moderator: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
    "person's access token": lambda alice, bot, token, moderator: str(AccessToken.for_user(alice)),
    "revoked by rotation": rotated,
    "bot deactivated": bot_deactivated,
    "owner deactivated": owner_deactivated,
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS)
async def test_bad_token_gets_the_handshake_refused(
    sockets, alice, bot, bot_token, moderator, transport, make_token
):
    token = await call(make_token, alice=alice, bot=bot, token=bot_token, moderator=moderator)
    _, accepted = await sockets.open_bot(**TRANSPORTS[transport](token))
    assert not accepted


@pytest.mark.parametrize("query", ["", "?token=", "?access_token=&token="])
async def test_missing_token_gets_the_handshake_refused(sockets, query):
    _, accepted = await sockets.open_bot(query)
    assert not accepted


async def test_an_unknown_dialect_is_told_and_closed(sockets, bot_token):
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&dialect=klingon")
    assert accepted
    reply = await socket.reply()
    assert (reply["status"], reply["retcode"], reply["echo"]) == ("failed", 1400, None)
    assert reply["message"].startswith("Unknown dialect 'klingon'; one of: sandbox")
    assert await socket.communicator.receive_output(WAIT) == {
        "type": "websocket.close",
        "code": 1008,
        "reason": "unknown_dialect",
    }


async def test_the_default_dialect_is_the_documents(sockets, bot, bot_token):
    for query in (
        f"?token={bot_token}",
        f"?token={bot_token}&dialect=sandbox",
        f"?token={bot_token}&dialect=",
    ):
        socket, accepted = await sockets.open_bot(query)
        assert accepted
        assert await socket.act("get_login_info", echo=1) == ok({"userId": bot.pk, "nickname": "Robo"}, 1)


@pytest.mark.parametrize("end", [rotated, bot_deactivated, owner_deactivated])
async def test_revoking_the_token_closes_the_open_connection(sockets, alice, bot, bot_token, moderator, end):
    socket = await sockets.bot(bot_token)
    await call(end, alice=alice, bot=bot, token=bot_token, moderator=moderator)
    await socket.closed(1008)


async def test_the_rotated_token_connects(sockets, alice, bot, bot_token):
    _, new_token = await call(bot_token_rotate, actor=alice, bot_id=bot.pk)
    socket = await sockets.bot(new_token)
    assert (await socket.act("get_login_info"))["status"] == "ok"


async def test_a_connected_bot_stays_online(sockets, bot, bot_token, settings):
    """The process's watchdog renews a bot connection's presence lease; a silent bot is not idle."""
    settings.IMSUITE = {**settings.IMSUITE, "PRESENCE_TTL_SECONDS": 3, "WS_IDLE_SECONDS": 1}
    await sockets.bot(bot_token)
    await asyncio.sleep(4.5)  # the lease taken at connect has expired; its renewals keep it
    assert await call(presence.online_user_ids, user_ids=[bot.pk]) == {bot.pk}


# ---- on_message -------------------------------------------------------------------------------------


async def test_private_message(sockets, bot, bot_token, bob):
    await call(friendship_create, user_a=bob, user_b=bot)
    socket = await sockets.bot(bot_token)
    message = await call(send_private, actor=bob, to=bot, content="Hello, World!")
    assert await socket.event() == {
        "event": "on_message",
        "type": 0,
        "messageId": message.pk,
        "message": "Hello, World!",
        "userId": bob.pk,
        "sender": {"nickname": "Bob", "sex": "male", "age": 31},
        "attachments": [],
        "mentions": [],
        "atMe": False,
    }


@pytest.mark.parametrize(
    ("who", "sender"),
    [
        (
            "bob",
            {"nickname": "Bob", "sex": "male", "age": 31, "role": "member", "level": "0", "title": "Bob"},
        ),
        (
            "carol",
            {"nickname": "Carol", "sex": "unknown", "age": 0, "role": "admin", "level": "5", "title": "Cici"},
        ),
        (
            "alice",
            {
                "nickname": "Alice",
                "sex": "female",
                "age": 28,
                "role": "owner",
                "level": "0",
                "title": "Alice",
            },
        ),
    ],
)
async def test_group_message_with_the_senders_standing(sockets, team, bot_token, request, who, sender):
    person = request.getfixturevalue(who)
    socket = await sockets.bot(bot_token)
    message = await call(send, actor=person, chat_id=team.pk, content="hi team")
    assert await socket.event() == {
        "event": "on_message",
        "type": 1,
        "messageId": message.pk,
        "message": "hi team",
        "userId": person.pk,
        "sender": sender,
        "groupId": team.pk,
        "attachments": [],
        "mentions": [],
        "atMe": False,
    }


async def test_no_event_for_the_bots_own_messages(sockets, team, alice, bot_token):
    socket = await sockets.bot(bot_token)
    for action, target in (
        ("send_group_msg", {"groupId": team.pk}),
        ("send_private_msg", {"userId": alice.pk}),
    ):
        reply = await socket.act(action, message="mine", **target)
        assert reply["status"] == "ok", reply
    await socket.nothing()


async def test_the_document_example_u1_sees_g1_only(sockets, bot, bot_token, bob, carol):
    """U1 (the bot) is in G1, U2 (Bob) in G2, U3 (Carol) in both."""
    await call(befriend, a=carol, b=bot)
    g1 = await call(make_group, carol, bot, name="G1")
    g2 = await call(make_group, carol, bob, name="G2")
    socket = await sockets.bot(bot_token)
    await call(send, actor=carol, chat_id=g2.pk, content="to G2")
    await call(send_private, actor=carol, to=bob, content="carol to bob")
    await call(groups.group_ban, actor=carol, group_id=g2.pk, user_id=bob.pk, duration=60)
    await call(groups.member_kick, actor=carol, group_id=g2.pk, user_id=bob.pk)
    await socket.nothing()
    message = await call(send, actor=carol, chat_id=g1.pk, content="to G1")
    event = await socket.event()
    assert (event["event"], event["messageId"], event["groupId"]) == ("on_message", message.pk, g1.pk)
    await socket.nothing()


# ---- on_recall --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sender", "recaller"), [("bob", "bob"), ("bob", "alice"), ("bob", "carol")])
async def test_group_recall(sockets, team, bot_token, request, sender, recaller):
    sender, recaller = request.getfixturevalue(sender), request.getfixturevalue(recaller)
    message = await call(send, actor=sender, chat_id=team.pk)
    socket = await sockets.bot(bot_token)
    await call(message_delete, actor=recaller, message_id=message.pk)
    assert await socket.event() == {
        "event": "on_recall",
        "type": 1,
        "messageId": message.pk,
        "userId": sender.pk,
        "groupId": team.pk,
        "operatorId": recaller.pk,
    }


async def test_private_recall(sockets, bot, bot_token, alice):
    message = await call(send_private, actor=alice, to=bot)
    socket = await sockets.bot(bot_token)
    await call(message_delete, actor=alice, message_id=message.pk)
    assert await socket.event() == {
        "event": "on_recall",
        "type": 0,
        "messageId": message.pk,
        "userId": alice.pk,
        "operatorId": alice.pk,
    }


# ---- on_request and on_private_add ------------------------------------------------------------------


async def test_friend_request_to_the_bot_then_added(sockets, bot, bot_token, carol):
    socket = await sockets.bot(bot_token)
    request = await call(friend_request_send, actor=carol, user_id=bot.pk, comment="hi robo")
    assert await socket.event() == {
        "event": "on_request",
        "type": 0,
        "userId": carol.pk,
        "flag": f"friend:{request.pk}",
        "comment": "hi robo",
    }
    await call(friend_request_answer, actor=bot, request_id=request.pk, accept=True)
    assert await socket.event() == {"event": "on_private_add", "userId": carol.pk}
    await socket.nothing()


async def test_friend_requests_of_others_are_not_seen(sockets, bot_token, alice, carol):
    socket = await sockets.bot(bot_token)
    await call(friend_request_send, actor=carol, user_id=alice.pk)
    await socket.nothing()


def club(bot_role: str, alice: User, bot: User, bob: User, carol: User) -> Group:
    """A group with Bob as a plain member and the bot as owner, admin or plain member; Carol is
    Bob's friend but not in it."""
    befriend(bob, carol)
    if bot_role == "owner":
        return make_group(bot, bob, name="Club")
    return make_group(alice, bot, bob, admins=[bot] if bot_role == "admin" else [], name="Club")


def ask_to_join(group: Group, bob: User, carol: User) -> JoinRequest:
    return groups.join_request_create(actor=carol, group_id=group.pk, comment="let me in")


def bob_invites(group: Group, bob: User, carol: User) -> JoinRequest:
    return groups.member_add(actor=bob, group_id=group.pk, user_id=carol.pk)


@pytest.mark.parametrize("bot_role", ["owner", "admin", "member"])
@pytest.mark.parametrize(
    ("make_request", "operator", "comment"), [(ask_to_join, "carol", "let me in"), (bob_invites, "bob", "")]
)
async def test_join_request_reaches_a_managing_bot(
    sockets, alice, bot, bot_token, bob, carol, request, bot_role, make_request, operator, comment
):
    group = await call(club, bot_role=bot_role, alice=alice, bot=bot, bob=bob, carol=carol)
    socket = await sockets.bot(bot_token)
    join = await call(make_request, group=group, bob=bob, carol=carol)
    assert isinstance(join, JoinRequest)
    if bot_role == "member":
        await socket.nothing()
        return
    assert await socket.event() == {
        "event": "on_request",
        "type": 1,
        "userId": carol.pk,
        "groupId": group.pk,
        "operatorId": request.getfixturevalue(operator).pk,
        "flag": f"group:{join.pk}",
        "comment": comment,
    }
    await socket.nothing()


# ---- members: increase, decrease, admin, ban -------------------------------------------------------


def membership(event: str, user: User, group: Group, operator: User) -> dict[str, Any]:
    return {"event": event, "userId": user.pk, "groupId": group.pk, "operatorId": operator.pk}


def owner_adds(team: Group, alice: User, bob: User, dave: User) -> User:
    groups.member_add(actor=alice, group_id=team.pk, user_id=dave.pk)
    return alice


def approved_request(team: Group, alice: User, bob: User, dave: User) -> User:
    join = groups.join_request_create(actor=dave, group_id=team.pk)
    groups.join_request_decide(actor=alice, group_id=team.pk, request_id=join.pk, approve=True)
    return dave


def approved_invitation(team: Group, alice: User, bob: User, dave: User) -> User:
    befriend(bob, dave)
    join = groups.member_add(actor=bob, group_id=team.pk, user_id=dave.pk)
    groups.join_request_decide(actor=alice, group_id=team.pk, request_id=join.pk, approve=True)
    return bob


@pytest.mark.parametrize("join", [owner_adds, approved_request, approved_invitation])
async def test_group_increase(sockets, team, bot_token, alice, bob, dave, join):
    socket = await sockets.bot(bot_token)
    operator = await call(join, team=team, alice=alice, bob=bob, dave=dave)
    assert await socket.event() == membership("on_group_increase", dave, team, operator)
    await socket.nothing()


@pytest.mark.parametrize(
    ("actor", "target"),
    [("bob", "bob"), ("alice", "bob"), ("carol", "bob"), ("alice", "carol"), ("alice", "bot")],
    ids=["leave", "kick by owner", "kick by admin", "admin kicked", "bot kicked"],
)
async def test_group_decrease(sockets, team, bot_token, request, actor, target):
    actor, target = request.getfixturevalue(actor), request.getfixturevalue(target)
    socket = await sockets.bot(bot_token)
    if actor == target:
        await call(groups.group_leave, actor=actor, group_id=team.pk)
    else:
        await call(groups.member_kick, actor=actor, group_id=team.pk, user_id=target.pk)
    assert await socket.event() == membership("on_group_decrease", target, team, actor)
    await socket.nothing()


async def test_dissolving_tells_the_bot_of_its_own_removal_only(sockets, team, bot, bot_token, alice):
    socket = await sockets.bot(bot_token)
    await call(groups.group_leave, actor=alice, group_id=team.pk)
    assert await socket.event() == membership("on_group_decrease", bot, team, alice)
    await socket.nothing()


async def test_group_admin_set_and_unset(sockets, team, bot_token, alice, bob):
    socket = await sockets.bot(bot_token)
    for role, operation in (("admin", "set"), ("member", "unset")):
        await call(groups.member_update, actor=alice, group_id=team.pk, user_id=bob.pk, role=role)
        assert await socket.event() == {
            "event": "on_group_admin",
            "userId": bob.pk,
            "operation": operation,
            "groupId": team.pk,
        }
    await call(groups.member_update, actor=alice, group_id=team.pk, user_id=bob.pk, card="B", level="2")
    await socket.nothing()


def ban(who: str | None, duration: int) -> Callable[[Group, User, User], None]:
    def act(team: Group, alice: User, bob: User) -> None:
        user_id = bob.pk if who == "bob" else None
        groups.group_ban(actor=alice, group_id=team.pk, user_id=user_id, duration=duration)

    return act


def expire(team: Group, alice: User, bob: User) -> None:
    groups.mutes_expire(now=timezone.now() + timedelta(hours=2))


@pytest.mark.parametrize(
    ("before", "change", "who", "duration"),
    [
        (None, ban("bob", 3600), "bob", 3600),
        (ban("bob", 600), ban("bob", 0), "bob", 0),
        (ban("bob", 600), expire, "bob", 0),
        (None, ban(None, 60), "all", 60),
        (ban(None, 60), ban(None, 0), "all", 0),
        (ban(None, 60), expire, "all", 0),
    ],
    ids=["mute", "lift", "run out", "mute all", "lift all", "all run out"],
)
async def test_group_ban(sockets, team, bot_token, alice, bob, before, change, who, duration):
    if before:
        await call(before, team=team, alice=alice, bob=bob)
    socket = await sockets.bot(bot_token)
    await call(change, team=team, alice=alice, bob=bob)
    assert await socket.event() == {
        "event": "on_group_ban",
        "userId": bob.pk if who == "bob" else "all",
        "operationId": alice.pk,
        "groupId": team.pk,
        "duration": duration,
    }
    await socket.nothing()


async def test_what_the_bot_has_no_event_for_sends_nothing(sockets, team, bot_token, alice, bob):
    socket = await sockets.bot(bot_token)
    message = await call(send, actor=bob, chat_id=team.pk)
    assert (await socket.event())["event"] == "on_message"
    await call(groups.group_update, actor=alice, group_id=team.pk, name="Renamed")
    await call(groups.notice_create, actor=alice, group_id=team.pk, content="notice")
    await call(message_edit, actor=bob, message_id=message.pk, content="edited")
    await call(message_read, actor=alice, message_id=message.pk)
    await socket.nothing()
