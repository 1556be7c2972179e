"""Reactions in the web client (issue 22): Ann reacts from the picker, Ben sees it live and adds
his own to the chip, Ann toggles hers off; the counts, the highlight and the tooltip follow, and
the server holds exactly what the pages show."""

from typing import Any

from playwright.async_api import expect

from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE, acknowledged, messages, open_chat, rest, send

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

HEART, PARTY = "❤️", "🎉"


async def test_a_reaction_is_seen_live_and_toggled(open_page: Any, daphne_url: str) -> None:
    ann, ben, ann_page, ben_page = await test_browser.friends(open_page, daphne_url)
    await open_chat(ann_page, "Ben")
    await open_chat(ben_page, "Ann")
    await send(ann_page, "react to me")
    await acknowledged(ann_page, 1)
    await acknowledged(ben_page, 1)

    ann_message = messages(ann_page).first
    await ann_message.get_by_test_id("add-reaction").click()
    picker = ann_message.get_by_test_id("reaction-picker")
    await expect(picker).to_be_visible()
    await picker.locator(f"[data-testid=reaction-option][data-emoji='{HEART}']").click()
    await expect(picker).to_be_hidden()
    ann_heart = ann_message.locator(f"[data-testid=reaction-chip][data-emoji='{HEART}']")
    await expect(ann_heart).to_have_attribute("data-count", "1")
    await expect(ann_heart).to_have_attribute("aria-pressed", "true")

    ben_heart = messages(ben_page).first.locator(f"[data-testid=reaction-chip][data-emoji='{HEART}']")
    await expect(ben_heart).to_have_attribute("data-count", "1")  # live, over /ws
    await expect(ben_heart).to_have_attribute("aria-pressed", "false")
    await expect(ben_heart).to_have_attribute("title", f"{HEART}: Ann")
    await ben_heart.click()
    await expect(ben_heart).to_have_attribute("data-count", "2")
    await expect(ben_heart).to_have_attribute("aria-pressed", "true")
    await expect(ann_heart).to_have_attribute("data-count", "2")
    await expect(ann_heart).to_have_attribute("aria-pressed", "true")  # still hers too
    await expect(ann_heart).to_have_attribute("title", f"{HEART}: You, Ben")

    # any emoji typed into the picker, from the keyboard
    await messages(ben_page).first.get_by_test_id("add-reaction").click()
    await messages(ben_page).first.get_by_test_id("reaction-input").fill(PARTY)
    await messages(ben_page).first.get_by_test_id("reaction-input").press("Enter")
    ann_party = ann_message.locator(f"[data-testid=reaction-chip][data-emoji='{PARTY}']")
    await expect(ann_party).to_have_attribute("data-count", "1")
    await expect(ann_party).to_have_attribute("aria-pressed", "false")

    await ann_heart.click()  # Ann takes hers back
    await expect(ann_heart).to_have_attribute("data-count", "1")
    await expect(ann_heart).to_have_attribute("aria-pressed", "false")
    await expect(ben_heart).to_have_attribute("data-count", "1")
    await expect(ben_heart).to_have_attribute("aria-pressed", "true")

    message_id = int(await ann_message.get_attribute("data-message-id"))
    listed = await rest(
        daphne_url, "GET", f"/api/messages/{message_id}/reactions", token=ann.token, status=200
    )
    assert [(r["emoji"], [u["id"] for u in r["users"]]) for r in listed["reactions"]] == [
        (HEART, [ben.id]),
        (PARTY, [ben.id]),
    ]

    await ann_page.reload()  # history brings them back, with what is Ann's
    await open_chat(ann_page, "Ben")
    chips = messages(ann_page).first.get_by_test_id("reaction-chip")
    await expect(chips).to_have_count(2)
    await expect(chips.first).to_have_attribute("data-count", "1")
    await expect(chips.first).to_have_attribute("aria-pressed", "false")
