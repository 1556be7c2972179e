"""The `kotori` dialect's conformance: every event and every action of kotori's adapter-sandbox as
exact frames, both ways, forward (/ws/bot?dialect=kotori) and reverse (IM-Suite connects to a
kotori-like backend); every frame IM-Suite sends is checked against kotori's own schemas
(kotori_schemas, ported from its src/type.ts), every frame the tests send as kotori against its
ActionList."""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import User
from accounts.services import friend_remove, friend_request_send, friendship_create
from bots.services import reverse_endpoint_create
from chats.models import ChatMember, Message
from chats.services import message_delete, message_send
from groups import services as groups
from groups.models import Group, Mute

from . import kotori_schemas as schemas
from .helpers import (
    BASE,
    WAIT,
    BotSocket,
    befriend,
    call,
    download,
    make_group,
    person_client,
    png,
    send,
    send_files,
    send_private,
    signed,
    upload,
)
from .test_reverse import Backend, backend, nothing, receive, supervise  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class World:
    bot: User  # Robo, Alice's bot
    token: str
    alice: User  # the bot's owner and friend
    bob: User
    carol: User  # nobody's friend yet
    club: Group  # the bot's own group, with Alice and Bob
    team: Group  # Alice's, with the bot and Bob


@pytest.fixture
def w(alice, bob, carol, bot, bot_token) -> World:
    club = make_group(bot, alice, bob, name="Club")
    team = make_group(alice, bot, bob, name="Team")
    return World(bot, bot_token, alice, bob, carol, club, team)


class Kotori:
    """kotori's side of a connection: what it sends is checked against its ActionList, what it
    receives against its event and response schemas."""

    def __init__(self, socket: BotSocket) -> None:
        self.socket = socket

    async def send(self, frame: dict[str, Any]) -> None:
        if frame.get("action") in schemas.ACTIONS:  # what kotori itself would send
            assert schemas.errors(schemas.ACTION, frame) == []
        await self.socket.send(frame)

    async def act(self, action: str, **params: Any) -> Any:
        await self.send({"action": action, **params})
        return response(await self.socket.reply())

    async def event(self) -> dict[str, Any]:
        return event(await self.socket.reply())

    async def nothing(self) -> None:
        await self.socket.nothing()


def event(frame: dict[str, Any]) -> dict[str, Any]:
    """An event frame kotori accepts, without its `time` (now, in milliseconds) and its `cursor` (an
    addition kotori's schemas let through: bots.stream)."""
    assert schemas.errors(schemas.EVENT, frame) == [], frame
    stamp = frame.pop("time")
    assert type(stamp) is int and abs(stamp - time.time() * 1000) <= 5000, stamp
    cursor = frame.pop("cursor")
    assert type(cursor) is int and cursor > 0, cursor
    return frame


def response(frame: Any) -> Any:
    """A response frame kotori accepts; a send's `time` is dropped (now, in milliseconds)."""
    assert schemas.errors(schemas.RESPONSE, frame) == [], frame
    if isinstance(frame, dict) and frame["response"] == "send_message_response":
        stamp = frame.pop("time")
        assert type(stamp) is int and abs(stamp - time.time() * 1000) <= 5000, stamp
    return frame


@pytest.fixture
async def kotori(sockets, w) -> Kotori:
    socket, accepted = await sockets.open_bot(f"?token={w.token}&dialect=kotori")
    assert accepted
    return Kotori(socket)


def ids(*values: Any) -> list[str]:
    return [str(v.pk if hasattr(v, "pk") else v) for v in values]


# ---- events ---------------------------------------------------------------------------------------


async def test_private_message(kotori, w):
    message = await call(send_private, w.alice, w.bot, "/echo hi")
    assert await kotori.event() == {
        "event": "on_message",
        "type": 0,
        "messageId": str(message.pk),
        "message": "/echo hi",
        "messageAlt": "/echo hi",
        "userId": str(w.alice.pk),
        "sender": {"nickname": "Alice"},
    }


async def test_group_message_with_reply_and_mention_elements(kotori, w):
    first = await call(send, w.alice, w.club.pk, "first")
    assert (await kotori.event())["messageId"] == str(first.pk)
    message, _ = await call(
        message_send, actor=w.bob, chat_id=w.club.pk, content="@robo hi", reply_to_id=first.pk
    )
    assert await kotori.event() == {
        "event": "on_message",
        "type": 1,
        "messageId": str(message.pk),
        "message": f"@robo hi[reply,{first.pk}][mention,{w.bot.pk}]",
        "messageAlt": "@robo hi",
        "userId": str(w.bob.pk),
        "sender": {"nickname": "Bob", "role": "member"},
        "groupId": str(w.club.pk),
    }


async def test_mention_all_and_an_image_by_url(kotori, w):
    await call(send, w.alice, w.team.pk, "@all look")
    assert (await kotori.event())["message"] == "@all look[all]"
    image, _ = await call(
        message_send,
        actor=w.alice,
        chat_id=w.team.pk,
        content="https://example.com/a.png",
        message_type="image",
    )
    frame = await kotori.event()
    assert (frame["messageId"], frame["message"], frame["messageAlt"], frame["sender"]) == (
        str(image.pk),
        "[image,https://example.com/a.png]",
        "",
        {"nickname": "Alice", "role": "owner"},
    )


async def test_attachments_are_elements_after_the_caption(kotori, w, settings, media_root):
    settings.PUBLIC_BASE_URL = BASE
    photo = await call(upload, person_client(w.bob), png(), "cat.png")
    message = await call(send_files, w.bob, w.club.pk, "Look @robo", photo["id"])
    frame = await kotori.event()
    assert (frame["messageId"], frame["messageAlt"]) == (str(message.pk), "Look @robo")
    caption, element = frame["message"].split("\n")
    assert (caption, element[:7], element[-1]) == (f"Look @robo[mention,{w.bot.pk}]", "[image,", "]")
    assert element[7:-1] == signed(photo["id"])
    assert await call(download, element[7:-1]) == png()


async def test_message_delete(kotori, w):
    private = await call(send_private, w.alice, w.bot, "oops")
    grouped = await call(send, w.bob, w.club.pk, "oops")
    assert [(await kotori.event())["messageId"] for _ in range(2)] == ids(private, grouped)
    await call(message_delete, actor=w.alice, message_id=private.pk)
    assert await kotori.event() == {
        "event": "on_message_delete",
        "type": 0,
        "userId": str(w.alice.pk),
        "messageId": str(private.pk),
    }
    await call(message_delete, actor=w.bob, message_id=grouped.pk)
    assert await kotori.event() == {
        "event": "on_message_delete",
        "type": 1,
        "userId": str(w.bob.pk),
        "messageId": str(grouped.pk),
        "operatorId": str(w.bob.pk),
        "groupId": str(w.club.pk),
    }


async def test_friends_increase_and_decrease_requests_are_not_kotoris(kotori, w):
    await call(friend_request_send, actor=w.carol, user_id=w.bot.pk)
    await kotori.nothing()  # kotori's sandbox has no request event
    await call(friendship_create, user_a=w.carol, user_b=w.bot)
    assert await kotori.event() == {"event": "on_friend_increase", "type": 0, "userId": str(w.carol.pk)}
    await call(friend_remove, actor=w.alice, user_id=w.bot.pk)
    assert await kotori.event() == {"event": "on_friend_decrease", "type": 0, "userId": str(w.alice.pk)}


async def test_group_increase_decrease_admin_and_bans(kotori, w):
    await call(befriend, w.alice, w.carol)
    await call(groups.member_add, actor=w.alice, group_id=w.team.pk, user_id=w.carol.pk)
    membership = {"userId": str(w.carol.pk), "operatorId": str(w.alice.pk), "groupId": str(w.team.pk)}
    assert await kotori.event() == {"event": "on_group_increase", "type": 1, **membership}
    await call(groups.member_kick, actor=w.alice, group_id=w.team.pk, user_id=w.carol.pk)
    assert await kotori.event() == {"event": "on_group_decrease", "type": 1, **membership}
    for role, operation in (("admin", "set"), ("member", "unset")):
        await call(groups.member_update, actor=w.alice, group_id=w.team.pk, user_id=w.bob.pk, role=role)
        assert await kotori.event() == {
            "event": "on_group_admin",
            "type": 1,
            "userId": str(w.bob.pk),
            "operation": operation,
            "groupId": str(w.team.pk),
        }
    await call(groups.member_update, actor=w.alice, group_id=w.team.pk, user_id=w.bob.pk, card="B")
    await call(groups.group_ban, actor=w.alice, group_id=w.team.pk, user_id=w.bob.pk, duration=600)
    assert await kotori.event() == {  # the card changed no role: no event before this one
        "event": "on_group_ban",
        "type": 1,
        "userId": str(w.bob.pk),
        "operatorId": str(w.alice.pk),
        "duration": 600,
        "groupId": str(w.team.pk),
    }
    for duration, operation in ((600, "set"), (0, "unset")):
        await call(groups.group_ban, actor=w.alice, group_id=w.team.pk, duration=duration)
        assert await kotori.event() == {
            "event": "on_group_whole_ban",
            "type": 1,
            "operatorId": str(w.alice.pk),
            "operation": operation,
            "groupId": str(w.team.pk),
        }
    await call(groups.join_request_create, actor=w.carol, group_id=w.club.pk)
    await kotori.nothing()


# ---- actions --------------------------------------------------------------------------------------


async def test_sends_answer_with_the_message_id_and_elements_become_mentions_and_replies(kotori, w):
    answer = await kotori.act("send_private_msg", userId=str(w.alice.pk), message="hi")
    stored = await call(lambda: Message.objects.get(sender=w.bot))
    assert answer == {"response": "send_message_response", "messageId": str(stored.pk)}
    earlier = await call(send, w.alice, w.club.pk, "question")
    assert (await kotori.event())["messageId"] == str(earlier.pk)
    text = f"[reply,{earlier.pk}][mention,{w.bob.pk}]answer[all][mention,99999]"
    answer = await kotori.act("send_group_msg", groupId=str(w.club.pk), message=text)
    row = await call(lambda: Message.objects.get(pk=int(answer["messageId"])))
    assert (row.chat_id, row.content, row.reply_to_id, row.mentions) == (
        w.club.pk,
        "@bob answer @all [mention,99999]",
        earlier.pk,
        ["all", w.bob.pk],
    )
    answer = await kotori.act(
        "send_group_msg", groupId=str(w.club.pk), message="[image,https://example.com/p.png]"
    )
    row = await call(lambda: Message.objects.get(pk=int(answer["messageId"])))
    assert (row.message_type, row.content) == ("image", "https://example.com/p.png")
    await kotori.nothing()  # no event of the bot's own messages


async def test_queries_answer_with_kotoris_response_frames(kotori, w):
    assert await kotori.act("get_self_info") == {
        "response": "self_info_response",
        "userId": str(w.bot.pk),
        "username": "robo",
        "userDisplayname": "Robo",
    }
    bob = {"userId": str(w.bob.pk), "username": "bob", "userDisplayname": "Bob"}
    alice = {"userId": str(w.alice.pk), "username": "alice", "userDisplayname": "Alice"}
    assert await kotori.act("get_user_info", userId=str(w.bob.pk)) == {
        "response": "user_info_response",
        **bob,
        "userRemark": "",
    }
    friends = sorted((alice, bob), key=lambda p: int(p["userId"]))
    assert await kotori.act("get_friend_list") == [
        {"response": "user_info_response", **p, "userRemark": ""} for p in friends
    ]
    assert await kotori.act("get_group_info", groupId=str(w.team.pk)) == {
        "response": "group_info_response",
        "groupId": str(w.team.pk),
        "groupName": "Team",
    }
    assert await kotori.act("get_group_list") == [
        {"response": "group_info_response", "groupId": str(g.pk), "groupName": g.name}
        for g in (w.club, w.team)
    ]
    await call(groups.member_update, actor=w.bot, group_id=w.club.pk, user_id=w.bob.pk, card="Bobby")
    assert await kotori.act("get_group_member_info", groupId=str(w.club.pk), userId=str(w.bob.pk)) == {
        "response": "group_member_info_response",
        **bob,
        "userDisplayname": "Bobby",
    }
    robo = {"userId": str(w.bot.pk), "username": "robo", "userDisplayname": "Robo"}
    assert await kotori.act("get_group_member_list", groupId=str(w.club.pk)) == [
        {"response": "group_member_info_response", **robo},
        *({"response": "group_member_info_response", **p} for p in friends if p is alice),
        {"response": "group_member_info_response", **bob, "userDisplayname": "Bobby"},
    ]


async def test_actions_that_return_nothing_are_not_answered(kotori, w):
    """Each is carried out; what kotori gets is the event it causes (if any), never a response."""
    club, bob = str(w.club.pk), str(w.bob.pk)
    message = await call(send, w.bob, w.club.pk, "bye")
    assert (await kotori.event())["messageId"] == str(message.pk)

    await kotori.send({"action": "delete_msg", "messageId": str(message.pk)})
    assert (await kotori.event())["event"] == "on_message_delete"
    assert await call(lambda: Message.objects.get(pk=message.pk).deleted_by_id) == w.bot.pk

    await kotori.send({"action": "set_group_name", "groupId": club, "groupName": "Renamed"})
    await kotori.nothing()
    assert await call(lambda: Group.objects.get(pk=w.club.pk).name) == "Renamed"

    await kotori.send({"action": "set_group_admin", "groupId": club, "userId": bob, "enable": True})
    assert (await kotori.event())["operation"] == "set"
    await kotori.send({"action": "set_group_card", "groupId": club, "userId": bob, "card": "Bobby"})
    await kotori.nothing()
    member = await call(ChatMember.objects.get, chat_id=w.club.pk, user=w.bob)
    assert (member.role, member.card) == ("admin", "Bobby")

    await kotori.send({"action": "set_group_ban", "groupId": club, "userId": bob, "time": 60})
    assert (await kotori.event())["duration"] == 60
    await kotori.send({"action": "set_group_whole_ban", "groupId": club, "enable": True})
    assert (await kotori.event())["operation"] == "set"
    mutes = await call(
        lambda: sorted(Mute.objects.filter(group=w.club).values_list("user_id", flat=True), key=str)
    )
    assert mutes == [w.bob.pk, None]
    await kotori.send({"action": "set_group_whole_ban", "groupId": club, "enable": False})
    assert (await kotori.event())["operation"] == "unset"

    await kotori.send({"action": "set_group_kick", "groupId": club, "userId": bob})
    assert await kotori.event() == {
        "event": "on_group_decrease",
        "type": 1,
        "userId": bob,
        "operatorId": str(w.bot.pk),
        "groupId": club,
    }
    await kotori.send({"action": "leave_group", "groupId": str(w.team.pk)})
    assert (await kotori.event())["userId"] == str(w.bot.pk)
    assert not await call(ChatMember.objects.filter(chat_id=w.team.pk, user=w.bot).exists)
    await kotori.nothing()


FAILING = {
    "a private message to a stranger": {"action": "send_private_msg", "userId": "3", "message": "hi"},
    "a group it is not in": {"action": "get_group_info", "groupId": "99999"},
    "an id that is no number": {"action": "get_user_info", "userId": "one"},
    "a sandbox-only action": {"action": "set_group_leave", "groupId": "1"},
    "an unknown action": {"action": "dance"},
    "kotori's complaint": {"action": "on_data_error", "error": "Invalid input"},
    "a response frame": {
        "response": "self_info_response",
        "userId": "1",
        "username": "a",
        "userDisplayname": "a",
    },
    "no action": {"event": "on_message"},
}


@pytest.mark.parametrize("frame", FAILING.values(), ids=FAILING)
async def test_failures_and_frames_that_are_no_action_get_nothing_back(kotori, w, frame):
    """kotori has no failure frame: anything else would only make it answer `on_data_error`."""
    await kotori.send(frame)
    await kotori.nothing()
    assert await kotori.act("get_self_info") == {
        "response": "self_info_response",
        "userId": str(w.bot.pk),
        "username": "robo",
        "userDisplayname": "Robo",
    }
    assert not await call(Message.objects.filter(sender=w.bot).exists)


async def test_a_kotori_that_complains_about_everything_gets_nothing_back(kotori, w):
    """The loop of the issue: each event answered with on_data_error; IM-Suite answers none."""
    for n in range(3):
        await call(send_private, w.alice, w.bot, f"m{n}")
        await kotori.event()
        await kotori.send({"action": "on_data_error", "error": "Invalid input: expected string"})
    await kotori.nothing()


# ---- reverse ----------------------------------------------------------------------------------------


async def test_reverse_endpoint_speaks_kotori(backend, supervise, w):  # noqa: F811
    """IM-Suite connects to kotori's /adapter/<identity> and the same frames flow."""
    backend.url = backend.url.replace("/onebot/v11/ws", "/adapter/sandbox")
    await call(reverse_endpoint_create, actor=w.alice, bot_id=w.bot.pk, url=backend.url, dialect="kotori")
    connection = await asyncio.wait_for(backend.arrivals.get(), WAIT)
    assert connection.request.path == "/adapter/sandbox"
    await connection.send(json.dumps({"action": "get_self_info"}))
    assert response(await receive(connection))["userId"] == str(w.bot.pk)  # subscribed by now

    message = await call(send_private, w.alice, w.bot, "/ping")
    assert event(await receive(connection)) == {
        "event": "on_message",
        "type": 0,
        "messageId": str(message.pk),
        "message": "/ping",
        "messageAlt": "/ping",
        "userId": str(w.alice.pk),
        "sender": {"nickname": "Alice"},
    }
    await connection.send(json.dumps({"action": "on_data_error", "error": "just complaining"}))
    reply = {"action": "send_private_msg", "userId": str(w.alice.pk), "message": "pong"}
    assert schemas.errors(schemas.ACTION, reply) == []
    await connection.send(json.dumps(reply))
    answer = response(await receive(connection))
    stored = await call(lambda: Message.objects.get(sender=w.bot))
    assert (answer, stored.content) == (
        {"response": "send_message_response", "messageId": str(stored.pk)},
        "pong",
    )
    await nothing(connection)
