"""The Content-Security-Policy in force in Chromium on the real server: the web client and the API
docs work under it (every browser test fails on a refusal, test_browser.open_page), and what an
attacker would inject (an inline script, an inline handler, a script from elsewhere) is refused."""

from typing import Any

from asgiref.sync import sync_to_async
from playwright.async_api import Browser, expect

from accounts.models import User
from tests.e2e import test_browser
from tests.e2e.browser import PASSWORD, WEB_CLIENT_MODULE, unique

pytestmark = WEB_CLIENT_MODULE

chromium, open_page = test_browser.chromium, test_browser.open_page  # the browser tests' fixtures
no_server_tracebacks = test_browser.no_server_tracebacks

INJECT = """() => {
  const seen = [];
  document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective));
  window.ran = [];
  const inline = document.createElement("script");
  inline.textContent = "window.ran.push('inline')";
  document.body.append(inline);
  const handler = document.createElement("img");
  handler.setAttribute("onerror", "window.ran.push('handler')");
  handler.src = "data:,";
  document.body.append(handler);
  const remote = document.createElement("script");
  remote.src = "https://example.com/x.js";
  document.body.append(remote);
  return new Promise((done) => setTimeout(() => done({ ran: window.ran, seen: seen.sort() }), 500));
}"""


async def test_injected_scripts_are_refused_on_the_web_client(chromium: Browser, daphne_url: str) -> None:
    context = await chromium.new_context()
    try:
        page = await context.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.extend(test_browser.csp_violations("page", m)))
        response = await page.goto(daphne_url + "/")
        assert response is not None
        headers = await response.all_headers()
        port = daphne_url.rsplit(":", 1)[1]
        assert f"connect-src 'self' ws://127.0.0.1:{port};" in headers["content-security-policy"]
        await expect(page.get_by_test_id("signin-form")).to_be_visible()  # the modules ran
        assert not refused
        result = await page.evaluate(INJECT)
        assert result == {
            "ran": [],
            "seen": ["script-src-attr", "script-src-elem", "script-src-elem"],
        }
        assert len(refused) == 3
    finally:
        await context.close()


async def test_the_api_docs_work_under_the_policy(open_page: Any, daphne_url: str) -> None:
    page = await open_page("docs")
    await page.goto(daphne_url + "/api/docs/")
    await expect(page.get_by_text("IM-Suite API").first).to_be_visible()
    await expect(page.locator(".opblock-tag").first).to_be_visible()  # the schema was loaded


async def test_the_admin_works_under_the_policy(open_page: Any, daphne_url: str) -> None:
    """Django 5.2's admin has no inline script: signing in, a list with its actions and filters, and
    a change form with its widgets run without one refusal."""
    username = unique("moderator")
    await sync_to_async(User.objects.create_superuser)(username=username, password=PASSWORD)
    page = await open_page("moderator")
    await page.goto(daphne_url + "/admin/login/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await expect(page.locator("#user-tools")).to_be_visible()
    await page.goto(daphne_url + "/admin/accounts/user/")
    await expect(page.locator("#result_list")).to_be_visible()
    await page.locator("#result_list input.action-select").first.check()  # actions.js ran
    await expect(page.locator(".action-counter")).to_contain_text("1 of")
    await page.locator("#result_list tbody th a").first.click()
    await expect(page.locator("#content-main form")).to_be_visible()
