"""POST /api/auth/oidc/exchange, the authorization matrix: the one-time code is the credential and
the browser session that went to the provider must be the one asking; whatever else the request
carries (a member's or a bot's bearer token) changes nothing. Every refusal leaves the whole
database as it was, and spends the code."""

from collections.abc import Callable

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import User
from accounts.sessions import start_session
from sso import services
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db
URL = "/api/auth/oidc/exchange"


@pytest.fixture
def person(make_user: Callable[..., User]) -> User:
    return make_user("sso-person")


def browser() -> Client:
    """A browser with a server session (as after /oidc/start/)."""
    client = Client()
    client.session.save()
    return client


def code_for(user: User, client: Client) -> str:
    holder = services.code_holder(session_key=client.session.session_key)
    return services.exchange_code_issue(user=user, holder=holder)


def exchange(client: Client, code: str, verifier: str | None = None, **headers: str):
    body = {"code": code} if verifier is None else {"code": code, "verifier": verifier}
    return client.post(URL, body, content_type="application/json", headers=headers)


def refused(client: Client, code: str, reason: str, verifier: str | None = None, **headers: str) -> None:
    before = whole_database()
    assert_error(exchange(client, code, verifier, **headers), 401, "AUTHENTICATION_FAILED", reason=reason)
    assert_unchanged(before)


def test_the_browser_that_went_to_the_provider_gets_a_session(person: User) -> None:
    client = browser()
    pair = check(exchange(client, code_for(person, client), HTTP_USER_AGENT="Firefox"), 200)
    assert set(pair) == {"access", "refresh"}
    me = Client().get("/api/users/me", headers={"Authorization": f"Bearer {pair['access']}"})
    assert check(me, 200)["id"] == person.pk


def test_a_spent_code_is_refused(person: User) -> None:
    client = browser()
    code = code_for(person, client)
    check(exchange(client, code), 200)
    refused(client, code, "code_invalid")


def test_an_expired_code_is_refused(person: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "CODE_TTL_SECONDS", 0)  # gone as soon as it is stored
    client = browser()
    refused(client, code_for(person, client), "code_invalid")


def test_a_made_up_code_is_refused() -> None:
    refused(browser(), "made-up", "code_invalid")


@pytest.mark.parametrize("holder", ["anonymous", "member", "moderator", "bot"])
def test_another_browser_is_refused_whoever_it_is_signed_in_as(
    person: User, holder: str, make_user: Callable[..., User], moderator: User
) -> None:
    """The code travelled (a link, a screenshot): another browser's session gets nothing, nor does
    its bearer token help; the code is spent, so the rightful browser has to sign in again."""
    rightful, other = browser(), browser()
    code = code_for(person, rightful)
    headers = {}
    if holder != "anonymous":
        if holder == "bot":
            _, token = account_services.bot_create(actor=make_user("bot-owner"), username="a-bot")
        else:
            user = moderator if holder == "moderator" else make_user("member")
            token = str(start_session(user).access_token)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    refused(other, code, "code_invalid", **headers)
    refused(rightful, code, "code_invalid")


def test_a_request_without_a_session_cookie_is_refused(person: User) -> None:
    code = code_for(person, browser())
    refused(Client(), code, "code_invalid")


def test_a_person_deactivated_between_callback_and_exchange_is_refused(person: User) -> None:
    client = browser()
    code = code_for(person, client)
    User.objects.filter(pk=person.pk).update(is_active=False)
    refused(client, code, "user_inactive")


def test_the_code_is_a_string(person: User) -> None:
    client = browser()
    answer = client.post(URL, {"code": 12}, content_type="application/json")
    assert_error(answer, 400, "VALIDATION_ERROR")


VERIFIER = "v" * 43


def app_code(user: User) -> str:
    holder = services.code_holder(app_challenge=services.pkce_challenge(VERIFIER))
    return services.exchange_code_issue(user=user, holder=holder)


def test_an_app_exchanges_with_the_verifier_of_the_challenge_it_started_with(person: User) -> None:
    """An app's code is bound to its PKCE challenge, not to a browser: no cookie is needed."""
    assert set(check(exchange(Client(), app_code(person), VERIFIER), 200)) == {"access", "refresh"}


@pytest.mark.parametrize("verifier", [None, "w" * 43])
def test_an_app_code_without_its_verifier_is_refused(person: User, verifier: str | None) -> None:
    """Another app that caught the redirect to the URL scheme has the code, not the verifier."""
    code = app_code(person)
    refused(browser(), code, "code_invalid", verifier)
    refused(Client(), code, "code_invalid", VERIFIER)  # spent


def test_a_browser_code_is_not_exchanged_with_a_verifier(person: User) -> None:
    client = browser()
    refused(client, code_for(person, client), "code_invalid", VERIFIER)


def test_a_verifier_is_43_to_128_characters(person: User) -> None:
    assert_error(exchange(Client(), app_code(person), "short"), 400, "VALIDATION_ERROR")
