"""The accessibility check (issue 22, 6): axe-core, from npm (tests/axe, installed by `npm ci` from
its lock file when missing), run in Chromium over the sign-in page, the chat page with a chat open,
the group panel, the settings dialog and the quick switcher, in the light theme and the dark one.
No violation of impact moderate or higher may remain.

axe is put into the page with page.evaluate (the DevTools protocol), not as a <script>: the page's
Content-Security-Policy, which allows scripts only from the site, stays enforced during the check."""

import subprocess
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e import test_browser
from tests.e2e.browser import WEB_CLIENT_MODULE, Account, befriend, new_group, open_chat, sign_in, sign_up
from tests.e2e.conftest import ROOT
from tests.e2e.sso import NPM_CI_TIMEOUT_SECONDS, node_tools

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

AXE_DIR = ROOT / "tests" / "axe"
REPORTED_IMPACTS = {"moderate", "serious", "critical"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    _, npm = node_tools()
    if not (AXE_DIR / "node_modules" / ".package-lock.json").is_file():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True, timeout=NPM_CI_TIMEOUT_SECONDS
        )
    return (AXE_DIR / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


async def violations(page: Page, axe_source: str) -> list[str]:
    """What axe finds on the page as it is now (impact moderate or higher), one line per element."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source)
    results = await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    assert any(rule["id"] == "color-contrast" for rule in results["passes"]), "axe checked no colours"
    return [
        f"{rule['id']} ({rule['impact']}): {node['target']} {node['failureSummary']}"
        for rule in results["violations"]
        if rule["impact"] in REPORTED_IMPACTS
        for node in rule["nodes"]
    ]


async def check_both_themes(page: Page, axe_source: str, where: str) -> None:
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        found = await violations(page, axe_source)
        assert not found, f"{where}, {scheme} theme:\n" + "\n".join(found)


async def test_no_violations_on_the_main_screens(open_page: Any, daphne_url: str, axe_source: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    ben: Account = await sign_up(daphne_url, "ben", "Ben")
    await befriend(daphne_url, ann, ben)
    await new_group(daphne_url, ann, "Club", ben)

    page = await open_page("Ann")
    await page.goto(daphne_url + "/")
    await expect(page.get_by_test_id("signin-form")).to_be_visible()
    await check_both_themes(page, axe_source, "the sign-in page")

    await sign_in(page, daphne_url, ann)
    await open_chat(page, "Ben")
    await page.get_by_test_id("composer-input").fill("hello")
    await page.get_by_test_id("composer-input").press("Enter")
    await expect(page.locator("[data-testid=message][data-status=sent]")).to_have_count(1)
    await check_both_themes(page, axe_source, "the chat page")

    await open_chat(page, "Club")
    await page.get_by_test_id("group-info").click()
    await expect(page.get_by_test_id("group-panel")).to_be_visible()
    await expect(page.get_by_test_id("group-panel").get_by_text("Ben")).to_be_visible()
    await check_both_themes(page, axe_source, "the group panel")

    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await expect(page.get_by_test_id("settings-profile")).to_be_visible()
    await check_both_themes(page, axe_source, "the settings dialog")
    await page.get_by_test_id("settings-tab-appearance").click()
    await check_both_themes(page, axe_source, "the settings dialog's Appearance")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Control+k")
    await expect(page.get_by_test_id("quick-switcher-option")).to_have_count(2)
    await check_both_themes(page, axe_source, "the quick switcher")
