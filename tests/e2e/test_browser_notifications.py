"""Desktop notifications in the web client (issue 19): a message of someone else in a chat the user
is not looking at becomes one browser Notification per chat (a burst replaces it, with a count),
with or without the text as the settings say, never for the open chat of a page in view; the tab
title counts the unread messages; a click on the notification opens the chat.

Headless Chromium shows no notification, so an init script puts a recorder in place of
window.Notification (its permission is the real one: the context is granted "notifications"), and
lets the test hide the page (document.visibilityState, and the visibilitychange event)."""

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    WEB_CLIENT_MODULE,
    Account,
    befriend,
    chat_item,
    new_group,
    rest,
    shot,
    sign_in,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

RECORDER = """
window.recorded = [];
window.beeps = 0;
const RealNotification = window.Notification;
window.Notification = class {
  constructor(title, options = {}) {
    Object.assign(this, { title, body: options.body, tag: options.tag, icon: options.icon ?? null });
    this.closed = false;
    this.onclick = null;
    window.recorded.push(this);
  }
  close() { this.closed = true; }
  static get permission() { return RealNotification.permission; }
  static requestPermission() { return RealNotification.requestPermission(); }
};
let hidden = false;
window.setHidden = (value) => {
  hidden = value;
  document.dispatchEvent(new Event("visibilitychange"));
};
Object.defineProperty(Document.prototype, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
Object.defineProperty(Document.prototype, "hidden", { get: () => hidden });
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.beeps += 1;
  return createOscillator.call(this);
};
"""
RECORDED = (
    "() => window.recorded.map(({title, body, tag, icon, closed}) => ({title, body, tag, icon, closed}))"
)
NOTIFIER = "/static/app/notifier.js"
STORE_CHATS = "/static/app/store-chats.js"  # the unread total and a chat's notify level


async def recording_page(open_page: Any, base_url: str, account: Account) -> Page:
    """A signed-in page whose notifications are recorded, with the permission granted."""
    page = await open_page(account.nickname)
    await page.context.grant_permissions(["notifications"], origin=base_url)
    await page.context.add_init_script(RECORDER)
    await sign_in(page, base_url, account)
    return page


async def settings(page: Page, **wanted: bool) -> None:
    """Set the switches of Settings' Notifications panel (desktop, previews, sound), which the avatar
    menu's Notifications button opens, then close Settings."""
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("notify-settings-button").click()
    dialog = page.get_by_test_id("settings-dialog")
    await expect(dialog.get_by_test_id("settings-notifications")).to_be_visible()
    await expect(dialog.get_by_test_id("settings-tab-notifications")).to_be_focused()
    for name, on in wanted.items():
        await dialog.get_by_test_id(f"notify-{name}").set_checked(on)
        await expect(dialog.get_by_test_id(f"notify-{name}")).to_be_checked(checked=on)
    await shot(page, "notification-settings")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()


async def post(base_url: str, sender: Account, chat_id: int, text: str) -> int:
    body = {"content": text}
    path = f"/api/chats/{chat_id}/messages"
    return (await rest(base_url, "POST", path, body, token=sender.token, status=201))["id"]


async def received(page: Page, title: str, text: str) -> None:
    """The chat list shows the message: the client has taken it in (and decided on a notification)."""
    await expect(chat_item(page, title).get_by_test_id("chat-preview")).to_have_text(text)


async def test_notifications_follow_the_rules_and_open_the_chat(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    group_id = await new_group(daphne_url, ann, "Lunch club", ben)
    chats = await rest(daphne_url, "GET", "/api/chats", token=ben.token, status=200)
    private_id = next(chat["id"] for chat in chats if chat["type"] == "private")
    page = await recording_page(open_page, daphne_url, ann)

    # Off until turned on: nothing yet, though the browser would allow it.
    await post(daphne_url, ben, private_id, "Before")
    await received(page, "Ben", "Before")
    await expect(page).to_have_title("(1) IM-Suite")
    assert await page.evaluate(RECORDED) == []
    await settings(page, desktop=True)
    stored = await page.evaluate(f"() => localStorage.getItem('imsuite.notifications.{ann.id}')")
    assert stored == '{"desktop":true,"previews":true,"sound":false}'

    # The chat list is open, no chat: one notification, then the next replaces it with a count.
    await post(daphne_url, ben, private_id, "Lunch at noon?")
    await received(page, "Ben", "Lunch at noon?")
    tag = f"imsuite-chat-{private_id}"
    first = {"title": "Ben", "body": "Lunch at noon?", "tag": tag, "icon": None, "closed": False}
    assert await page.evaluate(RECORDED) == [first]
    await expect(page).to_have_title("(2) IM-Suite")
    assert (await page.locator("link[rel=icon]").get_attribute("href")).startswith("data:image/svg+xml,")
    await post(daphne_url, ben, private_id, "Or at one?")
    await received(page, "Ben", "Or at one?")
    second = {**first, "body": "2 new messages\nOr at one?"}
    assert await page.evaluate(RECORDED) == [first, second]
    await expect(page).to_have_title("(3) IM-Suite")

    # A click opens the chat, which reads it: the count and the dot go.
    await page.evaluate("() => window.recorded.at(-1).onclick()")
    await expect(page.get_by_test_id("chat-title")).to_have_text("Ben")
    await expect(page).to_have_title("IM-Suite")
    assert await page.locator("link[rel=icon]").get_attribute("href") == "data:,"
    assert (await page.evaluate(RECORDED))[-1]["closed"] is True

    # The open chat of a page in view: nothing.
    await post(daphne_url, ben, private_id, "Here now")
    await received(page, "Ben", "Here now")
    await expect(page.get_by_test_id("message-text").last).to_have_text("Here now")
    assert len(await page.evaluate(RECORDED)) == 2
    await expect(page).to_have_title("IM-Suite")

    # The same chat, the page hidden: a new notification (its count starts again), closed once seen.
    await page.evaluate("() => window.setHidden(true)")
    await post(daphne_url, ben, private_id, "Are you there?")
    await received(page, "Ben", "Are you there?")
    assert (await page.evaluate(RECORDED))[2:] == [{**first, "body": "Are you there?"}]
    await expect(page).to_have_title("(1) IM-Suite")
    await page.evaluate("() => window.setHidden(false)")
    await expect(page).to_have_title("IM-Suite")
    assert (await page.evaluate(RECORDED))[2]["closed"] is True

    # Previews off, sound on (the switch plays it once): a group's message says only that it came.
    await settings(page, previews=False, sound=True)
    assert await page.evaluate("() => window.beeps") == 1
    await post(daphne_url, ben, group_id, "The secret plan")
    await received(page, "Lunch club", "The secret plan")
    group_tag = f"imsuite-chat-{group_id}"
    hidden_text = {
        "title": "Ben in Lunch club",
        "body": "New message",
        "tag": group_tag,
        "icon": None,
        "closed": False,
    }
    assert (await page.evaluate(RECORDED))[3:] == [hidden_text]
    assert await page.evaluate("() => window.beeps") == 2

    # The chat's notify setting (from the chat list, when the server sends it): muted says nothing;
    # a mute that has ended is "all" again.
    muted = f"""async (until) => {{
        const {{ state }} = await import("/static/app/store.js");
        Object.assign(state.chats.get({group_id}), {{ notify: "muted", notify_until: until }});
    }}"""
    await page.evaluate(muted, None)
    await post(daphne_url, ben, group_id, "Quiet please")
    await received(page, "Lunch club", "Quiet please")
    assert len(await page.evaluate(RECORDED)) == 4
    await page.evaluate(muted, "2020-01-01T00:00:00Z")
    await post(daphne_url, ben, group_id, "Loud again")
    await received(page, "Lunch club", "Loud again")
    assert (await page.evaluate(RECORDED))[4:] == [{**hidden_text, "body": "2 new messages"}]


async def test_the_title_count_and_the_rule(open_page: Any, daphne_url: str) -> None:
    """The notifier's pure parts, run in the page: the title, the unread total, the chat's level."""
    page = await open_page("unit")
    await page.goto(daphne_url + "/")
    answers = await page.evaluate(
        """async ([notifier, storeChats]) => {
            const n = { ...(await import(notifier)), ...(await import(storeChats)) };
            const past = "2020-01-01T00:00:00Z", future = "2999-01-01T00:00:00Z";
            const chats = [
                { unread_count: 2 },
                { unread_count: 1, notify: "muted", notify_until: null },
                { unread_count: 8, notify: "muted", notify_until: future },
                { unread_count: 4, notify: "muted", notify_until: past },
                { unread_count: 5, notify: "mentions" },
                { unread_count: 0, notify: "all" },
            ];
            const message = (mentions) => ({ mentions });
            return {
                titles: [n.titled("IM-Suite", 0), n.titled("IM-Suite", 3), n.titled("IM-Suite", 120)],
                total: n.unreadTotal(chats),
                none: n.unreadTotal([]),
                levels: chats.map((chat) => n.notifyLevel(chat)).concat(
                    n.notifyLevel(undefined), n.notifyLevel({ notify: "nonsense" }),
                    n.notifyLevel({ notify: "mentions", notify_until: past })),
                allows: [
                    n.allows("all", message(undefined), 7),
                    n.allows("muted", message([7]), 7),
                    n.allows("mentions", message([7]), 7),
                    n.allows("mentions", message(["all"]), 7),
                    n.allows("mentions", message([8]), 7),
                    n.allows("mentions", message(undefined), 7),
                ],
            };
        }""",
        [NOTIFIER, STORE_CHATS],
    )
    assert answers == {
        "titles": ["IM-Suite", "(3) IM-Suite", "(120) IM-Suite"],
        "total": 2 + 4 + 5,
        "none": 0,
        "levels": ["all", "muted", "muted", "all", "mentions", "all", "all", "all", "all"],
        "allows": [True, False, True, True, False, False],
    }
