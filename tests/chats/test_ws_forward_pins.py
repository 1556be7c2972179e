"""Forwarding and pins over the client WebSocket: the message.forward, message.pin and
message.unpin frames, and the exact frames every member (and nobody else) receives."""

from typing import Any

import pytest

from chats.models import Message, Pin
from tests.chats.test_ws import dave, fresh, group, hello, private_chat_id, ws  # noqa: F401  (fixtures)
from tests.chats.ws_helpers import call, error_frame, iso, message_body, ref

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def forwarded_rows() -> list[Message]:
    return list(Message.objects.filter(forwarded_from__isnull=False).select_related("chat", "sender"))


def message_json(row: Message, viewer: Any) -> dict[str, Any]:
    """The message as the viewer's frames show it, with the forward's mark when it has one."""
    body = message_body(row, viewer)
    return body | {"forwarded_from": row.forwarded_from} if row.forwarded_from else body


async def test_forward_frame_and_its_retry(ws, group, hello, alice, bob, carol, dave):  # noqa: F811
    a1, b1, c1, d1 = [await ws.connect(user) for user in (alice, bob, carol, dave)]
    pair = await call(private_chat_id, a=alice, b=bob)
    payload = {"message_id": hello, "chat_ids": [pair], "client_msg_id": "fw-1"}
    frame = await a1.request("message.forward", payload)
    [row] = await call(forwarded_rows)
    assert (row.chat_id, row.sender_id, row.content, row.client_msg_id) == (
        pair,
        alice.pk,
        "hello",
        f"fw-1/{pair}",
    )
    assert row.forwarded_from == {
        "message_id": hello,
        "chat_id": group.pk,
        "sender_id": alice.pk,
        "sender_name": "Alice",
        "sent_at": iso((await call(Message.objects.get, pk=hello)).created_at),
    }
    chat = {"id": pair, "type": "private"}
    assert frame == {
        "type": "message.new",
        "seq": row.seq,
        "payload": {
            "message": message_json(row, alice),
            "chat": chat | {"title": "Bob"},
            "sender": ref(alice),
        },
    }
    assert await b1.frame() == {
        "type": "message.new",
        "seq": row.seq,
        "payload": {
            "message": message_json(row, bob),
            "chat": chat | {"title": "Alice"},
            "sender": ref(alice),
        },
    }
    await c1.nothing()
    await d1.nothing()

    assert await a1.request("message.forward", payload) == frame  # the retry: this connection only
    await b1.nothing()
    assert len(await call(forwarded_rows)) == 1


async def test_each_refused_chat_answers_with_its_own_error(ws, group, hello, alice, dave):  # noqa: F811
    a1 = await ws.connect(alice)
    error = await a1.error(
        "message.forward", {"message_id": hello, "chat_ids": [999999], "client_msg_id": "fw-2"}
    )
    assert error == error_frame("NOT_FOUND", event="message.forward", chat_id=999999, client_msg_id="fw-2")
    d1 = await ws.connect(dave)
    error = await d1.error("message.forward", {"message_id": hello, "chat_ids": [group.pk]})
    assert error == error_frame("NOT_FOUND", event="message.forward")
    assert await call(forwarded_rows) == []


async def test_pin_and_unpin_frames(ws, group, hello, alice, bob, carol, dave):  # noqa: F811
    a1, b1, c1, d1 = [await ws.connect(user) for user in (alice, bob, carol, dave)]
    error = await b1.error("message.pin", {"message_id": hello})
    assert error == error_frame("PERMISSION_DENIED", event="message.pin", reason="not_admin")
    await a1.send("message.pin", {"message_id": hello})
    first = await a1.frame()
    pin = await call(Pin.objects.get)
    row = await call(Message.objects.select_related("sender").get, pk=hello)
    pinned = {
        "chat_id": group.pk,
        "message_id": hello,
        "pin": {
            "message": message_json(row, bob),
            "pinned_by": ref(alice),
            "pinned_at": iso(pin.pinned_at),
        },
    }
    own = {**pinned, "pin": {**pinned["pin"], "message": message_json(row, alice)}}
    assert first == {"type": "message.pinned", "payload": own}
    for device in (b1, c1):
        assert await device.frame() == {"type": "message.pinned", "payload": pinned}
    await d1.nothing()

    await a1.send("message.unpin", {"message_id": hello})
    unpinned = {
        "type": "message.unpinned",
        "payload": {"chat_id": group.pk, "message_id": hello, "unpinned_by": alice.pk},
    }
    for device in (a1, b1, c1):
        assert await device.frame() == unpinned
    await d1.nothing()
    assert not await call(Pin.objects.exists)
