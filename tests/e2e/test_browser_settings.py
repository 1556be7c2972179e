"""The web client's Settings (issue 21): the dialog's tabs by click and arrow keys, the profile
panel (display name and bio saved, a refusal shown beside its field), the language panel, and
blocking: from the contacts, a blocked person's group message collapsed for the blocker (shown on
request), a private message to the blocker refused with a clear message, and unblocking from the
Blocked people panel."""

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    WEB_CLIENT_MODULE,
    Account,
    befriend,
    chat_item,
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

PANELS = [
    "profile",
    "account",
    "two-factor",
    "sessions",
    "blocked",
    "notifications",
    "language",
    "appearance",
    "data",
]


async def signed_in(open_page: Any, base_url: str, account: Account) -> Page:
    page = await open_page(account.nickname)
    await sign_in(page, base_url, account)
    return page


async def open_settings(page: Page, panel: str | None = None) -> None:
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await expect(page.get_by_test_id("settings-dialog")).to_be_visible()
    if panel:
        await page.get_by_test_id(f"settings-tab-{panel}").click()
    await shown(page, panel or "profile")


async def shown(page: Page, panel: str) -> None:
    """Exactly this panel is shown, its tab selected."""
    for name in PANELS:
        await expect(page.get_by_test_id(f"settings-{name}")).to_be_visible(visible=name == panel)
        selected = "true" if name == panel else "false"
        await expect(page.get_by_test_id(f"settings-tab-{name}")).to_have_attribute("aria-selected", selected)


async def test_tabs_by_click_and_arrow_keys(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    page = await signed_in(open_page, daphne_url, ann)
    await open_settings(page)
    await expect(page.get_by_test_id("settings-tab-profile")).to_be_focused()
    await page.get_by_test_id("settings-tab-blocked").click()
    await shown(page, "blocked")
    await page.keyboard.press("ArrowDown")
    await shown(page, "notifications")
    await expect(page.get_by_test_id("settings-tab-notifications")).to_be_focused()
    for _ in range(3):
        await page.keyboard.press("ArrowUp")
    await shown(page, "two-factor")
    await page.keyboard.press("ArrowLeft")
    await shown(page, "account")
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")  # from the first tab round to the last
    await shown(page, "data")
    await expect(page.get_by_test_id("settings-tab-data")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("settings-dialog")).to_be_hidden()

    # The language panel switches the interface as the footer's switch does.
    await open_settings(page, "language")
    await expect(page.get_by_test_id("settings-language-select")).to_have_value("en")
    await page.get_by_test_id("settings-language-select").select_option("zh-hans")
    await page.get_by_test_id("settings-language-submit").click()
    await expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    await expect(page.get_by_test_id("settings-button")).to_have_text("设置")


async def test_profile_edit(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    page = await signed_in(open_page, daphne_url, ann)
    await open_settings(page, "profile")
    panel = page.get_by_test_id("settings-profile")
    await expect(panel.get_by_test_id("profile-nickname")).to_have_value("Ann")
    await expect(panel.get_by_test_id("profile-bio")).to_have_value("")

    await panel.get_by_test_id("profile-nickname").fill("A" * 65)
    await panel.get_by_test_id("profile-save").click()
    await expect(panel.get_by_test_id("profile-nickname-error")).to_have_text(
        "This is too long: at most 64 characters."
    )
    await expect(panel.get_by_test_id("profile-nickname")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id("me-name")).to_have_text("Ann")

    await panel.get_by_test_id("profile-nickname").fill("Annie")
    await panel.get_by_test_id("profile-bio").fill("Likes tea.")
    await panel.get_by_test_id("profile-save").click()
    await expect(panel.get_by_test_id("profile-status")).to_have_text("Your profile is saved.")
    await expect(panel.get_by_test_id("profile-nickname-error")).to_have_text("")
    await expect(page.get_by_test_id("me-name")).to_have_text("Annie")
    me = await rest(daphne_url, "GET", "/api/users/me", token=ann.token, status=200)
    assert (me["nickname"], me["bio"]) == ("Annie", "Likes tea.")


async def test_block_collapse_refuse_and_unblock(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    group_id = await new_group(daphne_url, ann, "Tea room", ben)
    page = await signed_in(open_page, daphne_url, ann)
    bens = await signed_in(open_page, daphne_url, ben)

    # Ann blocks Ben from her contacts, after confirming.
    await page.get_by_test_id("contacts-button").click()
    person = page.get_by_test_id("friend-list").get_by_test_id("person").filter(has_text="Ben")
    await person.get_by_test_id("block-person").click()
    await expect(page.get_by_test_id("ask-dialog")).to_contain_text("Block Ben?")
    await page.get_by_test_id("ask-ok").click()
    await expect(person.get_by_test_id("blocked-tag")).to_be_visible()
    await expect(person.get_by_test_id("message-friend")).to_have_count(0)
    await page.keyboard.press("Escape")

    # Ben's message in their group is collapsed for Ann, and shown when she asks.
    body = {"content": "Anyone for tea?"}
    await rest(daphne_url, "POST", f"/api/chats/{group_id}/messages", body, token=ben.token, status=201)
    await expect(chat_item(page, "Tea room")).to_be_visible()
    await open_chat(page, "Tea room")
    collapsed = page.get_by_test_id("message-list").locator("[data-collapsed=true]")
    await expect(collapsed).to_have_count(1)
    await expect(collapsed).to_contain_text("Message from a blocked person")
    await expect(page.get_by_test_id("message-list").get_by_text("Anyone for tea?")).to_have_count(0)
    await collapsed.get_by_test_id("show-blocked-message").click()
    await expect(page.get_by_test_id("message-text")).to_have_text(["Anyone for tea?"])
    # The group's member list offers Unblock for Ben (Block for anyone not blocked).
    await page.get_by_test_id("group-info").click()
    ben_row = page.get_by_test_id("group-panel").locator(f"[data-testid=member][data-user-id='{ben.id}']")
    await ben_row.get_by_test_id("member-actions").click()
    await expect(ben_row.get_by_test_id("unblock-member")).to_be_visible()
    await expect(ben_row.get_by_test_id("block-member")).to_have_count(0)
    await page.get_by_test_id("group-info").click()

    # Ann's private chat with Ben says why she cannot write.
    await open_chat(page, "Ben")
    notice = page.get_by_test_id("compose-blocked")
    await expect(notice).to_have_text(
        "You blocked this person: unblock them (Settings, Blocked people) to write to each other."
    )
    await expect(page.get_by_test_id("composer-input")).to_be_disabled()

    # Ben's private message to Ann is refused with a clear message.
    await open_chat(bens, "Ann")
    await send(bens, "Hello?")
    await expect(bens.get_by_test_id("message")).to_have_attribute("data-status", "failed")
    await expect(bens.get_by_test_id("toast").last).to_contain_text(
        "You cannot reach this person: one of you has blocked the other."
    )

    # Ann unblocks Ben in Settings; both can write again.
    await open_settings(page, "blocked")
    row = page.get_by_test_id("blocked-person")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Ben")
    await row.get_by_test_id("unblock").click()
    await expect(page.get_by_test_id("blocked-list")).to_have_text("You have not blocked anyone.")
    await page.keyboard.press("Escape")
    await expect(notice).to_be_hidden()
    await expect(page.get_by_test_id("composer-input")).to_be_enabled()
    await bens.get_by_test_id("retry").click()
    await expect(bens.get_by_test_id("message")).to_have_attribute("data-status", "sent")
    await expect(page.get_by_test_id("message-text")).to_have_text(["Hello?"])
