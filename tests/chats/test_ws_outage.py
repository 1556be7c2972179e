"""The client WebSocket while the database is away (imsuite.db_outage): a connection that cannot be
set up is told SERVICE_UNAVAILABLE and closed 1013; a send is refused at once with the retry hint and
stores nothing, and the same send goes through once the database answers again. (The real outage,
PostgreSQL stopped under a real daphne, is tests/faults/test_postgres_outage.py.)"""

import pytest

from chats.models import Chat
from imsuite import db_outage
from tests.outage import FAIL_FAST_SECONDS, database_failed, hub_cannot_start, outage  # noqa: F401  (fixtures)

from .test_ws import fresh, message_count, post, ws  # noqa: F401  (fixtures and helpers of the /ws tests)
from .ws_helpers import access_token, error_frame

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("outage")]


UNAVAILABLE = {"error_code": "SERVICE_UNAVAILABLE", "details": {"retry_after": FAIL_FAST_SECONDS}}


async def test_a_connection_that_cannot_be_set_up_is_told_and_closed_1013(ws, alice):  # noqa: F811
    database_failed()
    device, accepted, _ = await ws.open(query=f"?token={access_token(alice)}")
    assert accepted  # the handshake is done: a refused handshake could only say 403
    frame = await device.frame()
    assert isinstance(frame["payload"].pop("message"), str)
    assert frame == {"type": "error", "payload": UNAVAILABLE}
    await device.closed(1013)


async def test_a_process_whose_hub_cannot_start_tells_new_connections_to_come_back(
    ws,  # noqa: F811
    alice,
    hub_cannot_start,  # noqa: F811
):
    device, accepted, _ = await ws.open(query=f"?token={access_token(alice)}")
    assert accepted
    frame = await device.frame()
    assert isinstance(frame["payload"].pop("message"), str)
    assert frame == {
        "type": "error",
        "payload": {"error_code": "SERVICE_UNAVAILABLE", "details": {"retry_after": 1}},
    }
    await device.closed(1013)


async def test_a_send_is_refused_at_once_then_goes_through_when_the_database_is_back(
    ws,  # noqa: F811
    pair: Chat,
    alice,
    bob,
    outage: db_outage._Outage,  # noqa: F811
):
    a1 = await ws.connect(alice)
    database_failed()
    payload = {"chat_id": pair.pk, "content": "hello", "client_msg_id": "c-1"}
    assert await a1.error("message.send", payload) == error_frame(
        "SERVICE_UNAVAILABLE", retry_after=FAIL_FAST_SECONDS, event="message.send", client_msg_id="c-1"
    )
    assert await message_count() == 0
    await a1.alive()
    outage.fail_fast_until = 0.0  # the window is over: the next send asks the database again
    assert await post(a1, pair.pk, "hello", client_msg_id="c-1") > 0
    assert await message_count() == 1
