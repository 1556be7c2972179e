"""Two-factor sign-in in the web client: turned on in Settings (the key shown with the QR code
feeds pyotp, as an authenticator app would), the recovery codes shown once, then signing out and
in again asks for the code in a second step; a data export asked for and downloaded in Settings, and
an account deleted there."""

import asyncio
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pyotp
from playwright.async_api import Page, expect

from accounts.models import User
from tests.e2e import test_account_lifecycle, test_browser
from tests.e2e.browser import (
    PASSWORD,
    WEB_CLIENT_MODULE,
    befriend,
    chat_item,
    expect_connected,
    shot,
    sign_up,
)
from tests.e2e.test_http import call

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks
lifecycle_server = test_account_lifecycle.lifecycle_server  # a daphne with a timers process


async def open_settings(page: Page, tab: str) -> None:
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await page.get_by_test_id(f"settings-tab-{tab}").click()


async def test_turn_on_two_factor_sign_out_and_sign_in_with_a_code(
    open_page: test_browser.OpenPage, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    page = await test_browser.signed_in(open_page, daphne_url, ann)
    await open_settings(page, "two-factor")
    panel = page.get_by_test_id("settings-two-factor")
    await expect(panel.get_by_test_id("two-factor-state")).to_have_text("Two-factor sign-in is off.")
    await panel.get_by_test_id("two-factor-enrol").click()
    await expect(panel.get_by_test_id("two-factor-qr")).to_be_visible()
    totp = pyotp.TOTP(await panel.get_by_test_id("two-factor-secret").text_content())
    await panel.get_by_test_id("two-factor-confirm").fill(totp.at(time.time() - 30))
    await panel.get_by_test_id("two-factor-confirm-submit").click()
    await expect(panel.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    await shot(page, "two-factor-recovery-codes")
    await panel.get_by_test_id("recovery-codes-done").click()
    await expect(panel.get_by_test_id("two-factor-state")).to_have_text("Two-factor sign-in is on.")
    await page.keyboard.press("Escape")

    await page.get_by_test_id("signout").click()
    await page.locator("#signin-username").fill(ann.username)
    await page.locator("#signin-password").fill(PASSWORD)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("signin-code-form")).to_be_visible()
    await page.get_by_test_id("signin-code").fill("000000")
    await page.get_by_test_id("signin-code-submit").click()
    await expect(page.get_by_test_id("signin-code-error")).not_to_be_empty()
    await page.get_by_test_id("signin-code").fill(totp.now())
    await page.get_by_test_id("signin-code-submit").click()
    await expect(page.get_by_test_id("me-name")).to_have_text("Ann")
    await expect_connected(page)


async def test_a_data_export_is_prepared_and_downloaded(
    open_page: test_browser.OpenPage, lifecycle_server: str, tmp_path: Path
) -> None:
    ann = await sign_up(lifecycle_server, "ann", "Ann")
    page = await test_browser.signed_in(open_page, lifecycle_server, ann)
    await open_settings(page, "data")
    panel = page.get_by_test_id("settings-data")
    await panel.get_by_test_id("export-request").click()
    # pending, then ready once the timers process built it (the panel looks again by itself)
    await expect(panel.get_by_test_id("export-item")).to_have_attribute(
        "data-status", "ready", timeout=30_000
    )
    async with page.expect_download() as waiting:
        await panel.get_by_test_id("export-download").click()
    saved = tmp_path / "export.zip"
    await (await waiting.value).save_as(saved)
    assert json.loads(zipfile.ZipFile(saved).read("profile.json"))["username"] == ann.username


async def test_staff_who_must_have_two_factor_are_taken_to_enrol(
    open_page: test_browser.OpenPage, daphne_url: str, server_env: dict[str, str], start_daphne: Any
) -> None:
    url = start_daphne({**server_env, "TWO_FACTOR_REQUIRED_FOR_STAFF": "true"})
    staff = await sign_up(url, "staff", "Staff")
    await asyncio.to_thread(lambda: User.objects.filter(pk=staff.id).update(is_staff=True))
    page = await test_browser.signed_in(open_page, url, staff)
    await expect(page.get_by_test_id("settings-dialog")).to_be_visible()
    panel = page.get_by_test_id("settings-two-factor")
    await expect(panel.get_by_test_id("two-factor-required")).to_be_visible()
    await expect(panel.get_by_test_id("two-factor-state")).to_have_text("Two-factor sign-in is off.")


async def test_deleting_ones_account_in_settings(
    open_page: test_browser.OpenPage, lifecycle_server: str
) -> None:
    """Ann deletes her account (no grace on this server): she is back at the sign-in; once the timers
    process has anonymised it, Ben's chat with her is titled "Deleted account"."""
    url = lifecycle_server
    ann = await sign_up(url, "ann", "Ann")
    ben = await sign_up(url, "ben", "Ben")
    await befriend(url, ann, ben)
    page = await test_browser.signed_in(open_page, url, ann)
    await open_settings(page, "data")
    panel = page.get_by_test_id("settings-data")
    await panel.get_by_test_id("delete-password").fill("not my password")
    await panel.get_by_test_id("delete-account").click()
    await page.get_by_test_id("ask-ok").click()
    await expect(panel.get_by_test_id("delete-error")).to_have_text("This password is wrong.")
    await panel.get_by_test_id("delete-password").fill(PASSWORD)
    await panel.get_by_test_id("delete-account").click()
    await page.get_by_test_id("ask-ok").click()
    await expect(page.get_by_test_id("signin-form")).to_be_visible()

    async def anonymised() -> bool:
        reply = await asyncio.to_thread(call, url, "GET", f"/api/users/{ann.id}", token=ben.token)
        return reply.status == 200 and reply.json()["nickname"] == "Deleted account"

    await test_account_lifecycle.wait_for(anonymised, "the deletion")
    ben_page = await test_browser.signed_in(open_page, url, ben)
    await expect(chat_item(ben_page, "Deleted account")).to_be_visible()
