"""Email address, password change and reset, and signed-in sessions over REST (and the services for
actors REST has no token for: bots), with the authorization matrix: every refusal leaves the whole
database as it was."""

import re
import socket
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient

from accounts import credentials
from accounts.devices import device_of
from accounts.mail import wait_until_sent
from accounts.models import User, UserSession
from accounts.services import bot_create, user_set_active
from accounts.sessions import revoke_session
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from tests.accounts.test_api import assert_error, check, obtain, post, refresh
from tests.conftest import PASSWORD
from tests.db_state import assert_unchanged, whole_database
from tests.test_admin import admin_url

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an-Other-passw0rd"
CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)
LINK = re.compile(r"http://testserver/#(\S+)")


@pytest.fixture
def mails(mailoutbox: list, django_capture_on_commit_callbacks: Callable) -> Callable[[Callable], list]:
    """Run an action with its after-commit work done, and return the mails it sent (once sent)."""

    def run(action: Callable[[], Any]) -> list:
        before = len(mailoutbox)
        with django_capture_on_commit_callbacks(execute=True):
            action()
        wait_until_sent()
        return mailoutbox[before:]

    return run


def link_in(message: Any) -> list[str]:
    """The parts of the web client link in a mail: [reset-password, uid, token] or [verify-email, token]."""
    (fragment,) = LINK.findall(message.body)
    return fragment.split("/")


def signed_in(username: str = "alice", user_agent: str = CHROME_LINUX, address: str = "127.0.0.1") -> dict:
    """A real sign-in over REST: {access, refresh, client} (the client carries the access token)."""
    client = APIClient(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    pair = check(obtain(client, username), 200)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return {**pair, "client": client}


def verified(user: User, email: str) -> User:
    User.objects.filter(pk=user.pk).update(email=email, email_verified=True)
    user.refresh_from_db()
    return user


# --- devices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (CHROME_LINUX, ("Chrome", "Linux")),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            ("Firefox", "Windows"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36 Edg/131",
            ("Edge", "Android"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
            ("Safari", "iOS"),
        ),
        ("python-httpx/0.28", ("", "")),
        ("", ("", "")),
    ],
)
def test_the_device_is_read_from_the_user_agent(agent, device):
    assert device_of(agent) == device


# --- sessions -----------------------------------------------------------------------------------


def test_a_sign_in_records_its_session_and_the_list_marks_the_current_one(alice):
    phone = signed_in(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1")
    laptop = signed_in(address="192.0.2.7")
    body = check(laptop["client"].get("/api/users/me/sessions"), 200)
    rows = {row.sid: row for row in UserSession.objects.filter(user=alice)}
    assert len(rows) == 2
    assert [{k: v for k, v in s.items() if k not in ("id", "created_at", "last_used_at")} for s in body] == [
        {
            "browser": "Chrome",
            "system": "Linux",
            "user_agent": CHROME_LINUX,
            "address": "192.0.2.7",
            "current": True,
        },
        {
            "browser": "Safari",
            "system": "iOS",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1",
            "address": "127.0.0.1",
            "current": False,
        },
    ]
    assert {s["id"] for s in body} == {r.pk for r in rows.values()}
    assert check(phone["client"].get("/api/users/me/sessions"), 200)[0]["current"] is False


def test_a_refresh_counts_as_a_use_at_most_once_a_minute(alice):
    session = signed_in()
    row = UserSession.objects.get(user=alice)
    UserSession.objects.filter(pk=row.pk).update(last_used_at=row.last_used_at.replace(year=2020))
    pair = check(refresh(APIClient(), session["refresh"]), 200)
    used = UserSession.objects.get(pk=row.pk).last_used_at
    assert used > row.last_used_at
    check(refresh(APIClient(), pair["refresh"]), 200)
    assert UserSession.objects.get(pk=row.pk).last_used_at == used


def test_signing_a_session_out_ends_its_refresh_and_access_but_not_the_others(
    alice, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(alice)
    phone, laptop = signed_in(), signed_in()
    phone_row = UserSession.objects.get(sid=sid_of(phone))
    with django_capture_on_commit_callbacks(execute=True):
        check(laptop["client"].delete(f"/api/users/me/sessions/{phone_row.pk}"), 204)
    assert_error(refresh(APIClient(), phone["refresh"]), 401, "AUTHENTICATION_FAILED")
    assert_error(phone["client"].get("/api/users/me"), 401, "AUTHENTICATION_FAILED")
    check(laptop["client"].get("/api/users/me"), 200)
    check(refresh(APIClient(), laptop["refresh"]), 200)
    assert [e["data"] for e in inbox.drain(alice) if e["event"] == "user.logged_out"] == [
        {"user_id": alice.pk, "sid": phone_row.sid}
    ]
    assert list(UserSession.objects.filter(user=alice).values_list("sid", flat=True)) == [sid_of(laptop)]


def test_a_refresh_of_a_revoked_session_fails_even_if_its_token_escaped_the_blacklist(alice):
    session = signed_in()
    revoke_session(sid_of(session))
    assert_error(refresh(APIClient(), session["refresh"]), 401, "AUTHENTICATION_FAILED")


def test_sign_out_others_keeps_only_this_session(alice, bob):
    this, other, another, bobs = signed_in(), signed_in(), signed_in(), signed_in("bob")
    assert check(post(this["client"], "/api/users/me/sessions/sign-out-others", {}), 200) == {"signed_out": 2}
    for gone in (other, another):
        assert_error(refresh(APIClient(), gone["refresh"]), 401, "AUTHENTICATION_FAILED")
    check(refresh(APIClient(), this["refresh"]), 200)
    check(refresh(APIClient(), bobs["refresh"]), 200)
    assert [s["current"] for s in check(this["client"].get("/api/users/me/sessions"), 200)] == [True]


def sid_of(session: dict) -> str:
    return jwt.decode(session["refresh"], options={"verify_signature": False})["sid"]


# --- password change ----------------------------------------------------------------------------


def test_a_password_change_signs_out_every_other_session(alice):
    this, other = signed_in(), signed_in()
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    check(post(this["client"], "/api/users/me/password", body), 204)
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert_error(refresh(APIClient(), other["refresh"]), 401, "AUTHENTICATION_FAILED")
    check(this["client"].get("/api/users/me"), 200)
    check(refresh(APIClient(), this["refresh"]), 200)
    assert_error(obtain(APIClient(), "alice", PASSWORD), 401, "AUTHENTICATION_FAILED")
    check(obtain(APIClient(), "alice", NEW_PASSWORD), 200)
    assert list(AuditEntry.objects.values_list("actor_id", "action", "target_id")) == [
        (alice.pk, "user.password_change", alice.pk)
    ]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"old_password": "wrong-passw0rd", "new_password": NEW_PASSWORD}, "old_password", "wrong_password"),
        ({"old_password": PASSWORD, "new_password": "12345678"}, "password", "weak"),
        ({"old_password": PASSWORD}, "new_password", "required"),
    ],
)
def test_a_refused_password_change_changes_nothing(alice, body, field, reason):
    session = signed_in()
    before = whole_database()
    refused = assert_error(post(session["client"], "/api/users/me/password", body), 400, "VALIDATION_ERROR")
    assert (refused["details"]["field"], refused["details"]["reason"]) == (field, reason)
    assert_unchanged(before)


def test_wrong_old_passwords_are_throttled_like_sign_ins(alice, settings):
    settings.IMSUITE = {**settings.IMSUITE, "SIGNIN_FREE_FAILURES": 2}
    session = signed_in()
    body = {"old_password": "wrong-passw0rd", "new_password": NEW_PASSWORD}
    for _ in range(2):
        assert_error(post(session["client"], "/api/users/me/password", body), 400, "VALIDATION_ERROR")
    refused = assert_error(post(session["client"], "/api/users/me/password", body), 429, "RATE_LIMITED")
    assert refused["details"]["reason"] == "sign_in_failures"


# --- email address ------------------------------------------------------------------------------


def test_registration_with_an_address_mails_a_link_that_verifies_it(api, mails):
    sent = mails(
        lambda: check(
            post(
                api,
                "/api/auth/register",
                {"username": "dave", "password": PASSWORD, "email": "Dave@Example.org"},
            ),
            201,
        )
    )
    dave = User.objects.get(username="dave")
    assert (dave.email, dave.email_verified) == ("Dave@Example.org", False)
    assert [(m.to, m.subject) for m in sent] == [(["Dave@Example.org"], "Confirm your email address")]
    kind, token = link_in(sent[0])
    assert kind == "verify-email"
    check(post(APIClient(), "/api/auth/email/verify", {"token": token}), 204)
    dave.refresh_from_db()
    assert dave.email_verified is True
    check(post(APIClient(), "/api/auth/email/verify", {"token": token}), 204)  # a second click is harmless


def test_registration_without_an_address_mails_nothing(api, mails):
    assert (
        mails(lambda: check(post(api, "/api/auth/register", {"username": "dave", "password": PASSWORD}), 201))
        == []
    )
    assert User.objects.get(username="dave").email == ""


def test_a_changed_address_is_unverified_until_its_link_is_opened(alice, client_for, mails):
    verified(alice, "alice@example.org")
    client = client_for(alice)
    sent = mails(
        lambda: check(client.put("/api/users/me/email", {"email": "new@example.org"}, format="json"), 200)
    )
    alice.refresh_from_db()
    assert (alice.email, alice.email_verified) == ("new@example.org", False)
    assert [m.to for m in sent] == [["new@example.org"]]
    again = mails(
        lambda: check(client.put("/api/users/me/email", {"email": "new@example.org"}, format="json"), 200)
    )
    assert len(again) == 1  # the same unverified address again: a new link
    check(post(APIClient(), "/api/auth/email/verify", {"token": link_in(sent[0])[1]}), 204)
    alice.refresh_from_db()
    assert alice.email_verified is True
    assert mails(lambda: client.put("/api/users/me/email", {"email": "NEW@example.org"}, format="json")) == []
    check(client.put("/api/users/me/email", {"email": ""}, format="json"), 200)
    alice.refresh_from_db()
    assert (alice.email, alice.email_verified) == ("", False)


def test_a_link_for_an_address_the_account_no_longer_has_is_refused(alice, client_for, mails):
    client = client_for(alice)
    first = mails(lambda: client.put("/api/users/me/email", {"email": "one@example.org"}, format="json"))
    mails(lambda: client.put("/api/users/me/email", {"email": "two@example.org"}, format="json"))
    before = whole_database()
    body = {"token": link_in(first[0])[1]}
    assert_error(
        post(APIClient(), "/api/auth/email/verify", body), 400, "VALIDATION_ERROR", reason="link_invalid"
    )
    assert_error(
        post(APIClient(), "/api/auth/email/verify", {"token": "forged:token"}),
        400,
        "VALIDATION_ERROR",
        reason="link_invalid",
    )
    assert_unchanged(before)


def test_a_verified_address_is_one_accounts_whatever_its_case(alice, bob, client_for, mails):
    bobs = client_for(bob)
    sent = mails(lambda: bobs.put("/api/users/me/email", {"email": "Shared@Example.org"}, format="json"))
    verified(alice, "shared@example.org")
    before = whole_database()
    body = {"email": "SHARED@example.org"}
    assert_error(bobs.put("/api/users/me/email", body, format="json"), 409, "CONFLICT", reason="email_taken")
    assert_error(
        post(APIClient(), "/api/auth/email/verify", {"token": link_in(sent[0])[1]}),
        409,
        "CONFLICT",
        reason="email_taken",
    )
    assert_error(
        post(
            APIClient(),
            "/api/auth/register",
            {"username": "dave", "password": PASSWORD, "email": "shared@EXAMPLE.org"},
        ),
        409,
        "CONFLICT",
        reason="email_taken",
    )
    assert_error(
        bobs.put("/api/users/me/email", {"email": "not an address"}, format="json"),
        400,
        "VALIDATION_ERROR",
        reason="email",
    )
    assert_unchanged(before)


def test_address_changes_are_rate_limited(alice, client_for, settings, mails):
    settings.IMSUITE = {**settings.IMSUITE, "RATE_LIMIT_EMAIL_CHANGES": 2}
    client = client_for(alice)
    for n in range(2):
        check(client.put("/api/users/me/email", {"email": f"a{n}@example.org"}, format="json"), 200)
    before = whole_database()
    assert_error(
        client.put("/api/users/me/email", {"email": "a9@example.org"}, format="json"), 429, "RATE_LIMITED"
    )
    assert_unchanged(before)


# --- password reset -----------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "ALICE", "Alice@Example.org"])
def test_a_reset_link_sets_a_new_password_once_and_signs_every_session_out(alice, mails, login):
    verified(alice, "alice@example.org")
    session = signed_in()
    sent = mails(lambda: check(post(APIClient(), "/api/auth/password-reset", {"login": login}), 202))
    assert [(m.to, m.subject) for m in sent] == [(["alice@example.org"], "Reset your password")]
    kind, uid, token = link_in(sent[0])
    assert kind == "reset-password"
    body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    check(post(APIClient(), "/api/auth/password-reset/confirm", body), 204)
    assert_error(refresh(APIClient(), session["refresh"]), 401, "AUTHENTICATION_FAILED")
    assert_error(session["client"].get("/api/users/me"), 401, "AUTHENTICATION_FAILED")
    assert_error(obtain(APIClient(), "alice", PASSWORD), 401, "AUTHENTICATION_FAILED")
    check(obtain(APIClient(), "alice", NEW_PASSWORD), 200)
    refused_link({**body, "new_password": "a-Third-passw0rd"})


@pytest.mark.parametrize(
    "case", ["unknown", "unverified", "unverified_by_address", "bot", "deactivated", "password_off"]
)
def test_a_reset_request_that_mails_nothing_gets_the_same_answer(alice, bob, mails, case):
    verified(bob, "bob@example.org")
    User.objects.filter(pk=alice.pk).update(email="alice@example.org")  # unverified
    bot_create(actor=bob, username="bobbot")
    login = {
        "unknown": "nobody",
        "unverified": "alice",
        "unverified_by_address": "alice@example.org",
        "bot": "bobbot",
        "deactivated": "bob",
        "password_off": "bob",
    }[case]
    if case == "deactivated":
        User.objects.filter(pk=bob.pk).update(is_active=False)
    if case == "password_off":
        bob.set_unusable_password()
        bob.save()
    before = whole_database()
    response = {}
    sent = mails(lambda: response.update(r=post(APIClient(), "/api/auth/password-reset", {"login": login})))
    assert (response["r"].status_code, response["r"].content, sent) == (202, b"", [])
    assert_unchanged(before)


def test_reset_mails_are_limited_per_account_silently_and_requests_per_address(alice, settings, mails):
    settings.IMSUITE = {
        **settings.IMSUITE,
        "RATE_LIMIT_PASSWORD_RESET_MAILS": 2,
        "RATE_LIMIT_PASSWORD_RESETS": 4,
    }
    verified(alice, "alice@example.org")
    answers = []
    sent = mails(
        lambda: answers.extend(
            post(
                APIClient(REMOTE_ADDR="198.51.100.1"), "/api/auth/password-reset", {"login": "alice"}
            ).status_code
            for _ in range(4)
        )
    )
    assert (answers, len(sent)) == ([202, 202, 202, 202], 2)
    refused = post(APIClient(REMOTE_ADDR="198.51.100.1"), "/api/auth/password-reset", {"login": "alice"})
    assert_error(refused, 429, "RATE_LIMITED")
    check(post(APIClient(REMOTE_ADDR="198.51.100.2"), "/api/auth/password-reset", {"login": "nobody"}), 202)


@pytest.mark.parametrize(("uid", "token"), [("MQ", "forged-token"), ("!!", "x"), ("OTk5OTk", "abc-def")])
def test_a_forged_reset_link_is_refused(alice, uid, token):
    refused_link({"uid": uid, "token": token, "new_password": NEW_PASSWORD})


def refused_link(body: dict) -> None:
    """The reset confirmation is refused as link_invalid, and changes nothing."""
    before = whole_database()
    assert_error(
        post(APIClient(), "/api/auth/password-reset/confirm", body),
        400,
        "VALIDATION_ERROR",
        reason="link_invalid",
    )
    assert_unchanged(before)


def test_a_weak_password_from_a_reset_link_is_refused_and_the_link_still_works(alice, mails):
    verified(alice, "alice@example.org")
    sent = mails(lambda: post(APIClient(), "/api/auth/password-reset", {"login": "alice"}))
    _, uid, token = link_in(sent[0])
    before = whole_database()
    weak = {"uid": uid, "token": token, "new_password": "12345678"}
    assert_error(
        post(APIClient(), "/api/auth/password-reset/confirm", weak), 400, "VALIDATION_ERROR", reason="weak"
    )
    assert_unchanged(before)
    check(post(APIClient(), "/api/auth/password-reset/confirm", {**weak, "new_password": NEW_PASSWORD}), 204)


# --- the authorization matrix -------------------------------------------------------------------

# Each operation of a person's own credentials, by each kind of actor. A number is the REST status of
# a success; 401 is AUTHENTICATION_FAILED; 404 NOT_FOUND; a word is the details.reason of a 403. The
# session to revoke is always one of alice's: nobody but alice finds it. Bots have no REST token: a
# bot calls the service. The deactivated (banned) person's token is refused before anything runs.
MATRIX = """
operation        alice  anonymous  stranger  moderator  bot  deactivated
email_set        200    401        200       200        bot  401
password_change  204    401        204       204        bot  401
session_list     200    401        200       200        bot  401
session_revoke   204    401        404       404        bot  401
sign_out_others  200    401        200       200        bot  401
"""
ACTORS = ("alice", "anonymous", "stranger", "moderator", "bot", "deactivated")


def _outcome(token: str) -> int | str:
    return int(token) if token.isdigit() else token


_header, *_rows = (line.split() for line in MATRIX.strip().splitlines())
assert tuple(_header[1:]) == ACTORS
CASES = [(row[0], actor, _outcome(t)) for row in _rows for actor, t in zip(ACTORS, row[1:], strict=True)]


@pytest.fixture
def world(alice, bob, moderator) -> dict[str, Any]:
    deactivated = User.objects.create_user("dee", password=PASSWORD)
    sessions = {name: signed_in(name) for name in ("alice", "bob", "mod", "dee")}
    alices = UserSession.objects.get(sid=sid_of(sessions["alice"]))
    user_set_active(actor=moderator, user_id=deactivated.pk, active=False)
    bot, _ = bot_create(actor=bob, username="bobbot")
    return {
        "sessions": sessions,
        "alices_session": alices,
        "users": {
            "alice": alice,
            "stranger": bob,
            "moderator": moderator,
            "deactivated": deactivated,
            "bot": bot,
        },
    }


def _rest(operation: str, client: APIClient, alices_session: UserSession) -> Any:
    return {
        "email_set": lambda: client.put("/api/users/me/email", {"email": "x@example.org"}, format="json"),
        "password_change": lambda: post(
            client, "/api/users/me/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        ),
        "session_list": lambda: client.get("/api/users/me/sessions"),
        "session_revoke": lambda: client.delete(f"/api/users/me/sessions/{alices_session.pk}"),
        "sign_out_others": lambda: post(client, "/api/users/me/sessions/sign-out-others", {}),
    }[operation]()


def _service(operation: str, actor: User, alices_session: UserSession) -> Any:
    return {
        "email_set": lambda: credentials.email_set(actor=actor, email="x@example.org", link_base="http://t/"),
        "password_change": lambda: credentials.password_change(
            actor=actor, old_password=PASSWORD, new_password=NEW_PASSWORD, sid=None, address="127.0.0.1"
        ),
        "session_list": lambda: credentials.session_list(actor=actor),
        "session_revoke": lambda: credentials.session_revoke(actor=actor, session_id=alices_session.pk),
        "sign_out_others": lambda: credentials.sessions_revoke_others(actor=actor, sid=None),
    }[operation]()


@pytest.mark.parametrize(("operation", "actor", "outcome"), CASES)
def test_authorization_matrix(world, operation, actor, outcome):
    before = whole_database()
    if actor == "bot":
        with pytest.raises(DomainError) as refused:
            _service(operation, world["users"]["bot"], world["alices_session"])
        assert (refused.value.code, refused.value.details.get("reason")) == ("PERMISSION_DENIED", outcome)
        assert_unchanged(before)
        return
    key = {"alice": "alice", "stranger": "bob", "moderator": "mod", "deactivated": "dee"}.get(actor)
    client = world["sessions"][key]["client"] if key else APIClient()
    response = _rest(operation, client, world["alices_session"])
    if isinstance(outcome, int) and outcome < 400:
        check(response, outcome)
        alice_session_gone = not UserSession.objects.filter(pk=world["alices_session"].pk).exists()
        assert alice_session_gone == (operation == "session_revoke")
        return
    code = {401: "AUTHENTICATION_FAILED", 404: "NOT_FOUND"}.get(outcome, "PERMISSION_DENIED")
    assert_error(response, outcome if isinstance(outcome, int) else 403, code)
    assert_unchanged(before)


def test_the_moderator_cannot_reach_alices_sessions_through_the_service_either(world):
    before = whole_database()
    for actor in ("stranger", "moderator"):
        with pytest.raises(DomainError) as refused:
            credentials.session_revoke(actor=world["users"][actor], session_id=world["alices_session"].pk)
        assert refused.value.code == "NOT_FOUND"
    assert_unchanged(before)


# --- admin ----------------------------------------------------------------------------------------


def test_an_address_cannot_be_set_or_verified_in_admin(staff, alice):
    verified(alice, "alice@example.org")
    form = {"nickname": "Ally", "avatar_url": "", "sex": "female", "age": "28", "bio": ""}
    extra = {"email": "mallory@example.org", "email_verified": "on"}
    assert staff.post(admin_url(User, "change", alice.pk), {**form, **extra}).status_code == 302
    alice.refresh_from_db()
    assert (alice.nickname, alice.email, alice.email_verified) == ("Ally", "alice@example.org", True)


def test_moderators_see_sessions_in_admin_but_cannot_change_them(staff, alice):
    signed_in()
    session = UserSession.objects.get(user=alice)
    listing = staff.get(admin_url(UserSession, "changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [session]
    before = whole_database()
    assert staff.post(admin_url(UserSession, "delete", session.pk), {"post": "yes"}).status_code == 403
    assert_unchanged(before)


# --- a slow SMTP server -----------------------------------------------------------------------------


def test_a_silent_smtp_server_holds_neither_the_request_nor_the_worker_past_email_timeout(
    alice, settings, caplog, django_capture_on_commit_callbacks
):
    """The SMTP server takes the connection and never greets: the request has its answer while the
    mail is still waiting for the greeting, and the worker gives up after EMAIL_TIMEOUT (logged)."""
    verified(alice, "alice@example.org")
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
        settings.EMAIL_TIMEOUT = 1
        with django_capture_on_commit_callbacks(execute=True):
            answer = post(APIClient(), "/api/auth/password-reset", {"login": "alice"})
        assert (answer.status_code, answer.content) == (202, b"")
        silent.settimeout(10)
        connection, _ = silent.accept()  # the worker is connected, waiting for a greeting
        with connection:
            wait_until_sent()
    # Sent (and given up) by the pool's worker, not by the thread that answered the request.
    assert [
        (r.threadName.startswith("mail"), r.getMessage()) for r in caplog.records if r.name == "accounts.mail"
    ] == [(True, "could not send 'Reset your password' to alice@example.org")]
