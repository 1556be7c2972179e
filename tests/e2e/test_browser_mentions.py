"""Mentions in the web client (issue 19): "@" in a group's composer opens an autocomplete of the
members (keyboard navigable; it inserts "@username "), a mention of me is highlighted in its bubble,
and the chat list's "@" badge opens the chat at the first unread mention."""

import asyncio
from typing import Any

from playwright.async_api import expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    UI_TIMEOUT_MS,
    WEB_CLIENT_MODULE,
    befriend,
    chat_item,
    message_texts,
    new_group,
    open_chat,
    rest,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks


async def mention_count(base_url: str, token: str, chat_id: int) -> int:
    """The server's unread mention count of the chat."""
    chat = await rest(base_url, "GET", f"/api/chats/{chat_id}", token=token, status=200)
    return chat["unread_mention_count"]


async def test_autocomplete_inserts_the_username_and_the_mention_is_highlighted(
    open_page: Any, daphne_url: str
) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    cat = await sign_up(daphne_url, "cat", "张三")
    await befriend(daphne_url, ann, cat)
    group_id = await new_group(daphne_url, ann, "Mentions", ben, cat)
    for page in (ann_page, ben_page):
        await expect(chat_item(page, "Mentions")).to_be_visible()
    await open_chat(ann_page, "Mentions")

    composer = ann_page.get_by_test_id("composer-input")
    options = ann_page.get_by_test_id("mention-option")
    await composer.press_sequentially("hi @")
    await expect(options).to_have_count(3)  # Everyone (the owner may), 张三 and Ben; never herself
    await composer.press_sequentially("张")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("张三")
    await composer.press("Backspace")
    # "ben-": the usernames end in random hex, which holds "be" now and then (Cat's did, once in CI)
    await composer.press_sequentially("ben-")
    await expect(options).to_have_count(1)
    await composer.press("Enter")  # picks; does not send
    await expect(ann_page.get_by_test_id("mention-list")).to_be_hidden()
    await expect(composer).to_have_value(f"hi @{ben.username} ")
    await composer.press_sequentially("look")
    await composer.press("Enter")  # sends

    await expect(chat_item(ben_page, "Mentions").get_by_test_id("mention-badge")).to_have_text("@")
    await chat_item(ben_page, "Mentions").get_by_test_id("mention-badge").click()
    await expect(message_texts(ben_page)).to_have_text([f"hi @{ben.username} look"])
    mine = ben_page.locator("[data-mentions-me=true]")
    await expect(mine).to_have_count(1)
    await expect(mine.get_by_test_id("mention")).to_have_text(f"@{ben.username}")
    await expect(chat_item(ben_page, "Mentions").get_by_test_id("mention-badge")).to_have_count(0)
    for _ in range(UI_TIMEOUT_MS // 100):  # Ben's read reaches the server over /ws
        if await mention_count(daphne_url, ben.token, group_id) == 0:
            break
        await asyncio.sleep(0.1)
    assert await mention_count(daphne_url, ben.token, group_id) == 0


async def test_jump_to_the_first_unread_mention(open_page: Any, daphne_url: str) -> None:
    ann, ben, _, ben_page = await test_browser.friends(open_page, daphne_url)
    group_id = await new_group(daphne_url, ann, "Jumps", ben)
    post = f"/api/chats/{group_id}/messages"
    await rest(daphne_url, "POST", post, {"content": f"@{ben.username} early"}, token=ann.token, status=201)
    for n in range(25):
        await rest(daphne_url, "POST", post, {"content": f"filler {n}"}, token=ann.token, status=201)
    await expect(chat_item(ben_page, "Jumps").get_by_test_id("mention-badge")).to_be_visible()
    await chat_item(ben_page, "Jumps").click()
    jump = ben_page.get_by_test_id("mention-jump")
    await expect(jump).to_be_visible()
    await jump.click()
    target = ben_page.locator("[data-mentions-me=true]")
    await expect(target).to_be_in_viewport()
    await expect(jump).to_be_hidden()
