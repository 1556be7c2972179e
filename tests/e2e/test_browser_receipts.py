"""Receipts and edit history in the web client (issue 22): a private chat's ticks go sent ->
delivered -> read (and stay right after a reload), "Seen by" in a group lists who read a message,
and the "edited" mark opens the message's edit history."""

from typing import Any

from playwright.async_api import expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    WEB_CLIENT_MODULE,
    befriend,
    chat_item,
    expect_connected,
    message_action,
    messages,
    new_group,
    open_chat,
    send,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks


async def test_private_ticks_go_sent_delivered_read(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    ann_page = await test_browser.signed_in(open_page, daphne_url, ann)
    await open_chat(ann_page, "Ben")
    await send(ann_page, "While you are away")  # Ben has no page open: sent, one tick
    tick = messages(ann_page).last.get_by_test_id("read-state")
    await expect(tick).to_have_attribute("data-state", "sent")
    await expect(tick).to_have_text("✓")
    await expect(tick).to_have_attribute("aria-label", "Sent")

    ben_page = await test_browser.signed_in(open_page, daphne_url, ben)  # his client receives it
    await expect(tick).to_have_attribute("data-state", "delivered")
    await expect(tick).to_have_text("✓✓")
    await expect(tick).to_have_attribute("aria-label", "Delivered")
    await ann_page.reload()
    await expect_connected(ann_page)
    await open_chat(ann_page, "Ben")
    await expect(messages(ann_page).last.get_by_test_id("read-state")).to_have_attribute(
        "data-state", "delivered"
    )

    await open_chat(ben_page, "Ann")  # he reads it
    tick = messages(ann_page).last.get_by_test_id("read-state")
    await expect(tick).to_have_attribute("data-state", "read")
    await expect(tick).to_have_attribute("aria-label", "Read")
    await expect(tick).to_have_class("ticks read")


async def test_seen_by_lists_the_members_who_read_it(open_page: Any, daphne_url: str) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    cat = await sign_up(daphne_url, "cat", "Cat")
    await befriend(daphne_url, ann, cat)
    await new_group(daphne_url, ann, "Readers", ben, cat)
    await open_chat(ann_page, "Readers")
    await send(ann_page, "Who reads this?")
    await expect(chat_item(ben_page, "Readers").get_by_test_id("unread-badge")).to_have_text("1")
    await open_chat(ben_page, "Readers")  # Ben reads it; Cat does not
    await expect(chat_item(ben_page, "Readers").get_by_test_id("unread-badge")).to_have_count(0)

    await message_action(messages(ann_page).last, "seen-by")
    dialog = ann_page.get_by_test_id("message-info-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_test_id("reader-name")).to_have_text(["Ben"])
    await expect(dialog.get_by_test_id("reader-counts")).to_have_text("Seen by 1 · 1 not yet")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()


async def test_the_edited_mark_opens_the_edit_history(open_page: Any, daphne_url: str) -> None:
    _ann, _ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await open_chat(ann_page, "Ben")
    await send(ann_page, "Lunch at noon")
    await message_action(messages(ann_page).last, "edit")
    await ann_page.get_by_test_id("composer-input").fill("Lunch at one")
    await ann_page.get_by_test_id("composer-input").press("Enter")
    await open_chat(ben_page, "Ann")
    edited = messages(ben_page).last.get_by_test_id("edited")
    await expect(edited).to_have_text("edited")
    await edited.click()
    dialog = ben_page.get_by_test_id("message-info-dialog")
    await expect(dialog.get_by_role("heading")).to_have_text("Edit history")
    versions = dialog.get_by_test_id("edit-version").locator(".text")
    await expect(versions).to_have_text(["Lunch at noon", "Lunch at one"])
    await ben_page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
