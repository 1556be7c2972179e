"""Reactions over the client WebSocket: the message.reaction frame both ways, its errors, and what a
client that was away learns from sync (chats.reactions)."""

from typing import Any

import pytest

from accounts.models import User
from chats import reactions
from chats.models import Message, Reaction
from groups import services as group_services
from tests.chats.test_ws import dave, group, hello, send_now, ws  # noqa: F401  (fixtures)

from .ws_helpers import call, edit_frame, error_frame

pytestmark = pytest.mark.django_db(transaction=True)

THUMBS, HEART = "👍", "❤️"


async def reaction_frame(message_id: int, user: User, emoji: str, added: bool) -> dict[str, Any]:
    """The message.reaction frame, built from the stored row."""
    row = await call(Message.objects.get, pk=message_id)
    payload = {
        "chat_id": row.chat_id,
        "message_id": row.pk,
        "emoji": emoji,
        "user_id": user.pk,
        "added": added,
        "reactions": row.reactions or [],
    }
    return {"type": "message.reaction", "payload": payload, "seq": row.seq}


async def test_a_reaction_on_the_socket_reaches_every_member_live(ws, group, hello, alice, bob, carol):  # noqa: F811
    a1, b1, c1 = await ws.connect(alice), await ws.connect(bob), await ws.connect(carol)
    await b1.send("message.reaction", {"message_id": hello, "emoji": THUMBS, "add": True})
    got = [await a1.frame(), await b1.frame(), await c1.frame()]
    added = await reaction_frame(hello, bob, THUMBS, True)
    assert added["payload"]["reactions"] == [{"emoji": THUMBS, "count": 1, "user_ids": [bob.pk]}]
    assert got == [added] * 3

    await b1.send("message.reaction", {"message_id": hello, "emoji": THUMBS, "add": True})  # a repeat
    await b1.nothing()
    await c1.send("message.reaction", {"message_id": hello, "emoji": HEART, "add": True})
    got = [await a1.frame(), await b1.frame(), await c1.frame()]
    assert got == [await reaction_frame(hello, carol, HEART, True)] * 3

    await b1.send("message.reaction", {"message_id": hello, "emoji": THUMBS, "add": False})
    got = [await a1.frame(), await b1.frame(), await c1.frame()]
    removed = await reaction_frame(hello, bob, THUMBS, False)
    assert removed["payload"]["reactions"] == [{"emoji": HEART, "count": 1, "user_ids": [carol.pk]}]
    assert got == [removed] * 3
    for device in (a1, b1, c1):
        await device.nothing()


async def test_refusals_come_as_error_frames_and_change_nothing(ws, group, hello, alice, bob, carol, dave):  # noqa: F811
    await call(group_services.group_ban, actor=alice, group_id=group.pk, user_id=carol.pk, duration=600)
    b1, c1, d1 = await ws.connect(bob), await ws.connect(carol), await ws.connect(dave)
    react = {"message_id": hello, "emoji": THUMBS, "add": True}
    assert await d1.error("message.reaction", react) == error_frame("NOT_FOUND", event="message.reaction")
    assert await c1.error("message.reaction", react) == error_frame(
        "PERMISSION_DENIED",
        reason="muted",
        until=await muted_until(group.pk, carol),
        event="message.reaction",
    )
    assert await b1.error("message.reaction", {**react, "emoji": "hi"}) == error_frame(
        "VALIDATION_ERROR", field="emoji", reason="invalid", event="message.reaction"
    )
    assert (await b1.error("message.reaction", {"message_id": hello, "emoji": THUMBS}))["payload"]["details"][
        "field"
    ] == "add"
    assert not await call(Reaction.objects.exists)
    for device in (b1, c1, d1):
        await device.nothing()


async def muted_until(group_id: int, user: User) -> str:
    from groups.models import Mute

    mute = await call(Mute.objects.get, group_id=group_id, user_id=user.pk)
    return mute.until.isoformat()


async def test_a_client_that_was_away_syncs_the_reactions_as_an_edit(ws, group, hello, alice, bob, carol):  # noqa: F811
    b1 = await ws.connect(bob)
    known = b1.last_seq
    await b1.close()
    await call(reactions.reaction_set, actor=alice, message_id=hello, emoji=THUMBS, add=True)
    await call(reactions.reaction_set, actor=bob, message_id=hello, emoji=HEART, add=True)  # another device
    await call(send_now, actor=carol, chat_id=group.pk, content="later")

    b2 = await ws.connect(bob)
    await b2.send("sync", {"since_seq": known})
    edit, new, done = await b2.frames(3)
    expected = await edit_frame(hello, bob)
    expected["payload"]["message"]["reactions"] = [
        {"emoji": THUMBS, "count": 1, "user_ids": [alice.pk], "me": False},
        {"emoji": HEART, "count": 1, "user_ids": [bob.pk], "me": True},
    ]
    assert edit == expected
    assert new["type"] == "message.new" and new["payload"]["message"]["content"] == "later"
    assert done == {"type": "sync.done", "payload": {"last_seq": b2.last_seq, "has_more": False}}
    assert edit["seq"] < new["seq"] == b2.last_seq
