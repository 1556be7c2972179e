"""Mentions reach bots (issue 19): on_message carries the message's `mentions` and `atMe`, so a group
bot can answer only when called; set_group_mention_all switches the group's @all rule."""

import pytest

from accounts.models import User
from groups.models import Group

from .helpers import call, make_group, ok, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(alice: User, bob: User, carol: User, bot: User) -> Group:
    """Alice's group with her bot "Robo" (username robo) as an admin, Bob and Carol as plain members."""
    return make_group(alice, bot, bob, carol, admins=[bot])


def group_event(message, sender: User, team: Group, text: str, mentions: list, at_me: bool) -> dict:
    return {
        "event": "on_message",
        "type": 1,
        "messageId": message.pk,
        "message": text,
        "userId": sender.pk,
        "sender": {
            "nickname": "Bob",
            "sex": "male",
            "age": 31,
            "role": "member",
            "level": "0",
            "title": "Bob",
        },
        "groupId": team.pk,
        "attachments": [],
        "mentions": mentions,
        "atMe": at_me,
    }


@pytest.mark.parametrize(
    ("text", "who", "at_me"),
    [
        ("@robo what time is it?", ["bot"], True),
        ("@Robo\uff0c几点了", ["bot"], True),  # a fullwidth comma after the name
        ("@carol lunch?", ["carol"], False),
        ("@carol @robo both of you", ["bot", "carol"], True),
        ("no call here", [], False),
        ("write to robo@example.com", [], False),
    ],
)
async def test_on_message_says_whom_the_message_calls(
    sockets, team, bob, carol, bot, bot_token, text, who, at_me
):
    socket = await sockets.bot(bot_token)
    message = await call(send, actor=bob, chat_id=team.pk, content=text)
    ids = sorted({"bot": bot, "carol": carol}[name].pk for name in who)
    assert await socket.event() == group_event(message, bob, team, text, ids, at_me)


async def test_at_all_calls_the_bot_where_the_group_lets_members_use_it(sockets, team, bob, bot, bot_token):
    socket = await sockets.bot(bot_token)
    first = await call(send, actor=bob, chat_id=team.pk, content="@all meeting")
    assert await socket.event() == group_event(first, bob, team, "@all meeting", [], False)  # not allowed
    assert await socket.act("set_group_mention_all", groupId=team.pk, enable=True, echo=1) == ok(None, 1)
    assert await call(lambda: Group.objects.get(pk=team.pk).members_mention_all) is True
    second = await call(send, actor=bob, chat_id=team.pk, content="@all meeting")
    assert await socket.event() == group_event(second, bob, team, "@all meeting", ["all"], True)


async def test_a_plain_member_bot_cannot_switch_at_all(sockets, alice, bob, bot, bot_token):
    group = await call(make_group, bob, alice, bot)  # Bob's group: the bot (Alice's) is a plain member
    socket = await sockets.bot(bot_token)
    reply = await socket.act("set_group_mention_all", groupId=group.pk, enable=True)
    assert (reply["status"], reply["retcode"]) == ("failed", 1403)
    assert await call(lambda: Group.objects.get(pk=group.pk).members_mention_all) is False
