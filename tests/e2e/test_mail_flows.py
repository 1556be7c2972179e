"""Email verification and password reset end to end: a real daphne mails through a real SMTP server
on loopback (aiosmtpd), the test reads the mail, follows its link (the page it opens is the web
client) and does over HTTP what the page does. Both legs; the browser's turn is in
test_browser_account.py."""

import jwt

from tests.e2e import smtp
from tests.e2e.browser import PASSWORD, unique
from tests.e2e.smtp import Inbox, body_of, link_of
from tests.e2e.test_http import call
from tests.e2e.test_ws import no_server_tracebacks  # noqa: F401 (autouse: daphne logs no traceback)

NEW_PASSWORD = "a-Brand-new-passw0rd"
smtp_inbox, mailing_server = smtp.smtp_inbox, smtp.mailing_server  # the fixtures


def ok(reply, status: int) -> dict | None:
    assert reply.status == status, reply.text
    return reply.json() if reply.text else None


def sign_in(base: str, username: str, password: str = PASSWORD) -> dict:
    return ok(call(base, "POST", "/api/auth/token", {"username": username, "password": password}), 200)


def test_an_address_is_verified_then_a_forgotten_password_reset_through_the_mailed_links(
    mailing_server: str, smtp_inbox: Inbox
) -> None:
    base, username = mailing_server, unique("reset")
    address = f"{username}@Example.org"
    body = {"username": username, "password": PASSWORD, "email": address}
    me = ok(call(base, "POST", "/api/auth/register", body), 201)
    assert (me["email"], me["email_verified"]) == (address, False)

    # Before the address is verified, a reset request mails nothing (and answers the same).
    assert ok(call(base, "POST", "/api/auth/password-reset", {"login": username}), 202) is None
    verification = smtp_inbox.next_mail(address)
    assert verification["Subject"] == "Confirm your email address"
    smtp_inbox.nothing_more()
    link, (kind, token) = link_of(verification)
    assert (link.startswith(f"{base}/#"), kind) == (True, "verify-email")
    page = call(base, "GET", link.removeprefix(base).split("#")[0])  # the link opens the web client
    assert (page.status, page.content_type.split(";")[0]) == (200, "text/html")
    ok(call(base, "POST", "/api/auth/email/verify", {"token": token}), 204)
    sessions = [sign_in(base, username), sign_in(base, username)]
    assert ok(call(base, "GET", "/api/users/me", token=sessions[0]["access"]), 200)["email_verified"] is True

    # The reset, asked for by the address in another case.
    assert ok(call(base, "POST", "/api/auth/password-reset", {"login": address.upper()}), 202) is None
    reset = smtp_inbox.next_mail(address)
    assert reset["Subject"] == "Reset your password"
    assert username in body_of(reset)
    _, (kind, uid, token) = link_of(reset)
    assert kind == "reset-password"
    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    ok(call(base, "POST", "/api/auth/password-reset/confirm", confirm), 204)

    # Every session is signed out; the old password fails, the new one works; the link is spent.
    for session in sessions:
        refused = call(base, "POST", "/api/auth/token/refresh", {"refresh": session["refresh"]})
        assert refused.status == 401, refused.text
        assert call(base, "GET", "/api/users/me", token=session["access"]).status == 401
    assert call(base, "POST", "/api/auth/token", {"username": username, "password": PASSWORD}).status == 401
    fresh = sign_in(base, username, NEW_PASSWORD)
    assert jwt.decode(fresh["access"], options={"verify_signature": False})["sid"]
    again = call(
        base, "POST", "/api/auth/password-reset/confirm", {**confirm, "new_password": "x-Third-passw0rd"}
    )
    assert (again.status, again.json()["details"]["reason"]) == (400, "link_invalid")
    smtp_inbox.nothing_more()


def test_a_reset_for_no_such_account_answers_the_same_and_mails_nothing(
    mailing_server: str, smtp_inbox: Inbox
) -> None:
    for login in ("nobody-" + unique("x"), "nobody@example.org"):
        reply = call(mailing_server, "POST", "/api/auth/password-reset", {"login": login})
        assert (reply.status, reply.text) == (202, "")
    # A mail that is sent after these would show here: a known account's request is mailed next,
    # and it must be the first thing the server received.
    username = unique("known")
    body = {"username": username, "password": PASSWORD, "email": f"{username}@example.org"}
    ok(call(mailing_server, "POST", "/api/auth/register", body), 201)
    assert smtp_inbox.next_mail(f"{username}@example.org")["Subject"] == "Confirm your email address"
    smtp_inbox.nothing_more()
