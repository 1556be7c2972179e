"""Per-chat notification settings in the web client: the bell menu in the chat header sets them,
the chat list marks a muted chat and greys its unread count, another signed-in browser follows at
once (chat.notify), and a mute that runs out shows as "all" without a reload."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE, chat_item, new_group, open_chat, rest, shot

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks


def bell(page: Page) -> Any:
    return page.get_by_test_id("notify-button")


async def choose(page: Page, test_id: str) -> None:
    await bell(page).click()
    await page.get_by_test_id(test_id).click()


async def test_a_mute_set_in_one_browser_shows_in_the_other_and_runs_out_without_a_reload(
    open_page: Any, daphne_url: str
) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await new_group(daphne_url, ann, "Club", ben)
    ann_other = await test_browser.signed_in(open_page, daphne_url, ann)  # Ann's second device
    await open_chat(ann_page, "Ben")
    await expect(bell(ann_page)).to_have_attribute("data-level", "all")

    await choose(ann_page, "notify-mute-1h")
    await expect(bell(ann_page)).to_have_attribute("data-level", "muted")
    await bell(ann_page).click()
    await expect(ann_page.get_by_test_id("notify-status")).to_have_text(re.compile(r"^Muted until .+"))
    await expect(ann_page.get_by_test_id("notify-mute-1h")).to_have_attribute("aria-checked", "false")
    await expect(ann_page.get_by_test_id("notify-mentions")).to_be_hidden()  # a private chat
    await shot(ann_page, "notify-menu")
    await bell(ann_page).click()  # closes the menu
    for page in (ann_page, ann_other):  # the other browser follows live
        await expect(chat_item(page, "Ben").get_by_test_id("muted-mark")).to_be_visible()
    await expect(chat_item(ben_page, "Ann").get_by_test_id("muted-mark")).to_have_count(0)

    # With the chat open nowhere, Ben's message is unread in both of Ann's browsers: a grey count.
    await open_chat(ann_page, "Club")
    await expect(bell(ann_page)).to_have_attribute("data-level", "all")
    chat_id = int(await chat_item(ann_other, "Ben").get_attribute("data-chat-id"))
    body = {"content": "still there?"}
    await rest(daphne_url, "POST", f"/api/chats/{chat_id}/messages", body, token=ben.token, status=201)
    for page in (ann_page, ann_other):
        badge = chat_item(page, "Ben").get_by_test_id("unread-badge")
        await expect(badge).to_have_text("1")
        await expect(badge).to_have_class("badge quiet")
    await shot(ann_other, "notify-muted-chat")

    # Muted for a few seconds instead (over REST): once that has run out both show "all", unreloaded.
    until = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    body = {"notify": "muted", "until": until}
    await rest(daphne_url, "PUT", f"/api/chats/{chat_id}/notify", body, token=ann.token, status=200)
    for page in (ann_page, ann_other):
        await expect(chat_item(page, "Ben").get_by_test_id("muted-mark")).to_have_count(0)
        await expect(chat_item(page, "Ben").get_by_test_id("unread-badge")).to_have_class("badge")

    await open_chat(ann_page, "Ben")
    await choose(ann_page, "notify-mute")  # until changed
    await expect(chat_item(ann_other, "Ben").get_by_test_id("muted-mark")).to_be_visible()
    await bell(ann_page).click()
    await expect(ann_page.get_by_test_id("notify-status")).to_have_text("Muted until you change it")
    await expect(ann_page.get_by_test_id("notify-mute")).to_have_attribute("aria-checked", "true")
    await ann_page.get_by_test_id("notify-all").click()
    for page in (ann_page, ann_other):
        await expect(chat_item(page, "Ben").get_by_test_id("muted-mark")).to_have_count(0)
