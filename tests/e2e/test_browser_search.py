"""The web client's message search: results with the matches marked as text, and a result that
opens its chat at the message (far back in the history) highlighted."""

import re
from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import expect

from chats.models import Chat, Message
from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

FILLERS = 120  # on each side of the message: more than the first history page (50) holds


def history_with_a_needle(sender_id: int, receiver_id: int) -> int:
    """FILLERS messages, the one to find, FILLERS more; the id of the one to find."""
    low, high = sorted((sender_id, receiver_id))
    chat = Chat.objects.get(private_key=f"{low}:{high}")

    def fillers(start: int) -> None:
        Message.objects.bulk_create(
            [
                Message(chat=chat, sender_id=sender_id, content=f"filler {n}")
                for n in range(start, start + FILLERS)
            ]
        )

    fillers(0)
    needle = Message.objects.create(chat=chat, sender_id=sender_id, content="Notes: 会议纪要 <b>bold</b>").pk
    fillers(FILLERS)
    return needle


async def test_search_marks_matches_and_opens_the_message_in_its_chat(
    open_page: Any, daphne_url: str
) -> None:
    ann, ben, page, _ = await test_browser.friends(open_page, daphne_url)
    needle = await sync_to_async(history_with_a_needle)(ben.id, ann.id)  # stored, never announced

    box = page.get_by_test_id("message-search")
    results = page.get_by_test_id("search-result")
    for q, marked in (("会议纪要", ["会议纪要"]), ("纪", ["纪"]), ("NOTES bold", ["Notes", "bold"])):
        await box.fill(q)
        await expect(results).to_have_count(1)
        snippet = results.first.get_by_test_id("search-snippet")
        await expect(snippet).to_have_text("Notes: 会议纪要 <b>bold</b>")  # the markup is text
        await expect(snippet.locator("mark")).to_have_text(marked)
        await expect(snippet.locator("b")).to_have_count(0)
    await expect(page.get_by_test_id("chat-list")).to_be_hidden()

    await results.first.click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Ben")
    found = page.locator(f"[data-testid=message][data-message-id='{needle}']")
    await expect(found).to_have_class(re.compile(r"(^|\s)search-hit(\s|$)"))
    await expect(found).to_be_in_viewport()
    await expect(found.get_by_test_id("message-text")).to_have_text("Notes: 会议纪要 <b>bold</b>")

    await box.fill("")
    await box.press("Escape")
    await expect(page.get_by_test_id("chat-list")).to_be_visible()
    await box.fill("nothing like this")
    await expect(page.get_by_test_id("search-empty")).to_be_visible()
