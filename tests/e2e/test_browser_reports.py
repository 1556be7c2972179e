"""Reports in the web client (issue 21): a member reports a message from its menu (and a person
from the member list); the group's owner, with the group panel open, sees the report arrive live
with its evidence and removes the message from it in one click; the reporter is told at once."""

from typing import Any

from playwright.async_api import expect

from tests.e2e import test_browser
from tests.e2e.browser import (
    WEB_CLIENT_MODULE,
    befriend,
    message_action,
    message_texts,
    new_group,
    open_chat,
    rest,
    shot,
    sign_in,
    sign_up,
)

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

SPAM = "Buy cheap watches at spam.example"


async def test_report_reaches_the_owner_who_acts_and_the_reporter_is_told(
    open_page: Any, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben = await sign_up(daphne_url, "ben", "Ben")
    cat = await sign_up(daphne_url, "cat", "Cat")
    for friend in (ben, cat):
        await befriend(daphne_url, ann, friend)
    group_id = await new_group(daphne_url, ann, "Watch club", ben, cat)
    body = {"content": SPAM}
    sent = await rest(
        daphne_url, "POST", f"/api/chats/{group_id}/messages", body, token=ben.token, status=201
    )

    ann_page = await open_page("Ann")
    await sign_in(ann_page, daphne_url, ann)
    await open_chat(ann_page, "Watch club")
    await ann_page.get_by_test_id("group-info").click()
    panel = ann_page.get_by_test_id("group-panel")
    await expect(panel.get_by_test_id("group-name")).to_have_text("Watch club")
    await expect(panel.get_by_test_id("group-reports")).to_have_count(0)

    # Cat reports Ben's message from its menu.
    cat_page = await open_page("Cat")
    await sign_in(cat_page, daphne_url, cat)
    await open_chat(cat_page, "Watch club")
    await expect(message_texts(cat_page)).to_have_text([SPAM])
    await message_action(cat_page.get_by_test_id("message").first, "report")
    dialog = cat_page.get_by_test_id("report-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_test_id("report-what")).to_have_text(SPAM)
    await dialog.get_by_test_id("report-reason").select_option("spam")
    await dialog.get_by_test_id("report-comment").fill("Ads again")
    await shot(cat_page, "report-dialog")
    await dialog.get_by_test_id("report-submit").click()
    await expect(dialog).to_be_hidden()
    await expect(cat_page.get_by_test_id("toast").filter(has_text="your report was sent")).to_have_count(1)

    # Ann's open panel shows it live, with the evidence, and she removes the message from it.
    reports = panel.get_by_test_id("group-reports")
    await expect(reports.get_by_test_id("group-reports-title")).to_have_text("Reports (1)")
    item = reports.get_by_test_id("group-report")
    await expect(item.get_by_test_id("report-content")).to_have_text(SPAM)
    await expect(item).to_contain_text("Ads again")
    await expect(item.get_by_test_id("report-mute")).to_be_visible()
    await expect(item.get_by_test_id("report-kick")).to_be_visible()
    await shot(ann_page, "group-reports")
    await item.get_by_test_id("report-recall").click()
    await expect(panel.get_by_test_id("group-reports")).to_have_count(0)

    # Cat is told at once, and sees the message gone.
    told = cat_page.get_by_test_id("toast").filter(has_text="Your report was acted on")
    await expect(told).to_contain_text("Outcome: the message was removed.")
    await expect(cat_page.locator(f"[data-message-id='{sent['id']}'] .deleted")).to_be_visible()
    await shot(cat_page, "report-outcome")

    # Cat reports Ben himself from the member list; her reports list both, with their status.
    await cat_page.get_by_test_id("group-info").click()
    ben_row = cat_page.get_by_test_id("group-panel").locator(f"[data-testid=member][data-user-id='{ben.id}']")
    await ben_row.get_by_test_id("member-actions").click()
    await ben_row.get_by_test_id("report-member").click()
    await expect(dialog.get_by_test_id("report-what")).to_have_text("Ben")
    await dialog.get_by_test_id("report-reason").select_option("harassment")
    await dialog.get_by_test_id("report-submit").click()
    await expect(dialog).to_be_hidden()
    mine = await rest(daphne_url, "GET", "/api/reports", token=cat.token, status=200)
    assert [(r["kind"], r["target_id"], r["reason"], r["status"], r["outcome"]) for r in mine] == [
        ("user", ben.id, "harassment", "open", None),
        ("message", sent["id"], "spam", "actioned", "recall"),
    ]
