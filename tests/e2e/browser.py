"""Helpers for the browser tests (test_browser.py): Debian's Chromium driven by Playwright, people set
up over the real REST API, and the web client's screens seen through its data-testid hooks.

The browser is always /usr/bin/chromium (installed by .ci/run), launched through executable_path:
nothing here installs or downloads a browser. Without it the tests fail under CI=true and are
skipped, with the reason shown, anywhere else.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.e2e.test_http import call

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
UI_TIMEOUT_MS = 10_000  # the longest one step of the UI may take (an action, or a state to show)
PASSWORD = "browser-Test-passw0rd"  # passes the server's validators (length, not common, not digits)
# A browser test module of the web client: one event loop (so one Chromium) for the module, on the
# embedded leg only (the client is the same on both legs, and its browser tests are slow).
WEB_CLIENT_MODULE = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the web client: embedded leg"),
]


def chromium_path() -> str:
    """Debian's Chromium; a clear failure under CI=true when it is missing, a visible skip elsewhere."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    reason = f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) for the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    """One headless Chromium with fake camera and microphone, closed afterwards.

    The async API, not the sync one: the sync API leaves its event loop marked as running in the
    test's thread, and Django then refuses the database flush that ends each transactional test."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> Path:
    """Save what the page shows now as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


def unique(prefix: str) -> str:
    """A username no other test (or earlier run) has taken: letters, digits and a dash."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---- people over the real REST API ---------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    nickname: str
    token: str


async def rest(
    base_url: str, method: str, path: str, body: Any = None, *, token: str = "", status: int
) -> Any:
    """One REST call (in a thread: the browser's event loop keeps running); its JSON answer."""
    reply = await asyncio.to_thread(call, base_url, method, path, body, token=token or None)
    assert reply.status == status, f"{method} {path}: {reply.status} {reply.text}"
    return reply.json() if reply.text else None


async def sign_up(base_url: str, prefix: str, nickname: str) -> Account:
    username = unique(prefix)
    body = {"username": username, "password": PASSWORD, "nickname": nickname}
    user = await rest(base_url, "POST", "/api/auth/register", body, status=201)
    tokens = await rest(
        base_url, "POST", "/api/auth/token", {"username": username, "password": PASSWORD}, status=200
    )
    return Account(user["id"], username, nickname, tokens["access"])


async def befriend(base_url: str, a: Account, b: Account) -> None:
    """a asks, b accepts (which gives them a private chat)."""
    body = {"user_id": b.id}
    sent = await rest(base_url, "POST", "/api/friends/requests", body, token=a.token, status=201)
    accept = f"/api/friends/requests/{sent['id']}/accept"
    assert (await rest(base_url, "POST", accept, token=b.token, status=200))["status"] == "accepted"


async def new_group(base_url: str, owner: Account, name: str, *members: Account) -> int:
    body = {"name": name, "member_ids": [m.id for m in members]}
    return (await rest(base_url, "POST", "/api/groups", body, token=owner.token, status=201))["id"]


# ---- the web client --------------------------------------------------------------------------------


def connection(page: Page) -> Locator:
    return page.get_by_test_id("connection-state")


async def expect_connected(page: Page, timeout: float | None = None) -> None:
    await expect(connection(page)).to_have_attribute("data-state", "connected", timeout=timeout)
    await expect(connection(page).locator(".connection-label")).to_have_text("Connected")


async def sign_in(page: Page, base_url: str, account: Account) -> None:
    """Sign in through the form; done when the client is connected as this person."""
    await page.goto(base_url + "/")
    await page.locator("#signin-username").fill(account.username)
    await page.locator("#signin-password").fill(PASSWORD)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("me-name")).to_have_text(account.nickname)
    await expect_connected(page)


def chat_item(page: Page, title: str) -> Locator:
    """The chat list's entry whose title is exactly `title`."""
    titled = page.get_by_test_id("chat-item-title").get_by_text(title, exact=True)
    return page.get_by_test_id("chat-item").filter(has=titled)


async def open_chat(page: Page, title: str) -> None:
    await chat_item(page, title).click()
    await expect(page.get_by_test_id("chat-title")).to_have_text(title)
    await expect(page.get_by_test_id("history-start")).to_be_visible()  # its history has loaded


async def send(page: Page, text: str) -> None:
    """Type into the composer and press Enter."""
    await page.get_by_test_id("composer-input").fill(text)
    await page.get_by_test_id("composer-input").press("Enter")


def messages(page: Page) -> Locator:
    return page.get_by_test_id("message-list").get_by_test_id("message")


def message_texts(page: Page) -> Locator:
    return page.get_by_test_id("message-list").get_by_test_id("message-text")


async def acknowledged(page: Page, count: int) -> None:
    """The open conversation shows `count` messages, none still pending or failed."""
    await expect(messages(page)).to_have_count(count)
    await expect(page.locator("[data-testid=message]:not([data-status=sent])")).to_have_count(0)


async def message_action(message: Locator, action: str) -> None:
    """Reply, edit or delete (the buttons show on hover)."""
    await message.hover()
    await message.get_by_test_id(action).click()
