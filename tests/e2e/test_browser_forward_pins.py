"""Forwarding and pins in the web client, in Chromium against the real server: Ann forwards a
photo from her chat with Ben to Cat, who sees it marked and loaded; Ann pins a message and Ben
sees the pinned bar live, jumps to it, and unpins it from the list, which Ann's page follows.
Embedded leg only (slow), like the other browser tests of one feature."""

from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import expect

from chats.models import Message, Pin
from tests.e2e import test_browser
from tests.e2e.browser import (
    WEB_CLIENT_MODULE,
    acknowledged,
    befriend,
    message_action,
    messages,
    open_chat,
    send,
    sign_up,
)
from tests.e2e.test_browser_media import LOADED, PASTE, photo_png

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks
signed_in = test_browser.signed_in


def forwards() -> list[tuple[int | None, str, list[str]]]:
    return [
        (m.chat_id, m.forwarded_from["sender_name"], [a["kind"] for a in m.attachments or ()])
        for m in Message.objects.filter(forwarded_from__isnull=False)
    ]


async def test_forward_a_photo_to_another_chat(open_page: Any, daphne_url: str) -> None:
    ann, ben, cat = [
        await sign_up(daphne_url, p, n) for p, n in (("ann", "Ann"), ("ben", "Ben"), ("cat", "Cat"))
    ]
    await befriend(daphne_url, ann, ben)
    await befriend(daphne_url, ann, cat)
    ann_page = await signed_in(open_page, daphne_url, ann)
    cat_page = await signed_in(open_page, daphne_url, cat)
    await open_chat(ann_page, "Ben")
    await open_chat(cat_page, "Ann")

    composer = ann_page.get_by_test_id("composer-input")
    await composer.evaluate(PASTE, photo_png())
    await expect(ann_page.get_by_test_id("upload-tray").get_by_test_id("upload")).to_have_attribute(
        "data-status", "ready"
    )
    await composer.press("Enter")
    await acknowledged(ann_page, 1)

    await message_action(messages(ann_page).first, "forward")
    dialog = ann_page.get_by_test_id("forward-dialog")
    await expect(dialog).to_be_visible()
    await dialog.locator("label", has_text="Cat").locator("input").check()
    await dialog.get_by_test_id("forward-submit").click()
    await expect(dialog).to_be_hidden()

    forwarded = messages(cat_page)
    await expect(forwarded).to_have_count(1)
    await expect(forwarded.get_by_test_id("forwarded-from")).to_have_text("Forwarded from Ann")
    thumbnail = forwarded.get_by_test_id("attachment-thumbnail")
    await expect(thumbnail).to_be_visible()
    await thumbnail.evaluate("img => img.decode()")  # resolves once the image has loaded
    assert await thumbnail.evaluate(LOADED)
    rows = await sync_to_async(forwards)()
    assert [(name, kinds) for _, name, kinds in rows] == [("Ann", ["image"])]


async def test_pin_shows_live_in_the_other_browser(open_page: Any, daphne_url: str) -> None:
    ann, ben = await sign_up(daphne_url, "ann", "Ann"), await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    ann_page = await signed_in(open_page, daphne_url, ann)
    ben_page = await signed_in(open_page, daphne_url, ben)
    await open_chat(ann_page, "Ben")
    await open_chat(ben_page, "Ann")
    await send(ann_page, "meet at the station")
    await send(ann_page, "at nine")
    await acknowledged(ann_page, 2)
    await expect(messages(ben_page)).to_have_count(2)
    await expect(ben_page.get_by_test_id("pinned-bar")).to_be_hidden()

    await message_action(messages(ann_page).first, "pin")
    bar = ben_page.get_by_test_id("pinned-bar")
    await expect(bar).to_be_visible()
    await expect(bar.get_by_test_id("pinned-latest")).to_contain_text("meet at the station")
    await expect(messages(ann_page).first.get_by_test_id("unpin")).to_have_count(1)
    await bar.get_by_test_id("pinned-latest").click()
    await expect(messages(ben_page).first).to_be_in_viewport()

    await bar.get_by_test_id("pinned-all").click()
    listed = ben_page.get_by_test_id("pins-dialog").get_by_test_id("pin-item")
    await expect(listed).to_have_count(1)
    await listed.get_by_test_id("pin-unpin").click()
    await expect(listed).to_have_count(0)
    await expect(ann_page.get_by_test_id("pinned-bar")).to_be_hidden()
    assert not await sync_to_async(Pin.objects.exists)()
