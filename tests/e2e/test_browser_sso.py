"""Single sign-on in Chromium: "Sign in with …" on the sign-in page, the real provider's login and
consent pages (tests/e2e/sso.py), and back in the web client, connected, with no code left in the
address bar; a refusal is explained on the sign-in form."""

from collections.abc import AsyncIterator

import pytest_asyncio
from asgiref.sync import sync_to_async
from playwright.async_api import Browser, Page, expect

from accounts.models import User
from tests.e2e import test_browser
from tests.e2e.browser import UI_TIMEOUT_MS, WEB_CLIENT_MODULE, expect_connected, shot
from tests.e2e.sso import PROVIDER_NAME

pytestmark = WEB_CLIENT_MODULE

chromium = test_browser.chromium  # the browser tests' fixture


@pytest_asyncio.fixture(loop_scope="module")
async def page(chromium: Browser) -> AsyncIterator[Page]:
    """A page of its own; an uncaught exception or a Content-Security-Policy refusal fails the test."""
    context = await chromium.new_context(locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.extend(test_browser.csp_violations("page", message)))
    yield page
    await context.close()
    assert not errors, errors


async def through_the_provider(page: Page, base_url: str, login: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_test_id("oidc-signin").click()
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill("any password")
    await page.locator("button[type=submit]").click()
    await page.get_by_role("button", name="Continue").click()  # the provider's consent page
    await page.wait_for_url(base_url + "/")


async def test_sign_in_with_the_provider(page: Page, sso_url: str) -> None:
    await page.goto(sso_url + "/")
    await expect(page.get_by_test_id("oidc-signin")).to_have_text(f"Sign in with {PROVIDER_NAME}")
    await shot(page, "sso-sign-in")
    await through_the_provider(page, sso_url, "alice-sub")
    await expect_connected(page)
    assert page.url == sso_url + "/"  # the one-time code is gone from the address bar
    assert (
        await sync_to_async(
            User.objects.filter(username="alice", external_identities__subject="alice-sub").count
        )()
        == 1
    )


async def test_a_refused_sign_in_is_explained(page: Page, sso_url: str) -> None:
    await sync_to_async(User.objects.create)(username="owner", email="owner@example.test")
    await through_the_provider(page, sso_url, "taken-sub")
    await expect(page.get_by_test_id("signin-error")).to_have_text(
        "An account with this email address exists already. Sign in with its password."
    )
    await shot(page, "sso-refused")
    assert page.url == sso_url + "/"
