"""Services for one's own credentials and sign-ins: email address, password change and reset by
email, and the list of signed-in sessions. Adapters call these and nothing else; each checks who
may act itself."""

import logging

from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from imsuite.errors import DomainError, ErrorCode, not_found, validation_error
from imsuite.ip_networks import client_key
from imsuite.ratelimit import rate_limit_named

from .access import require_active
from .email_addresses import check_email, email_taken, read_verification, send_verification
from .mail import Mail, public_link, send_after_commit
from .models import User, UserSession
from .services import replace_password, sign_out_sessions, signin_admit, signin_failed
from .sessions import refresh_tokens_by_session

logger = logging.getLogger(__name__)


def _require_person(actor: User) -> None:
    """These are a person's: bots have no address, password or sign-in sessions."""
    require_active(actor)
    if actor.is_bot:
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "Bots have no password, address or sessions.", {"reason": "bot"}
        )


# --- email address ---------------------------------------------------------------------------


def email_set(*, actor: User, email: str, link_base: str) -> User:
    """Give (or, with "", remove) one's address. A new address is unverified until its link is
    opened, and is sent one; giving the same unverified address again sends a new link. Every
    change counts against RATE_LIMIT_EMAIL_CHANGES (each may mail a stranger)."""
    _require_person(actor)
    email = check_email(email, actor.pk)
    if email.casefold() == actor.email.casefold() and (actor.email_verified or not email):
        return actor
    rate_limit_named("EMAIL_CHANGES", actor.pk)
    with transaction.atomic():
        actor.email, actor.email_verified = email, False
        actor.save(update_fields=["email", "email_verified"])
        if email:
            send_verification(actor, link_base)
    return actor


def email_verify(*, token: str) -> User:
    """Open a verification link: whoever holds it proves they read the address's mail, signed in
    or not. A link for an address the account no longer has is refused (link_invalid); another
    account that verified the address first wins (CONFLICT email_taken)."""
    user_id, email = read_verification(token)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or user.email.casefold() != email.casefold():
            raise validation_error("token", "link_invalid", "This link is not valid or has expired.")
        if user.email_verified:
            return user
        if User.objects.filter(email__iexact=email, email_verified=True).exists():
            raise email_taken()
        user.email_verified = True
        try:
            with transaction.atomic():
                user.save(update_fields=["email_verified"])
        except IntegrityError as exc:  # another account verified it meanwhile
            raise email_taken() from exc
    return user


# --- password --------------------------------------------------------------------------------


def password_change(
    *, actor: User, old_password: str, new_password: str, sid: str | None, address: str
) -> User:
    """Change one's password, knowing the old one: every other session is signed out (whoever
    learnt the old password may be using it), the one that asked stays. A wrong old password
    counts as a failed sign-in (the sign-in throttle guards it: a stolen access token must not
    become a way to guess the password)."""
    _require_person(actor)
    who = {"username": actor.username, "address": address}
    signin_admit(**who)
    if not actor.check_password(old_password):
        signin_failed(**who)
        raise validation_error("old_password", "wrong_password", "The current password is not right.")
    replace_password(actor, new_password, by=actor, action="user.password_change", keep=sid)
    return actor


def _reset_account(login: str) -> User | None:
    """The account a reset request names by username or verified address, if it can be reset: an
    active person whose password sign-in a moderator has not turned off."""
    login = (login or "").strip()
    if not login:
        return None
    named = {"email__iexact" if "@" in login else "username__iexact": login}
    user = User.objects.filter(**named, email_verified=True, is_active=True, is_bot=False).first()
    return user if user is not None and user.has_usable_password() else None


def password_reset_request(*, login: str, address: str, link_base: str) -> None:
    """Mail a reset link to the verified address of the account named by username or address.
    The answer is the same whether or not there is such an account: the request counts against
    RATE_LIMIT_PASSWORD_RESETS per client address (refused, RATE_LIMITED), and the mails against
    RATE_LIMIT_PASSWORD_RESET_MAILS per account (past it, no mail, silently)."""
    rate_limit_named("PASSWORD_RESETS", client_key(address))
    user = _reset_account(login)
    if user is None:
        return
    try:
        rate_limit_named("PASSWORD_RESET_MAILS", user.pk)
    except DomainError:
        logger.info("password reset mail for user %s not sent: too many asked for", user.pk)
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = public_link(f"reset-password/{uid}/{default_token_generator.make_token(user)}", link_base)
    body = _(
        "Hello %(name)s,\n\nsomeone asked to reset the password of your IM-Suite account %(username)s."
        " To choose a new password, open this link:\n\n%(link)s\n\n"
        "If it was not you, ignore this mail: your password stays as it is."
    ) % {"name": user.display_name, "username": user.username, "link": link}
    send_after_commit(Mail(user.email, _("Reset your password"), body))


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; every session is signed out. The link works once
    (the token hashes the password it replaces) and for PASSWORD_RESET_TIMEOUT seconds."""
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError):
        user_id = None
    user = User.objects.filter(pk=user_id, is_active=True, is_bot=False).first() if user_id else None
    if user is None or not default_token_generator.check_token(user, token):
        raise validation_error("token", "link_invalid", "This link is not valid or has expired.")
    replace_password(user, new_password, by=user, action="user.password_reset")
    return user


# --- sessions --------------------------------------------------------------------------------


def session_list(*, actor: User) -> list[UserSession]:
    """One's signed-in sessions that are still live (refreshable, or with an access token that may
    live; a signed-out one's row is gone), the most recently used first."""
    _require_person(actor)
    sids = refresh_tokens_by_session(actor.pk)
    return list(UserSession.objects.filter(user=actor, sid__in=sids).order_by("-last_used_at", "-pk"))


def session_revoke(*, actor: User, session_id: int) -> None:
    """Sign one of one's sessions out (its open connections close). Another person's is not found,
    whoever asks: moderators sign people out by deactivating or setting a password."""
    _require_person(actor)
    session = UserSession.objects.filter(pk=session_id, user=actor).first()
    if session is None:
        raise not_found("Session")
    with transaction.atomic():
        sign_out_sessions(actor.pk, only=session.sid)


def sessions_revoke_others(*, actor: User, sid: str | None) -> int:
    """Sign out every session but the one asking. Returns how many were signed out."""
    _require_person(actor)
    with transaction.atomic():
        return len(sign_out_sessions(actor.pk, keep=sid))
