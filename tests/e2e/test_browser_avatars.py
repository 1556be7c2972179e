"""Avatars in the web client: one's own from the sidebar's avatar menu, a group's from the group
panel (owner and admins only); the picture the server made is what the page shows, at once for the
uploader and, for a group, live for the other members."""

import re
from typing import Any

from playwright.async_api import Locator, Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE, new_group, open_chat, sign_in, sign_up
from tests.media import pictures

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

AVATAR_SRC = re.compile(r"/media/avatars/[0-9a-f]{32}\.webp$")
# The width of the picture once loaded and decoded (decode() fails for a broken picture).
DECODED_WIDTH = "img => img.decode().then(() => img.naturalWidth)"


async def choose_picture(page: Page, button: Locator, data: bytes) -> None:
    """Click a button that opens the file chooser, and choose a picture in it."""
    async with page.expect_file_chooser() as chooser:
        await button.click()
    await (await chooser.value).set_files({"name": "me.jpg", "mimeType": "image/jpeg", "buffer": data})


async def expect_picture(avatar: Locator) -> None:
    """The avatar shows an uploaded picture, loaded: the server's 256x256 WebP."""
    image = avatar.locator("img")
    await expect(image).to_have_attribute("src", AVATAR_SRC)
    assert await image.evaluate(DECODED_WIDTH) == 256


async def test_own_avatar_is_uploaded_shown_and_removed(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    page = await open_page("Ann")
    await sign_in(page, daphne_url, ann)
    me = page.locator("#me-avatar")
    await expect(me).to_have_text("A")  # no picture yet: the initial
    await expect(page.get_by_test_id("me-avatar-remove")).to_be_hidden()

    await page.get_by_test_id("me-menu").click()
    await choose_picture(
        page, page.get_by_test_id("me-avatar-change"), pictures.jpeg(pictures.halves((80, 40)))
    )
    await expect_picture(me)

    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("me-avatar-remove").click()
    await expect(me.locator("img")).to_have_count(0)
    await expect(me).to_have_text("A")


async def test_group_avatar_by_the_owner_reaches_a_member_who_cannot_change_it(
    open_page: Any, daphne_url: str
) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await new_group(daphne_url, ann, "Pictures", ben)
    for page in (ann_page, ben_page):
        await open_chat(page, "Pictures")
        await page.get_by_test_id("group-info").click()

    ann_panel = ann_page.get_by_test_id("group-panel")
    await choose_picture(ann_page, ann_panel.get_by_test_id("group-avatar-upload"), pictures.png_with_alpha())
    await expect_picture(ann_panel.locator(".group-summary .avatar"))
    await expect_picture(ann_page.locator("#chat-avatar"))

    ben_panel = ben_page.get_by_test_id("group-panel")
    await expect_picture(ben_page.locator("#chat-avatar"))  # live, from the group.updated event
    await expect_picture(ben_panel.locator(".group-summary .avatar"))
    await expect(ben_panel.get_by_test_id("group-avatar-upload")).to_have_count(0)

    await ann_panel.get_by_test_id("group-avatar-remove").click()
    await expect(ben_page.locator("#chat-avatar img")).to_have_count(0)
    await expect(ann_panel.get_by_test_id("group-avatar-remove")).to_have_count(0)
