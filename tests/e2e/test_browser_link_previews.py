"""Link previews in the web client: a message with a URL gets its preview card (site, title,
description, picture from our own origin), opening the link without a referrer, at the sender and
the reader. The server's round is run here (previews.services.previews_round, against a loopback
page server); the running server's hub finds the change by its seq and sends it on."""

import asyncio
from typing import Any
from urllib.parse import urlsplit

from django.db import connection
from playwright.async_api import expect

from previews.services import previews_round
from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE, acknowledged, open_chat, send
from tests.previews.pages_server import page_server

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks


def preview_round() -> int:
    try:
        return previews_round()
    finally:
        connection.close()  # this thread's: the flush after the test waits for no one


async def test_sending_a_url_shows_its_preview_card(open_page: Any, daphne_url: str, media_root: Any) -> None:
    _, _, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    for page in (ann_page, ben_page):
        await open_chat(page, "Ben" if page is ann_page else "Ann")
    with page_server() as pages:
        url = f"{pages.base}/article"
        await send(ann_page, f"have a look: {url}")
        await acknowledged(ann_page, 1)
        await acknowledged(ben_page, 1)
        assert await asyncio.to_thread(preview_round) == 1
    for page in (ann_page, ben_page):
        card = page.get_by_test_id("link-preview")
        await expect(card).to_have_count(1)
        await expect(card.get_by_test_id("link-preview-title")).to_have_text("Rust & Ruby")
        await expect(card.get_by_test_id("link-preview-description")).to_have_text("A tale of two languages.")
        await expect(card.get_by_test_id("link-preview-site")).to_have_text("Example News")
        assert await card.get_attribute("href") == url
        assert (await card.get_attribute("rel"), await card.get_attribute("target")) == (
            "noopener noreferrer",
            "_blank",
        )
        image = await card.get_by_test_id("link-preview-image").evaluate("img => img.src")
        assert urlsplit(image).netloc == urlsplit(daphne_url).netloc  # never the linked site's picture
        assert urlsplit(image).path.startswith("/media/previews/")
