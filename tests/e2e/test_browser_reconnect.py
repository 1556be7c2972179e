"""A web client that never gives up (issue 22 point 6), and drafts across devices (point 5): the
server stopped for a minute and started again on the same port while Ann writes two messages (her
page reconnects by itself, both arrive once and in order, peers' presence is unknown meanwhile); a
kicked member is told; a draft typed in one browser appears in another; signing out after
registering shows the sign-in form; a toast shows above (inside) an open dialog."""

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    PASSWORD,
    WEB_CLIENT_MODULE,
    acknowledged,
    befriend,
    chat_item,
    connection,
    expect_connected,
    message_texts,
    messages,
    new_group,
    open_chat,
    rest,
    send,
    sign_up,
    unique,
)
from tests.e2e.conftest import FALLBACK_SECRET_KEY, free_port, run_daphne

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

# The page's tries after the server stopped (gracefully: server_restart): one within 0.2-2 s, then
# 1, 3, 7, 15 and 31 s after it, then every 24-30 s. The 8th try comes at least 79 s after the
# stop, so waiting for it keeps the server down for more than the minute.
TRIES_PAST_A_MINUTE = 8
BACK_WITHIN_MS = 45_000  # the next steady try (at most 30 s) and its connect


class Server:
    """A daphne on the test database that can be stopped and started again on its port."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**env, "SECRET_KEY": os.environ.get("SECRET_KEY") or FALLBACK_SECRET_KEY}
        self.log_dir = log_dir
        self.port = free_port()
        self.running = ExitStack()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.running.enter_context(run_daphne(self.env, self.log_dir, port=self.port)) == self.url

    def stop(self) -> None:
        self.running.close()


@pytest.fixture
def server(transactional_db: None, server_env: dict[str, str], e2e_log_dir: Path) -> Iterator[Server]:
    own = Server(server_env, e2e_log_dir)
    own.start()
    yield own
    own.stop()


async def test_the_page_outlasts_a_stopped_server_and_sends_what_was_written_meanwhile_once_in_order(
    open_page: Any, server: Server
) -> None:
    url = server.url
    ann = await sign_up(url, "ann", "Ann")
    ben = await sign_up(url, "ben", "Ben")
    await befriend(url, ann, ben)
    ann_page = await test_browser.signed_in(open_page, url, ann)
    ben_page = await test_browser.signed_in(open_page, url, ben)
    await open_chat(ann_page, "Ben")
    await open_chat(ben_page, "Ann")
    await expect(chat_item(ann_page, "Ben").get_by_test_id("online-dot")).to_be_visible()
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text("online")
    await send(ann_page, "Before the outage")
    await acknowledged(ann_page, 1)
    tries: list[str] = []
    ann_page.on("websocket", lambda ws: tries.append(ws.url))

    server.stop()
    await expect(connection(ann_page)).to_have_attribute("data-state", "reconnecting")
    await expect(ann_page.get_by_test_id("reconnect")).to_be_visible()  # there, though never needed
    # Ben's presence is unknown now: a grey dot, no "online", no "last seen".
    await expect(chat_item(ann_page, "Ben").get_by_test_id("presence-unknown")).to_be_visible()
    await expect(chat_item(ann_page, "Ben").get_by_test_id("online-dot")).to_have_count(0)
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text("")

    await send(ann_page, "Written during the outage 1")
    await send(ann_page, "Written during the outage 2")
    await expect(messages(ann_page)).to_have_count(3)
    waiting = ann_page.locator("[data-testid=message][data-status=pending]")
    await expect(waiting).to_have_count(2)

    while len(tries) < TRIES_PAST_A_MINUTE:  # each try comes within 30 s of the one before
        await ann_page.wait_for_event("websocket", timeout=BACK_WITHIN_MS)
    # Through it all: still trying, nothing marked "Not sent".
    await expect(connection(ann_page)).to_have_attribute("data-state", "reconnecting")
    await expect(waiting).to_have_count(2)
    await expect(ann_page.locator("[data-testid=message][data-status=failed]")).to_have_count(0)

    server.start()
    await expect_connected(ann_page, timeout=BACK_WITHIN_MS)
    await expect_connected(ben_page, timeout=BACK_WITHIN_MS)
    expected = ["Before the outage", "Written during the outage 1", "Written during the outage 2"]
    await acknowledged(ann_page, 3)
    await expect(message_texts(ann_page)).to_have_text(expected)
    await expect(message_texts(ben_page)).to_have_text(expected)
    await expect(messages(ben_page)).to_have_count(3)
    chat_id = int(await chat_item(ben_page, "Ann").get_attribute("data-chat-id"))
    history = await rest(url, "GET", f"/api/chats/{chat_id}/messages", token=ben.token, status=200)
    stored = [(m["sender_id"], m["content"]) for m in sorted(history["results"], key=lambda m: m["id"])]
    assert stored == [(ann.id, text) for text in expected]  # each once, in the order written
    await expect(chat_item(ann_page, "Ben").get_by_test_id("online-dot")).to_be_visible()
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text("online")


async def test_a_kicked_member_is_told_and_the_chat_leaves_the_list(open_page: Any, daphne_url: str) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    group_id = await new_group(daphne_url, ann, "Kick club", ben)
    await open_chat(ben_page, "Kick club")
    await rest(daphne_url, "DELETE", f"/api/groups/{group_id}/members/{ben.id}", token=ann.token, status=204)
    notice = ben_page.get_by_test_id("toast").filter(has_text="Kick club")
    await expect(notice).to_have_text("You were removed from “Kick club” by an administrator.")
    await expect(chat_item(ben_page, "Kick club")).to_have_count(0)
    await expect(ben_page.get_by_test_id("chat-view")).to_be_hidden()
    await expect(notice).to_be_visible()  # it stays until dismissed
    await notice.get_by_role("button", name="Dismiss").click()
    await expect(notice).to_have_count(0)
    await expect(ann_page.get_by_test_id("toast").filter(has_text="Kick club")).to_have_count(0)


async def test_a_draft_typed_in_one_browser_appears_in_the_other_until_sent(
    open_page: Any, daphne_url: str
) -> None:
    ann, _ben, laptop, _ben_page = await test_browser.friends(open_page, daphne_url)
    phone = await test_browser.signed_in(open_page, daphne_url, ann)
    await open_chat(laptop, "Ben")
    await laptop.get_by_test_id("composer-input").fill("Half a thought")
    draft = chat_item(phone, "Ben").get_by_test_id("chat-draft")
    await expect(draft).to_have_text("Draft: Half a thought")
    await open_chat(phone, "Ben")
    await expect(phone.get_by_test_id("composer-input")).to_have_value("Half a thought")
    await phone.get_by_test_id("composer-input").press("Enter")
    await acknowledged(phone, 1)
    await expect(message_texts(laptop)).to_have_text(["Half a thought"])
    assert await rest(daphne_url, "GET", "/api/drafts", token=ann.token, status=200) == []
    await laptop.reload()
    await expect_connected(laptop)
    await expect(chat_item(laptop, "Ben").get_by_test_id("chat-draft")).to_have_count(0)
    await expect(chat_item(laptop, "Ben").get_by_test_id("chat-preview")).to_have_text("You: Half a thought")


async def test_signing_out_after_registering_shows_the_sign_in_form_and_signing_in_focuses_the_chats(
    open_page: Any, daphne_url: str
) -> None:
    page: Page = await open_page("New")
    await page.goto(daphne_url + "/")
    await page.get_by_test_id("tab-register").click()
    username = unique("new")
    await page.locator("#register-username").fill(username)
    await page.locator("#register-password").fill(PASSWORD)
    await page.get_by_test_id("register-submit").click()
    await expect_connected(page)
    await expect(page.get_by_test_id("chat-filter")).to_be_focused()
    await page.get_by_test_id("signout").click()
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    await expect(page.get_by_test_id("register-form")).to_be_hidden()
    await expect(page.get_by_test_id("tab-signin")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#signin-username")).to_be_focused()
    await page.locator("#signin-username").fill(username)
    await page.locator("#signin-password").fill(PASSWORD)
    await page.get_by_test_id("signin-submit").click()
    await expect_connected(page)
    await expect(page.get_by_test_id("chat-filter")).to_be_focused()


async def test_a_toast_shows_above_an_open_dialog_and_can_be_dismissed_there(
    open_page: Any, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    cat = await sign_up(daphne_url, "cat", "Cat")
    page = await test_browser.signed_in(open_page, daphne_url, ann)
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    dialog = page.get_by_test_id("settings-dialog")
    await expect(dialog).to_be_visible()
    await rest(daphne_url, "POST", "/api/friends/requests", {"user_id": ann.id}, token=cat.token, status=201)
    toast = dialog.get_by_test_id("toast").filter(has_text="Cat wants to be your friend.")
    await expect(toast).to_be_visible()
    # Nothing covers it: the dialog's top layer holds it, and a click reaches its button.
    covered = await toast.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   return !el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"""
    )
    assert covered is False
    await toast.get_by_role("button", name="Dismiss").click()
    await expect(toast).to_have_count(0)
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
