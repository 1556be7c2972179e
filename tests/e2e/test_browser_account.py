"""The account in the web client: the password changed in Settings (the other browser is signed out
live, this one stays), the sessions list with sign-out of another device (signed out live), and the
mailed links (address verification, password reset) followed in the browser from a real SMTP
server's inbox. Embedded leg only."""

import asyncio
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e import smtp, test_browser
from tests.e2e.browser import PASSWORD, WEB_CLIENT_MODULE, expect_connected, rest, shot, sign_up, unique
from tests.e2e.smtp import Inbox, link_of
from tests.e2e.test_http import call

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks
smtp_inbox, mailing_server = smtp.smtp_inbox, smtp.mailing_server
NEW_PASSWORD = "browser-New-passw0rd"


async def open_settings(page: Page, tab: str) -> None:
    await page.get_by_test_id("me-menu").click()
    await page.get_by_test_id("settings-button").click()
    await page.get_by_test_id(f"settings-tab-{tab}").click()
    await expect(page.get_by_test_id(f"settings-{tab}")).to_be_visible()


async def signed_out(page: Page) -> None:
    await expect(page.locator("#auth-view")).to_be_visible()
    await expect(page.locator("#main-view")).to_be_hidden()
    await expect(page.get_by_test_id("settings-dialog")).to_be_hidden()


async def sign_in_status(base_url: str, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    return (await asyncio.to_thread(call, base_url, "POST", "/api/auth/token", body)).status


async def test_a_password_changed_in_settings_signs_the_other_browser_out_and_keeps_this_one(
    open_page: Any, daphne_url: str
) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")
    here = await test_browser.signed_in(open_page, daphne_url, ann)
    there = await test_browser.signed_in(open_page, daphne_url, ann)
    await open_settings(here, "account")
    await here.get_by_test_id("password-old").fill("not-the-passw0rd")
    await here.get_by_test_id("password-new").fill(NEW_PASSWORD)
    await here.get_by_test_id("password-submit").click()
    await expect(here.get_by_test_id("password-error")).to_have_text("This password is wrong.")
    await here.get_by_test_id("password-old").fill(PASSWORD)
    await here.get_by_test_id("password-new").fill(NEW_PASSWORD)
    await here.get_by_test_id("password-submit").click()
    await expect(here.get_by_test_id("password-done")).to_have_text(
        "Your password is changed. Your other sessions are signed out."
    )
    await shot(here, "settings-account")
    await signed_out(there)
    await here.get_by_test_id("settings-dialog").get_by_role("button", name="Close").click()
    await expect_connected(here)
    await expect(here.get_by_test_id("me-name")).to_have_text("Ann")
    assert await sign_in_status(daphne_url, ann.username, PASSWORD) == 401
    assert await sign_in_status(daphne_url, ann.username, NEW_PASSWORD) == 200


async def test_the_sessions_list_signs_another_device_out_live(open_page: Any, daphne_url: str) -> None:
    ann = await sign_up(daphne_url, "ann", "Ann")  # sign_up's own session is listed too
    here = await test_browser.signed_in(open_page, daphne_url, ann)
    there = await test_browser.signed_in(open_page, daphne_url, ann)
    await open_settings(here, "sessions")
    items = here.get_by_test_id("session-item")
    await expect(items).to_have_count(3)
    current = here.locator("[data-testid=session-item][data-current=true]")
    await expect(current).to_have_count(1)
    await expect(current.get_by_test_id("session-current")).to_have_text("This device")
    await expect(current).to_contain_text(re.compile(r"Chrom\w* on Linux"))
    await shot(here, "settings-sessions")
    there_sessions = await rest(daphne_url, "GET", "/api/users/me/sessions", token=ann.token, status=200)
    newest_other = next(s for s in there_sessions if not s["current"] and s["browser"])  # `there`, not REST
    others = here.locator("[data-testid=session-item][data-current=false]")
    await others.filter(has_text=newest_other["address"]).first.get_by_test_id("session-sign-out").click()
    await expect(items).to_have_count(2)
    await signed_out(there)
    await here.get_by_test_id("sessions-sign-out-others").click()
    await expect(items).to_have_count(1)
    await expect(here.get_by_test_id("sessions-sign-out-others")).to_be_hidden()
    await rest(daphne_url, "GET", "/api/users/me", token=ann.token, status=401)  # sign_up's session
    await expect_connected(here)


async def test_mailed_links_verify_the_address_and_reset_the_password_in_the_browser(
    open_page: Any, mailing_server: str, smtp_inbox: Inbox
) -> None:
    base, username = mailing_server, unique("mira")
    address = f"{username}@example.org"
    page = await open_page("Mira")
    await page.goto(base + "/")
    await page.get_by_test_id("tab-register").click()
    await page.locator("#register-username").fill(username)
    await page.locator("#register-nickname").fill("Mira")
    await page.get_by_test_id("register-email").fill(address)
    await page.locator("#register-password").fill(PASSWORD)
    await page.get_by_test_id("register-submit").click()
    await expect(page.get_by_test_id("me-name")).to_have_text("Mira")
    await open_settings(page, "account")
    await expect(page.get_by_test_id("email-state")).to_have_text(
        "Not confirmed yet: open the link we mailed to it."
    )

    link, (kind, _) = link_of(smtp_inbox.next_mail(address))
    assert kind == "verify-email"
    tab = await page.context.new_page()  # the link, opened from the mail, in a new tab
    await tab.goto(link)
    await expect(tab.get_by_test_id("toast")).to_have_text("Your email address is confirmed.")
    assert await tab.evaluate("location.hash") == ""  # the token does not stay in the address bar
    await open_settings(tab, "account")
    await expect(tab.get_by_test_id("email-state")).to_have_text("Confirmed.")
    await tab.close()

    # Another browser, signed out: "Forgot your password?"
    other = await open_page("Mira elsewhere")
    await other.goto(base + "/")
    await other.get_by_test_id("forgot-password").click()
    await other.get_by_test_id("reset-login").fill(address)
    await other.get_by_test_id("reset-request-submit").click()
    await expect(other.get_by_test_id("reset-done")).to_have_text(
        "If an account with a confirmed address matches, a link is on its way to that address."
    )
    link, (kind, *_) = link_of(smtp_inbox.next_mail(address))
    assert kind == "reset-password"
    await other.goto(link)
    await other.get_by_test_id("reset-password").fill(NEW_PASSWORD)
    await shot(other, "password-reset")
    await other.get_by_test_id("reset-submit").click()
    await expect(other.get_by_test_id("reset-done")).to_have_text(
        "Your password is changed and every session is signed out: sign in with the new password."
    )
    await signed_out(page)  # the first browser's session ended with the reset, live
    await other.get_by_test_id("password-reset-dialog").get_by_role("button", name="Close").click()
    await other.locator("#signin-username").fill(username)
    await other.locator("#signin-password").fill(PASSWORD)
    await other.get_by_test_id("signin-submit").click()
    await expect(other.get_by_test_id("signin-error")).to_have_text("Wrong username or password.")
    await other.locator("#signin-password").fill(NEW_PASSWORD)
    await other.get_by_test_id("signin-submit").click()
    await expect(other.get_by_test_id("me-name")).to_have_text("Mira")
    smtp_inbox.nothing_more()
