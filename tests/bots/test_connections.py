"""What a bot's forward connections leave for the operator (bots.models.BotConnection): a row while
a connection is open, with its dialect, address and last complaint, gone when it closes; a row left
behind by a killed process reads as not open and goes with the bot's next connection."""

import pytest

from accounts.models import User
from bots.models import BotConnection
from bots.selectors import forward_connections_of

from .helpers import WAIT, BotSocket, call

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(bot: User) -> list[tuple[str, str, bool, str]]:
    return [(c.row.dialect, c.row.address, c.open, c.row.last_complaint) for c in forward_connections_of(bot)]


async def opened(socket: BotSocket) -> None:
    """The connection has opened for good: actions are read once the connect handler is done."""
    assert (await socket.act("get_login_info"))["status"] == "ok"


async def test_a_forward_connection_is_recorded_while_it_is_open(sockets, bot, bot_token):
    socket, accepted = await sockets.open_bot(f"?token={bot_token}&dialect=sandbox")
    assert accepted
    await opened(socket)
    assert await call(_rows, bot) == [("sandbox", "", True, "")]
    await socket.send({"event": "on_data_error", "message": "bad"})
    await socket.nothing()
    complaint = 'a frame that is no action: {"event": "on_data_error", "message": "bad"}'
    assert await call(_rows, bot) == [("sandbox", "", True, complaint)]
    await socket.communicator.disconnect(timeout=WAIT)
    assert await call(_rows, bot) == []


async def test_a_row_left_by_a_killed_process_reads_not_open_and_goes_with_the_next_connection(
    sockets, bot, bot_token
):
    await call(
        BotConnection.objects.create, bot=bot, connection="killed", dialect="kotori", address="192.0.2.1:9"
    )
    assert await call(_rows, bot) == [("kotori", "192.0.2.1:9", False, "")]
    await opened(await sockets.bot(bot_token))
    assert await call(_rows, bot) == [("sandbox", "", True, "")]
