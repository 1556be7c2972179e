"""Sending uploads over the client WebSocket (channels' WebsocketCommunicator through
imsuite.asgi.application): every kind, the attachments alike in message.new to each member, in
history and in sync, and the refusals as error frames."""

from typing import Any

import pytest

from accounts.models import User
from chats.models import Message
from tests.chats.test_ws import fresh, ws  # noqa: F401  (fixtures of the /ws tests)
from tests.chats.ws_helpers import Device, call, error_frame, new_frame, without_message

from .helpers import SAMPLES, rendered, upload_kind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("link_clock")]


def upload_as(client_for: Any, user: User, kind: str) -> int:
    return upload_kind(client_for(user), kind)


async def expected_new(frame: dict[str, Any], row_frame: dict[str, Any]) -> dict[str, Any]:
    """The expected message.new: built from the rows (ws_helpers), the attachments from theirs."""
    row_frame["payload"]["message"]["attachments"] = await call(
        rendered, objects=frame["payload"]["message"]["attachments"]
    )
    return row_frame


def history(client_for: Any, user: User, chat_id: int) -> list[dict[str, Any]]:
    response = client_for(user).get(f"/api/chats/{chat_id}/messages")
    assert response.status_code == 200, response.content
    return response.json()["results"]


async def send(device: Device, chat_id: int, **payload: Any) -> dict[str, Any]:
    return await device.request("message.send", {"chat_id": chat_id, **payload})


@pytest.mark.parametrize("kind", SAMPLES)
async def test_send_each_kind_over_the_websocket(ws, pair, alice, bob, client_for, kind):  # noqa: F811
    attachment_id = await call(upload_as, client_for=client_for, user=alice, kind=kind)
    a1, b1 = await ws.connect(alice), await ws.connect(bob)
    ack = await send(a1, pair.pk, content="caption", attachment_ids=[attachment_id], client_msg_id="m-1")
    assert ack["type"] == "message.new", ack
    message_id = ack["payload"]["message"]["id"]
    row = await call(Message.objects.get, pk=message_id)
    assert (row.message_type, row.content, [m["id"] for m in row.attachments]) == (
        kind,
        "caption",
        [attachment_id],
    )
    assert ack == await expected_new(ack, await new_frame(message_id, alice))
    live = await b1.frame()
    assert live == await expected_new(live, await new_frame(message_id, bob))
    [stored] = await call(history, client_for=client_for, user=bob, chat_id=pair.pk)
    assert stored["attachments"] == live["payload"]["message"]["attachments"]

    b2 = await ws.connect(bob)
    await b2.send("sync", {"since_seq": 0})
    replayed, done = await b2.frames(2)
    assert replayed == live
    assert done == {"type": "sync.done", "payload": {"last_seq": row.seq, "has_more": False}}


async def test_several_attachments_in_one_frame(ws, group, alice, bob, carol, client_for):  # noqa: F811
    ids = [await call(upload_as, client_for=client_for, user=bob, kind="image") for _ in range(3)]
    devices = {user.pk: await ws.connect(user) for user in (alice, bob, carol)}
    ack = await send(devices[bob.pk], group.pk, attachment_ids=ids, message_type="text")  # no caption
    message = ack["payload"]["message"]
    assert (message["message_type"], message["content"], [a["id"] for a in message["attachments"]]) == (
        "image",
        "",
        ids,
    )
    for user in (alice, carol):
        got = await devices[user.pk].frame()
        assert got == await expected_new(got, await new_frame(message["id"], user))


def refused(reason: str, client_msg_id: str) -> dict[str, Any]:
    return error_frame(
        "VALIDATION_ERROR",
        event="message.send",
        client_msg_id=client_msg_id,
        field="attachment_ids",
        reason=reason,
    )


async def test_refusals_are_error_frames(ws, pair, group, alice, bob, client_for, settings):  # noqa: F811
    settings.IMSUITE = {**settings.IMSUITE, "MESSAGE_MAX_ATTACHMENTS": 2}
    mine = [await call(upload_as, client_for=client_for, user=alice, kind="file") for _ in range(3)]
    bobs = await call(upload_as, client_for=client_for, user=bob, kind="file")
    a1 = await ws.connect(alice)
    cases = [
        ([bobs], "not_found"),
        ([mine[0] + 1000], "not_found"),
        (mine, "too_many"),
    ]
    for n, (ids, reason) in enumerate(cases):
        frame = without_message(
            await send(a1, pair.pk, content="", attachment_ids=ids, client_msg_id=f"r{n}")
        )
        assert frame == refused(reason, f"r{n}")
    assert (await send(a1, pair.pk, content="", attachment_ids=[mine[0]], client_msg_id="ok"))[
        "type"
    ] == "message.new"
    frame = without_message(
        await send(a1, group.pk, content="", attachment_ids=[mine[0]], client_msg_id="again")
    )
    assert frame == refused("used", "again")
    assert await call(Message.objects.count) == 1


async def test_an_upload_sent_to_a_chat_one_is_not_in(ws, pair, carol, client_for):  # noqa: F811
    carols = await call(upload_as, client_for=client_for, user=carol, kind="image")
    c1 = await ws.connect(carol)
    frame = without_message(await send(c1, pair.pk, content="", attachment_ids=[carols], client_msg_id="x"))
    assert frame == error_frame("NOT_FOUND", event="message.send", client_msg_id="x")
    assert await call(Message.objects.count) == 0
