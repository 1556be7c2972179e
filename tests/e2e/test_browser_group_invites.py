"""Group bans, ownership transfer and invite links in the web client (issue 21 point 4): a link
opened by someone who is nobody's friend (signed out first) joins them; an approval link's request
is approved in the panel; a banned member is told and their way back is refused until the ban is
lifted; the owner hands the group over."""

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    PASSWORD,
    WEB_CLIENT_MODULE,
    Account,
    befriend,
    chat_item,
    expect_connected,
    new_group,
    open_chat,
    rest,
    shot,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks


async def open_panel(page: Page, group: str) -> Any:
    await open_chat(page, group)
    await page.get_by_test_id("group-info").click()
    panel = page.get_by_test_id("group-panel")
    await expect(panel.get_by_test_id("group-name")).to_have_text(group)
    return panel


def member_row(panel: Any, account: Account) -> Any:
    return panel.locator(f"[data-testid=member][data-user-id='{account.id}']")


async def confirm(page: Page) -> None:
    await page.get_by_test_id("ask-ok").click()
    await expect(page.get_by_test_id("ask-dialog")).to_be_hidden()


async def test_an_invite_link_brings_in_a_stranger_and_an_approval_link_asks_first(
    open_page: Any, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    cat = await sign_up(daphne_url, "cat", "Cat")  # nobody's friend
    await new_group(daphne_url, ann, "Open house")
    ann_page = await test_browser.signed_in(open_page, daphne_url, ann)
    panel = await open_panel(ann_page, "Open house")

    # Ann makes a link for at most 5 people.
    invites = panel.get_by_test_id("invite-links")
    await invites.get_by_test_id("invite-max-uses").fill("5")
    await invites.get_by_test_id("invite-create").click()
    await expect(invites.get_by_test_id("invite-link")).to_have_count(1)
    await expect(invites.get_by_test_id("invite-uses")).to_have_text("0 of 5 uses · never expires")
    url = await invites.get_by_test_id("invite-url").input_value()
    assert url.startswith(f"{daphne_url}/#/invite/")

    # Cat, signed out, opens it: she signs in first, then sees the invitation and joins.
    cat_page = await open_page("Cat")
    await cat_page.goto(url)
    await cat_page.locator("#signin-username").fill(cat.username)
    await cat_page.locator("#signin-password").fill(PASSWORD)
    await cat_page.get_by_test_id("signin-submit").click()
    await expect_connected(cat_page)
    dialog = cat_page.get_by_test_id("invite-dialog")
    await expect(dialog.get_by_test_id("invite-group-name")).to_have_text("Open house")
    await expect(dialog).to_contain_text("1 member")
    await shot(cat_page, "22-invitation")
    await dialog.get_by_test_id("invite-join").click()
    await expect(dialog).to_be_hidden()
    await expect(cat_page.get_by_test_id("chat-title")).to_have_text("Open house")
    await expect(panel.get_by_test_id("member")).to_have_count(2)
    await expect(invites.get_by_test_id("invite-uses")).to_have_text("1 of 5 uses · never expires")
    await shot(ann_page, "21-invite-links")

    # An approval link: Dan asks to join, Ann approves in the panel, and Dan is in.
    dan = await sign_up(daphne_url, "dan", "Dan")
    await invites.get_by_test_id("invite-approval").check()
    await invites.get_by_test_id("invite-create").click()
    await expect(invites.get_by_test_id("invite-link")).to_have_count(2)
    approval_url = await invites.get_by_test_id("invite-url").first.input_value()
    dan_page = await test_browser.signed_in(open_page, daphne_url, dan)
    await dan_page.goto(approval_url)
    dan_dialog = dan_page.get_by_test_id("invite-dialog")
    await dan_dialog.get_by_test_id("invite-comment").fill("Cat sent me")
    await dan_dialog.get_by_test_id("invite-ask").click()
    await expect(dan_dialog.get_by_test_id("invite-requested")).to_be_visible()
    request = panel.locator(f"[data-testid=join-request][data-user-id='{dan.id}']")
    await expect(request).to_contain_text("Cat sent me")
    await request.get_by_test_id("approve").click()
    await expect(panel.get_by_test_id("member")).to_have_count(3)
    await expect(chat_item(dan_page, "Open house")).to_be_visible()


async def test_a_banned_member_is_told_and_cannot_come_back_until_lifted(
    open_page: Any, daphne_url: str
) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    group_id = await new_group(daphne_url, ann, "Strict club", ben)
    link = await rest(daphne_url, "POST", f"/api/groups/{group_id}/invites", {}, token=ann.token, status=201)
    await expect(chat_item(ben_page, "Strict club")).to_be_visible()
    panel = await open_panel(ann_page, "Strict club")

    # Ann bans Ben for good (the default) from his menu.
    row = member_row(panel, ben)
    await row.get_by_test_id("member-actions").click()
    await expect(row.get_by_label("Ban for")).to_have_value("")
    await row.get_by_test_id("ban").click()
    await confirm(ann_page)
    await expect(row).to_have_count(0)
    banned = panel.get_by_test_id("banned-person")
    await expect(banned).to_have_count(1)
    await expect(banned).to_contain_text("Ben")
    await expect(banned).to_contain_text("for good")
    await shot(ann_page, "23-banned-list")
    await expect(ben_page.get_by_test_id("toast")).to_contain_text(["You were banned from “Strict club”."])

    # Ben's way back through the link is refused, and nothing changed.
    await ben_page.goto(f"{daphne_url}/#/invite/{link['token']}")
    dialog = ben_page.get_by_test_id("invite-dialog")
    await expect(dialog.get_by_test_id("invite-error")).to_have_text("You are banned from this group.")
    reply = await rest(
        daphne_url, "POST", f"/api/invites/{link['token']}/join", {}, token=ben.token, status=403
    )
    assert reply["details"] == {"reason": "banned"}

    # Lifted, he may join again.
    await banned.get_by_test_id("lift-ban").click()
    await expect(panel.get_by_test_id("banned-list")).to_contain_text("Nobody is banned.")
    await rest(daphne_url, "POST", f"/api/invites/{link['token']}/join", {}, token=ben.token, status=201)
    await expect(member_row(panel, ben)).to_have_count(1)


async def test_the_owner_hands_the_group_over_and_stays_as_an_admin(open_page: Any, daphne_url: str) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await befriend(daphne_url, ann, await sign_up(daphne_url, "cat", "Cat"))
    await new_group(daphne_url, ann, "Handover", ben)
    panel = await open_panel(ann_page, "Handover")
    row = member_row(panel, ben)
    await row.get_by_test_id("member-actions").click()
    await row.get_by_test_id("transfer").click()
    await expect(ann_page.get_by_test_id("ask-dialog")).to_contain_text("Make Ben the owner of this group?")
    await confirm(ann_page)
    await expect(row.get_by_test_id("member-role")).to_have_text("Owner")
    await expect(member_row(panel, ann).get_by_test_id("member-role")).to_have_text("Admin")
    await expect(panel.get_by_test_id("leave")).to_be_visible()  # no longer "Dissolve group"
    ben_panel = await open_panel(ben_page, "Handover")
    await expect(member_row(ben_panel, ben).get_by_test_id("member-role")).to_have_text("Owner")
    await expect(ben_panel.get_by_test_id("dissolve")).to_be_visible()
