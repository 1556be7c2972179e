"""Single sign-on end to end: a real OpenID provider (tests/e2e/sso.py) and a real daphne; the test
plays the browser (its cookies) through the provider's login and consent pages."""

import asyncio

from accounts.models import User
from sso.models import ExternalIdentity
from sso.services import pkce_challenge
from tests.db_state import assert_unchanged, whole_database
from tests.e2e.conftest import recv_frame, ws_open
from tests.e2e.sso import ACCOUNTS, APP_REDIRECT, Flow, landing, new_flow
from tests.e2e.test_http import call


def rest(base_url: str, method: str, path: str, body: object = None, *, token: str = "", expect: int) -> dict:
    reply = call(base_url, method, path, body, token=token or None)
    assert reply.status == expect, reply.text
    return reply.json()


def refused_at_the_callback(browser: Flow, callback: str, reason: str) -> None:
    """The callback ends on the page with `reason`; the database is as it was but for the browser's
    session, whose state is spent (a state is good for one callback, right or wrong)."""
    before = whole_database()
    assert browser.callback(callback) == {"oidc-error": reason}
    after = whole_database()
    assert browser.session()["oidc_states"] == {}
    before.pop("django_session"), after.pop("django_session")
    assert after == before


def tokens_work(base_url: str, tokens: dict[str, str], username: str) -> int:
    """The pair opens REST and /ws as `username`; that user's id."""
    me = rest(base_url, "GET", "/api/users/me", token=tokens["access"], expect=200)
    assert me["username"] == username

    async def connect() -> dict:
        ws = await ws_open(base_url, query=f"token={tokens['access']}")
        try:
            return await recv_frame(ws)
        finally:
            await ws.close()

    frame = asyncio.run(connect())
    assert frame["type"] == "connect" and frame["payload"]["user_id"] == me["id"], frame
    refreshed = rest(base_url, "POST", "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, expect=200)
    assert set(refreshed) == {"access", "refresh"}
    return me["id"]


def test_first_sign_in_creates_the_account_and_the_second_signs_into_it(
    sso_url: str, oidc_issuer: str
) -> None:
    browser = new_flow(sso_url)
    authorization = browser.start()
    assert authorization.startswith(f"{oidc_issuer}/auth?")
    for parameter in ("state=", "nonce=", "code_challenge=", "code_challenge_method=S256"):
        assert parameter in authorization, parameter
    fragment = browser.callback(browser.through_provider(authorization, "alice-sub"))
    assert set(fragment) == {"oidc-code"}
    answer = browser.exchange(fragment["oidc-code"])
    assert answer.status_code == 200, answer.text
    user_id = tokens_work(sso_url, answer.json(), "alice")
    alice = User.objects.get(pk=user_id)
    claims = ACCOUNTS["alice-sub"]
    assert (alice.nickname, alice.email, alice.has_usable_password()) == (
        claims["name"],
        claims["email"],
        False,
    )
    assert list(ExternalIdentity.objects.values_list("user_id", "issuer", "subject")) == [
        (user_id, oidc_issuer, "alice-sub")
    ]
    # The code is spent: a second exchange (the same browser) is refused.
    again = browser.exchange(fragment["oidc-code"])
    assert (again.status_code, again.json()["details"]) == (401, {"reason": "code_invalid"})

    other_browser = new_flow(sso_url)
    second = other_browser.sign_in("alice-sub")
    tokens = other_browser.exchange(second["oidc-code"]).json()
    assert tokens_work(sso_url, tokens, "alice") == user_id
    assert User.objects.count() == 1 and ExternalIdentity.objects.count() == 1


def test_a_namesake_gets_a_username_of_its_own_and_no_unverified_email(sso_url: str) -> None:
    new_flow(sso_url).sign_in("alice-sub")
    browser = new_flow(sso_url)
    tokens = browser.exchange(browser.sign_in("namesake-sub")["oidc-code"]).json()
    namesake = User.objects.get(pk=tokens_work(sso_url, tokens, "alice-2"))
    assert (namesake.nickname, namesake.email) == ("Another Alice", "")


def test_a_code_exchanged_from_another_browser_is_refused_and_spent(sso_url: str) -> None:
    victim, attacker = new_flow(sso_url), new_flow(sso_url)
    victim.start()  # the victim's browser has a session too, just not this sign-in's
    code = attacker.sign_in("alice-sub")["oidc-code"]
    before = whole_database()
    answer = victim.exchange(code)
    assert (answer.status_code, answer.json()["details"]) == (401, {"reason": "code_invalid"})
    assert_unchanged(before)
    assert attacker.exchange(code).status_code == 401  # spent by the wrong attempt


def test_an_app_gets_its_code_at_its_redirect_uri_and_exchanges_it_with_its_verifier(sso_url: str) -> None:
    """The app's in-app browser tab goes through the provider; the app itself (no cookie) exchanges."""
    verifier = "app-verifier-" + "x" * 40
    tab = new_flow(sso_url)
    query = f"?app={APP_REDIRECT}&app_challenge={pkce_challenge(verifier)}"
    fragment = tab.callback(tab.through_provider(tab.start(query), "alice-sub"), lands_on=APP_REDIRECT)
    app = new_flow(sso_url)
    refused = app.exchange(fragment["oidc-code"], verifier="another-verifier-" + "x" * 40)
    assert (refused.status_code, refused.json()["details"]) == (401, {"reason": "code_invalid"})
    fragment = tab.callback(tab.through_provider(tab.start(query), "alice-sub"), lands_on=APP_REDIRECT)
    tokens = app.exchange(fragment["oidc-code"], verifier=verifier)
    assert tokens.status_code == 200, tokens.text
    tokens_work(sso_url, tokens.json(), "alice")
    # The tab's next plain sign-in is the web client's again.
    assert set(tab.sign_in("alice-sub")) == {"oidc-code"}


def test_an_unregistered_app_redirect_is_refused(sso_url: str) -> None:
    tab = new_flow(sso_url)
    for query in (
        "?app=https://evil.example/&app_challenge=" + "c" * 43,
        f"?app={APP_REDIRECT}&app_challenge=short",
    ):
        assert landing(tab.get(f"{sso_url}/oidc/start/{query}"), "/") == {"oidc-error": "app_invalid"}


def test_a_wrong_state_is_refused(sso_url: str) -> None:
    browser = new_flow(sso_url)
    callback = browser.through_provider(browser.start(), "alice-sub")
    state = callback.split("state=")[1].split("&")[0]
    before = whole_database()
    assert browser.callback(callback.replace(f"state={state}", "state=forged")) == {
        "oidc-error": "state_mismatch"
    }
    assert_unchanged(before)  # the state the browser does hold stays for its own callback
    refused_at_the_callback(browser, callback.replace("code=", "code=x"), "sign_in_failed")


def test_a_wrong_nonce_is_refused(sso_url: str) -> None:
    """The ID token carries the nonce sent; the browser session's is changed in between."""
    browser = new_flow(sso_url)
    callback = browser.through_provider(browser.start(), "alice-sub")
    session = browser.session()
    session["oidc_states"] = {
        state: {**entry, "nonce": "forged"} for state, entry in session["oidc_states"].items()
    }
    session.save()
    refused_at_the_callback(browser, callback, "id_token_invalid")


def test_a_deactivated_account_is_refused(sso_url: str) -> None:
    browser = new_flow(sso_url)
    tokens = browser.exchange(browser.sign_in("alice-sub")["oidc-code"]).json()
    User.objects.filter(username="alice").update(is_active=False)
    again = new_flow(sso_url)
    refused_at_the_callback(again, again.through_provider(again.start(), "alice-sub"), "user_inactive")
    rest(sso_url, "GET", "/api/users/me", token=tokens["access"], expect=401)


def test_an_existing_account_with_the_verified_email_is_not_taken_over(sso_url: str) -> None:
    owner = rest(
        sso_url,
        "POST",
        "/api/auth/register",
        {"username": "owner", "password": "Owner-passw0rd-1"},
        expect=201,
    )
    User.objects.filter(pk=owner["id"]).update(email="OWNER@example.test")
    browser = new_flow(sso_url)
    refused_at_the_callback(browser, browser.through_provider(browser.start(), "taken-sub"), "email_in_use")


def test_the_sign_in_page_offers_the_provider(sso_url: str) -> None:
    page = new_flow(sso_url).get(f"{sso_url}/").text
    assert 'href="/oidc/start/"' in page and "Sign in with Loopback ID" in page
    said = rest(sso_url, "GET", "/api/auth/oidc", expect=200)
    assert said == {"enabled": True, "name": "Loopback ID", "start_url": "/oidc/start/"}
