"""The bot door (/ws/bot) while the database is away: the bot is told (retcode 1503) and closed with
1013, try again later, instead of a traceback and 1011."""

import pytest

from tests.outage import database_failed, hub_cannot_start, outage  # noqa: F401  (fixtures)

from .helpers import failed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("outage")]


async def test_a_bot_that_cannot_be_set_up_is_told_and_closed_1013(sockets, bot_token):
    database_failed()
    socket, accepted = await sockets.open_bot(f"?token={bot_token}")
    assert accepted  # a refused handshake could only say 403
    assert await socket.reply() == failed(1503, mentions="unavailable")
    await socket.closed(1013)


async def test_a_bot_on_a_process_whose_hub_cannot_start_is_told_and_closed_1013(
    sockets,
    bot_token,
    hub_cannot_start,  # noqa: F811
):
    socket, accepted = await sockets.open_bot(f"?token={bot_token}")
    assert accepted
    assert await socket.reply() == failed(1503, mentions="unavailable")
    await socket.closed(1013)
