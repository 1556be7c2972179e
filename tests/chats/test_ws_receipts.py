"""message.delivered over the client WebSocket (issue 22): the recipient's client acknowledges what
it received, up to a message id; the sender's devices hear it, exactly once per move."""

import pytest

from accounts import services as account_services
from chats import services
from chats.models import ChatMember
from chats.selectors import private_chat_id
from groups.services import group_create
from tests.chats import test_ws

from .ws_helpers import call, error_frame

pytestmark = pytest.mark.django_db(transaction=True)


fresh, ws = test_ws.fresh, test_ws.ws  # the WebSocket tests' fixtures


def setup(alice, bob, carol) -> tuple[int, int, int, int]:
    """Alice and Bob's private chat with two messages of Alice's; a group of the three."""
    account_services.friendship_create(user_a=alice, user_b=bob)
    account_services.friendship_create(user_a=alice, user_b=carol)
    chat = private_chat_id(alice.pk, bob.pk)
    first = services.message_send(actor=alice, chat_id=chat, content="one")[0].pk
    second = services.message_send(actor=alice, chat_id=chat, content="two")[0].pk
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    return chat, first, second, group.pk


async def delivered_to(chat: int, user) -> int:
    return await call(lambda: ChatMember.objects.get(chat_id=chat, user=user).last_delivered_message_id)


async def test_the_sender_hears_delivery_once_per_move(ws, alice, bob, carol):
    chat, first, second, _group = await call(setup, alice=alice, bob=bob, carol=carol)
    a1, a2, b1, b2, c1 = [await ws.connect(u) for u in (alice, alice, bob, bob, carol)]
    await b1.send("message.delivered", {"chat_id": chat, "up_to_message_id": second})
    expected = {
        "type": "message.delivered",
        "payload": {"chat_id": chat, "up_to_message_id": second, "delivered_to": bob.pk},
    }
    assert await a1.frame() == expected
    assert await a2.frame() == expected
    for device in (b1, b2, c1):  # not the recipient's devices, not anyone else
        await device.nothing()
    assert await delivered_to(chat, bob) == second
    for message_id in (first, second):  # behind or at the position: no move, no event
        await b2.send("message.delivered", {"chat_id": chat, "up_to_message_id": message_id})
    for device in (a1, a2, b1, b2):
        await device.nothing()
    assert await delivered_to(chat, bob) == second


async def test_refusals_answer_the_frame_and_change_nothing(ws, alice, bob, carol):
    chat, first, _second, group = await call(setup, alice=alice, bob=bob, carol=carol)
    a1, b1, c1 = [await ws.connect(u) for u in (alice, bob, carol)]
    event = "message.delivered"
    assert await c1.error(event, {"chat_id": chat, "up_to_message_id": first}) == error_frame(
        "NOT_FOUND", event=event
    )
    assert await b1.error(event, {"chat_id": group, "up_to_message_id": first}) == error_frame(
        "VALIDATION_ERROR", event=event, field="chat_id", reason="not_private"
    )
    frame = await b1.error(event, {"chat_id": chat})
    assert frame["payload"]["details"]["field"] == "up_to_message_id"
    await a1.nothing()
    assert await delivered_to(chat, bob) == 0
