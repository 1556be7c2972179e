"""The web client in a real Chromium against the real server (daphne over TCP on 127.0.0.1): each
person is a browser context of their own, and every assertion is about what a person sees on the
page (text, states, counts), reached through the same REST and WebSocket APIs as any client.

One Chromium serves the module; every test makes its own people (unique usernames), and all its
contexts are closed before the test's database changes are flushed. People who only need to exist
are set up over REST and then sign in through the form; the first test does everything in the UI.
Every wait is bounded (Playwright's expect, UI_TIMEOUT_MS unless a step says otherwise). A page
that throws an uncaught exception fails its test, and so does a traceback in the server's log.
Screenshots of the main screens go to test-artifacts/screenshots/.
"""

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, WebSocketRoute, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    UI_TIMEOUT_MS,
    Account,
    acknowledged,
    befriend,
    chat_item,
    connection,
    expect_connected,
    launched_chromium,
    message_action,
    message_texts,
    messages,
    new_group,
    open_chat,
    send,
    shot,
    sign_in,
    sign_up,
    unique,
)
from tests.e2e.test_ws import no_server_tracebacks  # noqa: F401 (autouse: daphne logs no traceback)

CALL_TIMEOUT_MS = 20_000  # ICE and media on loopback, plus the first decoded frames
# A dropped connection is retried after 1, 2, 4, 8... s: a few refused tries fit in this.
RECONNECT_TIMEOUT_MS = 30_000
MUTED_NOTICE = re.compile(r"^You are muted in this group until .+\.$")

expect.set_options(timeout=UI_TIMEOUT_MS)
# One event loop (and so one Chromium) for the whole module.
pytestmark = pytest.mark.asyncio(loop_scope="module")

OpenPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with launched_chromium() as browser:
        yield browser


def csp_violations(name: str, message: ConsoleMessage) -> list[str]:
    """The console message if it says the Content-Security-Policy refused something."""
    return [f"{name}: {message.text}"] if "Content Security Policy" in message.text else []


@pytest_asyncio.fixture(loop_scope="module")
async def open_page(chromium: Browser, daphne_url: str) -> AsyncIterator[OpenPage]:
    """open_page(name, viewport=DESKTOP): a page in a browser context of its own (English, UTC).
    After the test every context is closed; an uncaught exception in any page, or anything the
    Content-Security-Policy refused (Chromium reports it as a console error), fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(name: str, viewport: dict[str, int] = DESKTOP) -> Page:
        context = await chromium.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
        contexts.append(context)
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        page.on("console", lambda message: errors.extend(csp_violations(name, message)))
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, "uncaught exceptions in the pages:\n" + "\n".join(errors)


async def signed_in(
    open_page: OpenPage, base_url: str, account: Account, viewport: dict[str, int] = DESKTOP
) -> Page:
    page = await open_page(account.nickname, viewport)
    await sign_in(page, base_url, account)
    return page


async def friends(open_page: OpenPage, base_url: str) -> tuple[Account, Account, Page, Page]:
    """Ann and Ben, friends with a private chat (set up over REST), each signed in on a desktop."""
    ann = await sign_up(base_url, "ann", "Ann")
    ben = await sign_up(base_url, "ben", "Ben")
    await befriend(base_url, ann, ben)
    return ann, ben, await signed_in(open_page, base_url, ann), await signed_in(open_page, base_url, ben)


async def text_of(page: Page, selector: str) -> str:
    """The exact textContent (expect's text matching normalises whitespace)."""
    return await page.locator(selector).evaluate("el => el.textContent")


async def dismiss_toasts(page: Page) -> None:
    """Close every toast with its Dismiss button (one may also go by itself meanwhile)."""
    toasts = page.get_by_test_id("toast")
    for _ in range(10):
        if not await toasts.count():
            break
        with contextlib.suppress(PlaywrightTimeoutError):
            await toasts.first.get_by_role("button", name="Dismiss").click(timeout=1000)
    await expect(toasts).to_have_count(0)


# ---- 1. sign-up, friends, chat -------------------------------------------------------------------


async def register(page: Page, base_url: str, username: str, nickname: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_test_id("tab-register").click()
    await expect(page.get_by_test_id("register-form")).to_be_visible()
    await page.locator("#register-username").fill(username)
    await page.locator("#register-nickname").fill(nickname)
    await page.locator("#register-password").fill(PASSWORD)
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("me-name")).to_have_text(nickname)
    await expect_connected(page)


async def test_register_befriend_and_chat(open_page: OpenPage, daphne_url: str) -> None:
    ann_name, ben_name = unique("ann"), unique("ben")
    ann, ben = await open_page("Ann"), await open_page("Ben")

    await ann.goto(daphne_url + "/")
    await expect(ann.get_by_test_id("signin-form")).to_be_visible()
    await expect(ann.get_by_test_id("register-form")).to_be_hidden()
    await expect(ann.locator("#main-view")).to_be_hidden()
    await shot(ann, "01-sign-in")

    await register(ann, daphne_url, ann_name, "Ann")
    await register(ben, daphne_url, ben_name, "Ben")
    await expect(ann.get_by_test_id("chat-item")).to_have_count(0)
    await expect(ann.get_by_test_id("chat-list")).to_have_text("No chats yet.")

    # Ann finds Ben by his username and asks him to be friends.
    await ann.get_by_test_id("contacts-button").click()
    await ann.get_by_test_id("user-search").fill(ben_name)
    await ann.get_by_test_id("user-search-submit").click()
    found = ann.get_by_test_id("user-search-results").get_by_test_id("person")
    await expect(found).to_have_count(1)
    await expect(found.locator(".person-name")).to_have_text("Ben")
    await expect(found.locator("small")).to_have_text(f"@{ben_name}")
    await found.get_by_test_id("add-friend").click()
    await expect(found.get_by_test_id("add-friend")).to_have_count(0)
    await expect(found).to_contain_text("Request sent")
    await expect(ann.get_by_test_id("outgoing-requests").get_by_test_id("person")).to_have_text(
        re.compile("Ben.*Waiting")
    )

    # Ben sees the request arrive (badge and toast) and accepts it.
    await expect(ben.get_by_test_id("requests-badge")).to_have_text("1")
    await expect(ben.get_by_test_id("toast").filter(has_text="Ann wants to be your friend.")).to_be_visible()
    await ben.get_by_test_id("contacts-button").click()
    incoming = ben.get_by_test_id("incoming-requests").get_by_test_id("person")
    await expect(incoming).to_have_count(1)
    await expect(incoming.locator(".person-name")).to_have_text("Ann")
    await incoming.get_by_test_id("accept-request").click()
    await expect(ben.get_by_test_id("incoming-requests")).to_have_text("No requests.")
    await expect(ben.get_by_test_id("requests-badge")).to_be_hidden()
    ben_friends = ben.get_by_test_id("friend-list").get_by_test_id("person")
    await expect(ben_friends.locator(".person-name")).to_have_text(["Ann"])

    # Ann hears of it live, and both have the private chat in their list.
    await expect(
        ann.get_by_test_id("toast").filter(has_text="Ben accepted your friend request.")
    ).to_be_visible()
    await expect(
        ann.get_by_test_id("friend-list").get_by_test_id("person").locator(".person-name")
    ).to_have_text(["Ben"])
    await ann.keyboard.press("Escape")
    await expect(ann.get_by_test_id("contacts-dialog")).to_be_hidden()
    await expect(ann.get_by_test_id("chat-item-title")).to_have_text(["Ben"])

    # Ben opens the chat from his friend list and writes; Ann sees it in her list, unread.
    await ben_friends.get_by_test_id("message-friend").click()
    await expect(ben.get_by_test_id("contacts-dialog")).to_be_hidden()
    await expect(ben.get_by_test_id("chat-title")).to_have_text("Ann")
    await expect(ben.get_by_test_id("history-start")).to_be_visible()
    await send(ben, "Hi Ann! Lunch today?")
    await acknowledged(ben, 1)
    ann_item = chat_item(ann, "Ben")
    await expect(ann_item.get_by_test_id("chat-preview")).to_have_text("Hi Ann! Lunch today?")
    await expect(ann_item.get_by_test_id("unread-badge")).to_have_text("1")
    await shot(ann, "02-chat-list")

    # Ann reads and answers (Shift+Enter makes a second line); each message reaches the other side.
    await open_chat(ann, "Ben")
    await expect(ann_item.get_by_test_id("unread-badge")).to_have_count(0)
    await expect(message_texts(ann)).to_have_text(["Hi Ann! Lunch today?"])
    composer = ann.get_by_test_id("composer-input")
    await composer.fill("Yes!")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("12:30 at the usual place")
    await expect(composer).to_have_value("Yes!\n12:30 at the usual place")
    await composer.press("Enter")
    await expect(composer).to_have_value("")
    await acknowledged(ann, 2)
    await expect(message_texts(ben)).to_have_count(2)
    assert await text_of(ben, "[data-testid=message-list] li:last-child [data-testid=message-text]") == (
        "Yes!\n12:30 at the usual place"
    )
    await send(ben, "Great, see you there")
    await acknowledged(ben, 3)
    for page in (ann, ben):
        await expect(message_texts(page)).to_have_text(
            ["Hi Ann! Lunch today?", "Yes! 12:30 at the usual place", "Great, see you there"]
        )
    await expect(ann.locator("[data-testid=message].mine")).to_have_count(1)
    await expect(ann.locator("[data-testid=message].theirs")).to_have_count(2)
    await expect(ben.locator("[data-testid=message].mine")).to_have_count(2)
    await expect(chat_item(ben, "Ann").get_by_test_id("chat-preview")).to_have_text(
        "You: Great, see you there"
    )
    await dismiss_toasts(ann)
    await shot(ann, "03-conversation")


# ---- 2. typing, read ticks, edit, delete ---------------------------------------------------------


async def test_typing_read_ticks_edit_and_delete_live(open_page: OpenPage, daphne_url: str) -> None:
    _, _, ann, ben = await friends(open_page, daphne_url)
    await open_chat(ann, "Ben")
    await expect(ann.get_by_test_id("chat-status")).to_have_text("online")

    # Ben has not opened the chat: Ann's message reaches his open page (delivered, two plain ticks:
    # tests/e2e/test_browser_receipts.py), then is read when he opens it.
    await send(ann, "Are you there?")
    await acknowledged(ann, 1)
    tick = messages(ann).last.get_by_test_id("read-state")
    await expect(tick).to_have_attribute("data-state", "delivered")
    await expect(tick).to_have_text("✓✓")
    await expect(tick).to_have_attribute("aria-label", "Delivered")
    await expect(chat_item(ben, "Ann").get_by_test_id("unread-badge")).to_have_text("1")
    await open_chat(ben, "Ann")
    await expect(tick).to_have_attribute("data-state", "read")
    await expect(tick).to_have_text("✓✓")
    await expect(tick).to_have_attribute("aria-label", "Read")
    await expect(chat_item(ben, "Ann").get_by_test_id("unread-badge")).to_have_count(0)

    # Ben types: "typing…" under the title and in Ann's chat list, gone when he sends.
    await ben.get_by_test_id("composer-input").press_sequentially("Yes, h")
    await expect(ann.get_by_test_id("chat-status")).to_have_text("typing…")
    await expect(ann.get_by_test_id("chat-status")).to_have_attribute("data-typing", "true")
    await expect(chat_item(ann, "Ben").get_by_test_id("chat-preview")).to_have_text("typing…")
    await ben.get_by_test_id("composer-input").press_sequentially("ere")
    await ben.get_by_test_id("composer-input").press("Enter")
    await expect(message_texts(ann)).to_have_text(["Are you there?", "Yes, here"])
    await expect(ann.get_by_test_id("chat-status")).to_have_text("online")
    await expect(chat_item(ann, "Ben").get_by_test_id("chat-preview")).to_have_text("Yes, here")
    await acknowledged(ben, 2)

    # Only one's own messages can be edited.
    theirs = ben.locator("[data-testid=message].theirs")
    await expect(theirs).to_have_count(1)
    await expect(theirs.get_by_test_id("edit")).to_have_count(0)
    await expect(theirs.get_by_test_id("delete")).to_have_count(0)

    # Ann edits her message: Ben sees the new text, marked edited.
    mine = ann.locator("[data-testid=message].mine")
    message_id = await mine.get_attribute("data-message-id")
    await message_action(mine, "edit")
    await expect(ann.get_by_test_id("compose-context")).to_have_text("Editing your message")
    await expect(ann.get_by_test_id("composer-input")).to_have_value("Are you there?")
    await ann.get_by_test_id("composer-input").fill("Are you still there?")
    await ann.get_by_test_id("composer-input").press("Enter")
    await expect(ann.get_by_test_id("compose-context")).to_be_hidden()
    bens_copy = ben.locator(f"[data-testid=message][data-message-id='{message_id}']")
    await expect(bens_copy.get_by_test_id("message-text")).to_have_text("Are you still there?")
    await expect(bens_copy.get_by_test_id("edited")).to_have_text("edited")
    await expect(mine.get_by_test_id("edited")).to_have_text("edited")
    await expect(message_texts(ben)).to_have_text(["Are you still there?", "Yes, here"])

    # Ann deletes it (after confirming): it stays in place, as deleted, on both sides.
    await message_action(mine, "delete")
    await expect(ann.get_by_test_id("ask-dialog")).to_be_visible()
    await expect(ann.locator("#ask-title")).to_have_text("Delete this message for everyone?")
    await ann.get_by_test_id("ask-ok").click()
    for page, copy in ((ben, bens_copy), (ann, mine)):
        await expect(copy).to_have_class(re.compile(r"\bis-deleted\b"))
        await expect(copy.locator(".text.deleted")).to_have_text("This message was deleted.")
        await expect(copy.get_by_test_id("message-text")).to_have_count(0)
        await expect(copy.get_by_test_id("edited")).to_have_count(0)
        await expect(messages(page)).to_have_count(2)
        await expect(message_texts(page)).to_have_text(["Yes, here"])


# ---- 3. a group, and a member muted by the owner -------------------------------------------------


async def test_group_owner_mutes_a_member_who_then_cannot_send(open_page: OpenPage, daphne_url: str) -> None:
    ann, ben, ann_page, ben_page = await friends(open_page, daphne_url)

    # Ann creates a group with Ben through the new-group dialog.
    await ann_page.get_by_test_id("new-group-button").click()
    await ann_page.get_by_test_id("new-group-name").fill("Weekend trip")
    members = ann_page.get_by_test_id("new-group-members").locator("label")
    await expect(members).to_have_text(["Ben"])
    await members.filter(has_text="Ben").get_by_test_id("new-group-member").check()
    await ann_page.get_by_test_id("new-group-submit").click()
    await expect(ann_page.get_by_test_id("new-group-dialog")).to_be_hidden()
    await expect(ann_page.get_by_test_id("chat-title")).to_have_text("Weekend trip")
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text("2 members")

    # Ben sees the group appear, opens it and writes.
    await open_chat(ben_page, "Weekend trip")
    await expect(ben_page.get_by_test_id("compose-blocked")).to_be_hidden()
    await send(ben_page, "Count me in")
    await acknowledged(ben_page, 1)
    await expect(ann_page.get_by_test_id("message-sender")).to_have_text(["Ben"])
    await expect(message_texts(ann_page)).to_have_text(["Count me in"])

    # The group panel lists both members with their roles.
    await ann_page.get_by_test_id("group-info").click()
    panel = ann_page.get_by_test_id("group-panel")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_test_id("group-name")).to_have_text("Weekend trip")
    rows = panel.get_by_test_id("member")
    await expect(rows).to_have_count(2)
    ben_row = panel.locator(f"[data-testid=member][data-user-id='{ben.id}']")
    ann_row = panel.locator(f"[data-testid=member][data-user-id='{ann.id}']")
    await expect(ann_row.get_by_test_id("member-role")).to_have_text("Owner")
    await expect(ben_row.get_by_test_id("member-role")).to_have_text("Member")
    await expect(ben_row).to_have_attribute("data-muted", "false")
    await shot(ann_page, "04-group-panel")

    # Ann mutes Ben for an hour.
    await ben_row.get_by_test_id("member-actions").click()
    await ben_row.get_by_label("Mute for").select_option("3600")
    await ben_row.get_by_test_id("mute").click()
    await expect(ben_row).to_have_attribute("data-muted", "true")
    await expect(ben_row.get_by_test_id("member-muted")).to_have_text(re.compile(r"^muted until .+"))
    await expect(ann_row).to_have_attribute("data-muted", "false")

    # Ben, who has the group open, sees at once that he cannot send: the composer is closed.
    blocked = ben_page.get_by_test_id("compose-blocked")
    await expect(blocked).to_be_visible()
    await expect(blocked).to_have_text(MUTED_NOTICE)
    await expect(blocked).to_have_attribute("data-reason", "muted")
    await expect(ben_page.get_by_test_id("composer-input")).to_be_disabled()
    await expect(ben_page.get_by_test_id("send-button")).to_be_disabled()
    await expect(ben_page.get_by_test_id("image-button")).to_be_disabled()
    await shot(ben_page, "05-muted-member")

    # Ann still writes, and Ben still reads.
    await send(ann_page, "Sorry Ben, owner's rules")
    await acknowledged(ann_page, 2)
    await expect(message_texts(ben_page)).to_have_text(["Count me in", "Sorry Ben, owner's rules"])
    await expect(blocked).to_be_visible()


# ---- 4. a call -----------------------------------------------------------------------------------

REMOTE_VIDEO_PLAYS = """() => {
  const video = document.getElementById("remote-video");
  return video.srcObject !== null && video.readyState >= 2 && video.videoWidth > 0;
}"""


async def shown_seconds(page: Page) -> int:
    text = await page.get_by_test_id("call-duration").text_content() or ""
    match = re.fullmatch(r"(\d+):(\d\d)", text)
    assert match, f"duration shown as {text!r}"
    return int(match[1]) * 60 + int(match[2])


async def test_video_call_connects_both_sides_and_ends_with_a_duration(
    open_page: OpenPage, daphne_url: str
) -> None:
    _, _, ann, ben = await friends(open_page, daphne_url)
    await open_chat(ann, "Ben")
    await ann.get_by_test_id("video-call").click()

    view = ann.get_by_test_id("call-view")
    await expect(view).to_be_visible()
    await expect(ann.locator("#call-peer")).to_have_text("Ben")
    incoming = ben.get_by_test_id("incoming-call")
    await expect(incoming).to_be_visible()
    await expect(incoming.locator("h2")).to_have_text("Ann is video calling you")
    await expect(view).to_have_attribute("data-state", "ringing")
    await expect(ann.get_by_test_id("call-status")).to_have_text("Calling…")
    await ben.get_by_test_id("call-accept").click()
    await expect(incoming).to_be_hidden()

    for page, peer in ((ann, "Ben"), (ben, "Ann")):
        call_view = page.get_by_test_id("call-view")
        await expect(call_view).to_have_attribute("data-state", "connected", timeout=CALL_TIMEOUT_MS)
        await expect(call_view).to_have_attribute("data-call-type", "video")
        await expect(page.get_by_test_id("call-status")).to_have_text("Connected")
        await expect(page.locator("#call-peer")).to_have_text(peer)
        await page.wait_for_function(REMOTE_VIDEO_PLAYS, timeout=CALL_TIMEOUT_MS)
    await expect(ann.get_by_test_id("call-duration")).to_have_text(re.compile(r"^0:(0[2-9]|[1-5]\d)$"))
    await ann.get_by_test_id("call-mute").click()
    await expect(ann.get_by_test_id("call-mute")).to_have_attribute("aria-pressed", "true")
    await expect(ann.get_by_test_id("call-mute")).to_have_text("Unmute")
    await shot(ann, "06-call")

    await ann.get_by_test_id("call-hangup").click()
    durations = []
    for page in (ann, ben):
        await expect(page.get_by_test_id("call-view")).to_have_attribute("data-state", "ended")
        await expect(page.get_by_test_id("call-status")).to_have_text("Call ended")
        await expect(page.get_by_test_id("call-hangup")).to_be_hidden()
        await expect(page.get_by_test_id("call-close")).to_be_visible()
        durations.append(await shown_seconds(page))
    assert all(2 <= seconds <= 60 for seconds in durations), durations
    # The caller counts from its own "connected", the callee shows the server's count from the answer.
    assert abs(durations[0] - durations[1]) <= 2, durations
    for page in (ann, ben):
        await page.get_by_test_id("call-close").click()
        await expect(page.get_by_test_id("call-view")).to_be_hidden()
    await expect(ben.get_by_test_id("missed-call")).to_have_count(0)


# ---- 5. the connection drops, and sync brings what was missed ------------------------------------


class DroppableSocket:
    """Routes a page's WebSocket to the real server, recording the frames the page sends. drop()
    cuts the connection: the server's end is closed, and the page's end with code 1011 as if the
    server had gone away; while `refusing`, every new connection is closed as soon as it opens."""

    def __init__(self) -> None:
        self.refusing = False
        self.routes: list[tuple[WebSocketRoute, WebSocketRoute]] = []  # (page's end, server's end)
        self.sent: list[dict[str, Any]] = []

    async def handle(self, ws: WebSocketRoute) -> None:
        if self.refusing:
            await ws.close(code=1011, reason="server unavailable")
            return
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            if isinstance(message, str):
                self.sent.append(json.loads(message))
            server.send(message)

        ws.on_message(forward)
        self.routes.append((ws, server))

    async def drop(self) -> None:
        self.refusing = True
        page_end, server_end = self.routes[-1]
        await server_end.close(code=1000, reason="")
        await page_end.close(code=1011, reason="server went away")


async def test_messages_sent_while_disconnected_arrive_after_reconnecting(
    open_page: OpenPage, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    ann_page = await signed_in(open_page, daphne_url, ann)
    ben_page = await open_page("Ben", PHONE)
    socket = DroppableSocket()
    await ben_page.route_web_socket(re.compile(r"/ws$"), socket.handle)
    await sign_in(ben_page, daphne_url, ben)
    await open_chat(ann_page, "Ben")
    await open_chat(ben_page, "Ann")
    await send(ann_page, "Before the drop")
    await acknowledged(ann_page, 1)
    await expect(message_texts(ben_page)).to_have_text(["Before the drop"])

    await socket.drop()
    await expect(connection(ben_page)).to_have_attribute("data-state", "reconnecting")
    await expect(connection(ben_page).locator(".connection-label")).to_have_text("Reconnecting…")
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text(re.compile(r"^(offline|last seen .+)$"))
    seq_key = f"imsuite.seq.{ben.id}"
    seq_before = int(await ben_page.evaluate("key => localStorage.getItem(key)", seq_key))
    await shot(ben_page, "07-reconnecting-phone")

    # Sent and stored while Ben is away: nothing can reach his page now.
    await send(ann_page, "While you were away 1")
    await send(ann_page, "While you were away 2")
    await acknowledged(ann_page, 3)
    await expect(message_texts(ben_page)).to_have_text(["Before the drop"])

    socket.refusing = False
    await expect(connection(ben_page)).to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    expected = ["Before the drop", "While you were away 1", "While you were away 2"]
    await expect(message_texts(ben_page)).to_have_text(expected)
    await expect(messages(ben_page)).to_have_count(3)
    syncs = [frame for frame in socket.sent if frame["type"] == "sync"]
    assert syncs == [{"type": "sync", "payload": {"since_seq": seq_before}}], syncs
    # Ben has the chat open, so what sync brought is read at once.
    await expect(messages(ann_page).last.get_by_test_id("read-state")).to_have_attribute("data-state", "read")
    await expect(ann_page.get_by_test_id("chat-status")).to_have_text("online")
    await expect(message_texts(ann_page)).to_have_text(expected)


# ---- 6. text is text ------------------------------------------------------------------------------

NICK_ANN = "<b>Ann</b><img src=x onerror=window.__xss=1>"
NICK_BEN = "<script>window.__xss=2</script>Ben"
GROUP_NAME = "<i>Team</i><img src=x onerror=window.__xss=3>"
MESSAGE = '<b>bold</b> <script>window.__xss=4</script> <img src=x onerror="window.__xss=5"> & &amp;'
NOTICE = "<img src=x onerror=window.__xss=6>Meeting <b>at 5</b>"
CARD = "<u>Benny</u><svg onload=window.__xss=7>"
INJECTED = "#app b, #app i, #app u, #app script, #app img, #app svg[onload], #app [onerror]"


async def nothing_injected(page: Page) -> None:
    await expect(page.locator(INJECTED)).to_have_count(0)
    assert await page.evaluate("() => window.__xss") is None


async def test_html_in_messages_names_cards_and_notices_is_shown_as_text(
    open_page: OpenPage, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", NICK_ANN)
    ben = await sign_up(daphne_url, "ben", NICK_BEN)
    await befriend(daphne_url, ann, ben)
    await new_group(daphne_url, ann, GROUP_NAME, ben)
    ann_page = await signed_in(open_page, daphne_url, ann)
    ben_page = await signed_in(open_page, daphne_url, ben)
    await expect(ann_page.get_by_test_id("me-name")).to_have_text(NICK_ANN)
    await expect(ben_page.get_by_test_id("chat-item-title")).to_have_text([GROUP_NAME, NICK_ANN])

    # A private message.
    await open_chat(ann_page, NICK_BEN)
    await send(ann_page, MESSAGE)
    await acknowledged(ann_page, 1)
    await expect(chat_item(ben_page, NICK_ANN).get_by_test_id("chat-preview")).to_have_text(MESSAGE)
    await open_chat(ben_page, NICK_ANN)
    await expect(message_texts(ben_page)).to_have_text([MESSAGE])
    assert await text_of(ben_page, "[data-testid=message-text]") == MESSAGE

    # In the group: the sender's name, then the card Ann gives Ben, and a notice.
    await open_chat(ben_page, GROUP_NAME)
    await send(ben_page, MESSAGE)
    await acknowledged(ben_page, 1)
    await open_chat(ann_page, GROUP_NAME)
    await expect(ann_page.get_by_test_id("message-sender")).to_have_text([NICK_BEN])
    await expect(message_texts(ann_page)).to_have_text([MESSAGE])
    await ann_page.get_by_test_id("group-info").click()
    panel = ann_page.get_by_test_id("group-panel")
    await expect(panel.get_by_test_id("group-name")).to_have_text(GROUP_NAME)
    ben_row = panel.locator(f"[data-testid=member][data-user-id='{ben.id}']")
    await ben_row.get_by_test_id("member-actions").click()
    await ben_row.get_by_test_id("set-card").click()
    await ann_page.get_by_test_id("ask-input").fill(CARD)
    await ann_page.get_by_test_id("ask-ok").click()
    await expect(ben_row.locator(".member-title")).to_have_text(CARD)
    await expect(ben_row.locator(".member-nickname")).to_have_text(NICK_BEN)
    await expect(ann_page.get_by_test_id("message-sender")).to_have_text([CARD])
    await ann_page.locator("#notice-input").fill(NOTICE)
    await panel.get_by_test_id("notice-form").get_by_role("button").click()
    await expect(panel.get_by_test_id("notice").locator("p")).to_have_text([NOTICE])

    await ben_page.get_by_test_id("group-info").click()
    ben_panel = ben_page.get_by_test_id("group-panel")
    await expect(ben_panel.get_by_test_id("notice").locator("p")).to_have_text([NOTICE])
    await expect(ben_panel.locator(".member-title")).to_have_text([NICK_ANN, CARD])
    for page in (ann_page, ben_page):
        await nothing_injected(page)


# ---- 7. a phone ----------------------------------------------------------------------------------


async def test_phone_layout_opens_a_chat_and_sends(open_page: OpenPage, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    ben_page = await signed_in(open_page, daphne_url, ben)
    phone = await open_page("Ann (phone)", PHONE)
    await phone.goto(daphne_url + "/")
    await expect(phone.get_by_test_id("signin-form")).to_be_visible()
    await shot(phone, "08-sign-in-phone")
    await sign_in(phone, daphne_url, ann)

    # One pane at a time: first the chat list, nothing wider than the screen.
    sidebar, conversation = phone.locator("#sidebar"), phone.locator("#conversation")
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()
    assert await phone.evaluate("() => document.documentElement.scrollWidth") == PHONE["width"]
    send_from_ben = "Are you on your phone?"
    await open_chat(ben_page, "Ann")
    await send(ben_page, send_from_ben)
    await expect(chat_item(phone, "Ben").get_by_test_id("unread-badge")).to_have_text("1")
    await shot(phone, "09-chat-list-phone")

    # Tapping the chat shows the conversation alone, with a way back.
    await chat_item(phone, "Ben").click()
    await expect(sidebar).to_be_hidden()
    await expect(phone.get_by_test_id("chat-view")).to_be_visible()
    await expect(phone.get_by_test_id("chat-title")).to_have_text("Ben")
    await expect(phone.locator("#back-button")).to_be_visible()
    await expect(message_texts(phone)).to_have_text([send_from_ben])
    await phone.get_by_test_id("composer-input").fill("Yes, on the bus")
    await phone.get_by_test_id("send-button").click()
    await acknowledged(phone, 2)
    await expect(message_texts(ben_page)).to_have_text([send_from_ben, "Yes, on the bus"])
    await send(ben_page, "Safe trip")
    await expect(message_texts(phone)).to_have_text([send_from_ben, "Yes, on the bus", "Safe trip"])
    for selector in ("#composer-input", "[data-testid=send-button]", "#message-list"):
        box = await phone.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    assert await phone.evaluate("() => document.documentElement.scrollWidth") == PHONE["width"]
    await shot(phone, "10-conversation-phone")

    await phone.locator("#back-button").click()
    await expect(sidebar).to_be_visible()
    await expect(conversation).to_be_hidden()
    await expect(chat_item(phone, "Ben").get_by_test_id("chat-preview")).to_have_text("Safe trip")
    await expect(chat_item(phone, "Ben").get_by_test_id("unread-badge")).to_have_count(0)
