"""Every change a person makes that concerns a bot reaches the bot's connection as a domain event
(docs/bots.md, "Which changes reach bots"), whatever its dialect renders of it: a recording dialect
shows the domain events themselves; the sandbox frames are checked where the document has one."""

from typing import Any

import pytest

from accounts.models import User
from accounts.services import friend_remove, friend_request_send, friendship_create
from bots import dialects
from bots.dialects import Dialect
from chats.services import message_delete
from groups import services as groups

from .helpers import call, make_group, send

pytestmark = pytest.mark.django_db(transaction=True)


class Recording(Dialect):
    """Renders every domain event as itself, so that a test sees what reaches the connection."""

    name = "recording"

    def event(self, name: str, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
        return {"domain": name, "data": data}


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dialects.DIALECTS, Recording.name, Recording())


async def test_a_bot_added_at_group_creation_hears_of_every_member_added(sockets, alice, bob, bot, bot_token):
    await call(friendship_create, user_a=alice, user_b=bob)
    socket = await sockets.bot(bot_token)
    group = await call(groups.group_create, actor=alice, name="Team", member_ids=[bob.pk, bot.pk])
    for user in sorted((bob, bot), key=lambda u: u.pk):
        assert await socket.event() == {
            "event": "on_group_increase",
            "userId": user.pk,
            "groupId": group.pk,
            "operatorId": alice.pk,
        }
    await socket.nothing()


async def test_a_removed_friendship_reaches_the_bot(sockets, recording, alice, bot, bot_token):
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&dialect=recording")
    assert accepted
    await call(friend_remove, actor=alice, user_id=bot.pk)
    frame = await socket.reply()
    assert frame.pop("cursor") > 0  # kept for the bot's stream: a dialect renders it (bots.stream)
    assert frame == {"domain": "friend.removed", "data": {"user_id": alice.pk}}
    await socket.nothing()


async def test_the_sandbox_has_no_event_for_a_removed_friendship(sockets, alice, bot, bot_token):
    socket = await sockets.bot(bot_token)
    await call(friend_remove, actor=alice, user_id=bot.pk)
    await socket.nothing()


def _team(alice: User, bob: User, bot: User) -> int:
    return make_group(alice, bob, bot).pk


CHANGES = {
    # what a person does: (the change, the domain events the bot's connection receives)
    "message": (lambda a, b, bot, g: send(b, g), ["message.new"]),
    "recall": (lambda a, b, bot, g: groups_recall(a, g), ["message.new", "message.delete"]),
    "friend request": (lambda a, b, bot, g: friend_request_send(actor=b, user_id=bot.pk), ["friend.request"]),
    "friend removed": (lambda a, b, bot, g: friend_remove(actor=a, user_id=bot.pk), ["friend.removed"]),
    "rename": (lambda a, b, bot, g: groups.group_update(actor=a, group_id=g, name="X"), ["group.updated"]),
    "kick": (
        lambda a, b, bot, g: groups.member_kick(actor=a, group_id=g, user_id=b.pk),
        ["group.member_removed"],
    ),
    "admin": (
        lambda a, b, bot, g: groups.member_update(actor=a, group_id=g, user_id=b.pk, role="admin"),
        ["group.member_updated"],
    ),
    "mute": (
        lambda a, b, bot, g: groups.group_ban(actor=a, group_id=g, user_id=b.pk, duration=60),
        ["group.ban"],
    ),
    "notice": (
        lambda a, b, bot, g: groups.notice_create(actor=a, group_id=g, content="hi"),
        ["group.notice"],
    ),
    "dissolve": (
        lambda a, b, bot, g: groups.group_dissolve(actor=a, group_id=g),
        ["group.member_removed", "group.dissolved"],
    ),
}


def groups_recall(alice: User, group_id: int) -> None:
    message_delete(actor=alice, message_id=send(alice, group_id).pk)


@pytest.mark.parametrize(("change", "names"), CHANGES.values(), ids=CHANGES)
async def test_each_change_reaches_the_bot(sockets, recording, alice, bob, bot, bot_token, change, names):
    group_id = await call(_team, alice, bob, bot)
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&dialect=recording")
    assert accepted
    await call(change, alice, bob, bot, group_id)
    # The events kept for bots' streams are published under seqs of their own after the change's
    # commit, so they may follow the others (group.dissolved, which no dialect renders).
    assert sorted([(await socket.reply())["domain"] for _ in names]) == sorted(names)
    await socket.nothing()
