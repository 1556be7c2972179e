"""The web client follows a paged sync: back after missing more than a page (SYNC_BATCH, 500
changes), it asks for the next page from the first page's last seq and ends up holding the newest."""

import re
from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import expect

from accounts.models import User
from chats.models import Chat
from chats.selectors import SYNC_BATCH
from chats.sending import SendRequest, message_send_many
from tests.e2e import test_browser
from tests.e2e.browser import (
    PHONE,
    WEB_CLIENT_MODULE,
    befriend,
    connection,
    expect_connected,
    sign_in,
    sign_up,
)
from tests.e2e.test_browser import RECONNECT_TIMEOUT_MS, DroppableSocket

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

MISSED = SYNC_BATCH + 100


def missed_messages(sender_id: int, receiver_id: int) -> list[int]:
    """MISSED messages from sender to receiver, stored at once; their seqs."""
    low, high = sorted((sender_id, receiver_id))
    chat_id = Chat.objects.get(private_key=f"{low}:{high}").pk
    actor = User.objects.get(pk=sender_id)
    requests = [SendRequest(actor=actor, chat_id=chat_id, content=f"missed {n}") for n in range(MISSED)]
    return [result[0].seq for result in message_send_many(requests)]


async def test_the_page_follows_a_paged_sync(open_page: Any, daphne_url: str, settings: Any) -> None:
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_MESSAGES": 10_000}  # this process's sends
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    page = await open_page("Ben", PHONE)
    socket = DroppableSocket()
    await page.route_web_socket(re.compile(r"/ws$"), socket.handle)
    await sign_in(page, daphne_url, ben)
    await expect_connected(page)
    seq_key = f"imsuite.seq.{ben.id}"
    seq_before = int(await page.evaluate("key => localStorage.getItem(key)", seq_key))

    await socket.drop()
    await expect(connection(page)).to_have_attribute("data-state", "reconnecting")
    seqs = await sync_to_async(missed_messages)(ann.id, ben.id)
    socket.refusing = False
    await expect_connected(page, timeout=RECONNECT_TIMEOUT_MS)
    await page.wait_for_function(
        "([key, seq]) => localStorage.getItem(key) === seq", arg=[seq_key, str(seqs[-1])]
    )
    syncs = [frame["payload"] for frame in socket.sent if frame["type"] == "sync"]
    assert syncs == [{"since_seq": seq_before}, {"since_seq": seqs[SYNC_BATCH - 1]}]
