"""The web client's polish (issue 22, 6): the colour theme (the system's by default, or chosen in
Settings > Appearance and kept), the "new messages" divider, the jump-to-latest button with its
count, a message time's full date on hover, Up-arrow editing one's last message, the Ctrl+K quick
switcher, the unread count in the tab title, and where the focus lands after each view change."""

import re
from datetime import datetime
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    PHONE,
    WEB_CLIENT_MODULE,
    Account,
    acknowledged,
    befriend,
    chat_item,
    message_texts,
    messages,
    new_group,
    open_chat,
    rest,
    send,
    sign_in,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

LIGHT_BG, DARK_BG = "rgb(243, 245, 249)", "rgb(16, 20, 27)"  # app.css's --bg in each theme


async def signed_in(open_page: Any, base_url: str, account: Account, **kwargs: Any) -> Page:
    page = await open_page(account.nickname, **kwargs)
    await sign_in(page, base_url, account)
    return page


async def background(page: Page) -> str:
    return await page.evaluate("getComputedStyle(document.documentElement).backgroundColor")


async def private_chat_id(base_url: str, account: Account) -> int:
    chats = await rest(base_url, "GET", "/api/chats", token=account.token, status=200)
    return next(chat["id"] for chat in chats if chat["type"] == "private")


async def choose_theme(page: Page, theme: str) -> None:
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await page.get_by_test_id("settings-tab-appearance").click()
    await page.get_by_test_id(f"theme-{theme}").check()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("settings-dialog")).to_be_hidden()


async def test_dark_mode_follows_the_system_until_a_theme_is_chosen(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    page = await open_page("Ann")
    await page.emulate_media(color_scheme="dark")
    await sign_in(page, daphne_url, ann)
    html = page.locator("html")
    await expect(html).not_to_have_attribute("data-theme", re.compile(".*"))
    assert await background(page) == DARK_BG  # the system's choice, with nothing chosen here
    await page.emulate_media(color_scheme="light")
    assert await background(page) == LIGHT_BG

    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await page.get_by_test_id("settings-tab-appearance").click()
    await expect(page.get_by_test_id("theme-system")).to_be_checked()
    await page.get_by_test_id("theme-dark").check()
    await expect(html).to_have_attribute("data-theme", "dark")
    assert await background(page) == DARK_BG  # chosen: the system's light no longer counts
    await page.keyboard.press("Escape")

    # Kept in this browser: a reload starts dark, and the panel shows the choice.
    await page.reload()
    await expect(page.get_by_test_id("me-name")).to_have_text("Ann")
    await expect(html).to_have_attribute("data-theme", "dark")
    assert await background(page) == DARK_BG
    # Applied before the client's modules run (no flash of the light theme): even without them.
    await page.route("**/static/app/main.js", lambda route: route.abort())
    await page.reload()
    await expect(page.locator("#main-view")).to_be_hidden()
    await expect(html).to_have_attribute("data-theme", "dark")
    await page.unroute("**/static/app/main.js")
    await page.reload()
    await expect(page.get_by_test_id("me-name")).to_have_text("Ann")
    await choose_theme(page, "light")
    await expect(html).to_have_attribute("data-theme", "light")
    await page.emulate_media(color_scheme="dark")
    assert await background(page) == LIGHT_BG
    await choose_theme(page, "system")
    await expect(html).not_to_have_attribute("data-theme", re.compile(".*"))
    assert await background(page) == DARK_BG
    assert await page.evaluate("localStorage.getItem('imsuite.theme')") is None


async def test_divider_jump_to_latest_full_date_and_title_count(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    chat_id = await private_chat_id(daphne_url, ann)
    url = f"/api/chats/{chat_id}/messages"
    first = await rest(daphne_url, "POST", url, {"content": "read already"}, token=ann.token, status=201)
    for n in range(1, 25):  # within the sending rate limit (30 in 10 s)
        await rest(daphne_url, "POST", url, {"content": f"ben {n}"}, token=ben.token, status=201)

    page = await signed_in(open_page, daphne_url, ann)
    await expect(page).to_have_title("(24) IM-Suite")
    await open_chat(page, "Ben")
    await expect(page).to_have_title("IM-Suite")  # read on opening
    divider = page.get_by_test_id("new-divider")
    await expect(divider).to_have_text("New messages")
    await expect(divider).to_have_count(1)
    after = await divider.evaluate(
        "el => el.nextElementSibling.querySelector('[data-testid=message-text]').textContent"
    )
    before = await divider.evaluate(
        "el => el.previousElementSibling.querySelector('[data-testid=message-text]').textContent"
    )
    assert (before, after) == ("read already", "ben 1")
    await expect(divider).to_be_in_viewport()  # opened at the first unread message, not the bottom

    # Scrolled up: the jump button, counting what arrives meanwhile.
    jump = page.get_by_test_id("jump-latest")
    await expect(jump).to_be_visible()
    await expect(jump.get_by_test_id("jump-latest-count")).to_be_hidden()
    await expect(jump).to_have_attribute("aria-label", "Jump to the latest messages")
    for n in (25, 26):
        await rest(daphne_url, "POST", url, {"content": f"ben {n}"}, token=ben.token, status=201)
    await expect(messages(page)).to_have_count(27)
    await expect(jump.get_by_test_id("jump-latest-count")).to_have_text("2")
    await expect(jump).to_have_attribute("aria-label", "Jump to the latest messages (2 new)")
    await jump.click()
    await expect(jump).to_be_hidden()
    await expect(message_texts(page).last).to_have_text("ben 26")
    await expect(message_texts(page).last).to_be_in_viewport()
    await expect(page.get_by_test_id("composer-input")).to_be_focused()
    # At the bottom, a new message keeps it there and shows no button.
    await rest(daphne_url, "POST", url, {"content": "ben 27"}, token=ben.token, status=201)
    await expect(message_texts(page).last).to_have_text("ben 27")
    await expect(message_texts(page).last).to_be_in_viewport()
    await expect(jump).to_be_hidden()

    # The full date, localized, on the time of a message.
    time = page.locator(f"[data-message-id='{first['id']}'] [data-testid=message-time]")
    created = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))
    await expect(time).to_have_attribute("datetime", first["created_at"])
    day = f"{created:%A}, {created:%B} {created.day}, {created.year}"
    await expect(time).to_have_attribute("title", re.compile(rf"^{day} at \d{{1,2}}:\d{{2}}:\d{{2}}\s[AP]M"))
    listed = chat_item(page, "Ben").get_by_test_id("chat-item-time")  # the chat list's time too
    await expect(listed).to_have_attribute("title", re.compile(r"^\w+day, \w+ \d{1,2}, \d{4} at \d"))

    # Another chat opened and back: the divider is gone (everything was read).
    await new_group(daphne_url, ann, "Club", ben)
    await open_chat(page, "Club")
    await open_chat(page, "Ben")
    await expect(divider).to_have_count(0)


async def test_up_arrow_in_the_empty_composer_edits_ones_last_message(
    open_page: Any, daphne_url: str
) -> None:
    _, _, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await open_chat(ann_page, "Ben")
    await open_chat(ben_page, "Ann")
    await send(ann_page, "first")
    await send(ann_page, "secnd")
    await acknowledged(ann_page, 2)
    await send(ben_page, "from Ben")
    await expect(messages(ann_page)).to_have_count(3)

    composer = ann_page.get_by_test_id("composer-input")
    await composer.fill("not empty")
    await composer.press("ArrowUp")
    await expect(ann_page.get_by_test_id("compose-context")).to_be_hidden()
    await expect(composer).to_have_value("not empty")
    await composer.fill("")
    await composer.press("ArrowUp")
    await expect(ann_page.get_by_test_id("compose-context")).to_contain_text("Editing your message")
    await expect(composer).to_have_value("secnd")  # the newest of hers, not Ben's newer one
    await composer.fill("second")
    await composer.press("Enter")
    for page in (ann_page, ben_page):
        await expect(message_texts(page)).to_have_text(["first", "second", "from Ben"])
        await expect(page.get_by_test_id("edited")).to_have_count(1)

    # Ben's Up-arrow finds his own message.
    await ben_page.get_by_test_id("composer-input").press("ArrowUp")
    await expect(ben_page.get_by_test_id("composer-input")).to_have_value("from Ben")
    await ben_page.get_by_test_id("composer-input").press("Escape")
    await expect(ben_page.get_by_test_id("compose-context")).to_be_hidden()


async def test_ctrl_k_switches_chats_and_the_focus_follows(open_page: Any, daphne_url: str) -> None:
    ann, ben, page, _ = await test_browser.friends(open_page, daphne_url)
    await new_group(daphne_url, ann, "Chess club", ben)
    await new_group(daphne_url, ann, "Choir", ben)
    await expect(chat_item(page, "Choir")).to_be_visible()

    switcher, field = page.get_by_test_id("quick-switcher"), page.get_by_test_id("quick-switcher-input")
    options = page.get_by_test_id("quick-switcher-option")
    await page.keyboard.press("Control+k")
    await expect(switcher).to_be_visible()
    await expect(field).to_be_focused()
    await expect(options).to_have_text(["Choir", "Chess club", "Ben"])  # the most recent first
    await field.fill("ch")
    await expect(options).to_have_text(["Choir", "Chess club"])
    await expect(options.first).to_have_attribute("aria-selected", "true")
    await field.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await expect(field).to_have_attribute("aria-activedescendant", await options.nth(1).get_attribute("id"))
    await field.press("Enter")
    await expect(switcher).to_be_hidden()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Chess club")
    await expect(page.get_by_test_id("composer-input")).to_be_focused()  # opening a chat: its composer

    # Escape closes it and gives the focus back to where it was.
    await page.get_by_test_id("chat-filter").focus()
    await page.keyboard.press("Control+k")
    await field.fill("zzz")
    await expect(page.get_by_test_id("quick-switcher-list")).to_have_text("No chat by that name")
    await page.keyboard.press("Escape")
    await expect(switcher).to_be_hidden()
    await expect(page.get_by_test_id("chat-filter")).to_be_focused()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Chess club")

    # Closing a dialog gives the focus back to what opened it.
    await page.get_by_test_id("group-info").click()
    await page.get_by_test_id("group-panel-close").click()
    await expect(page.get_by_test_id("group-info")).to_be_focused()
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("me-menu")).to_be_focused()  # the settings button is in its closed menu


async def test_back_from_a_chat_on_a_phone_focuses_its_entry(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    page = await signed_in(open_page, daphne_url, ann, viewport=PHONE)
    await open_chat(page, "Ben")
    await expect(page.get_by_test_id("composer-input")).to_be_focused()
    await page.get_by_role("button", name="Back to chats").click()
    await expect(chat_item(page, "Ben")).to_be_focused()
