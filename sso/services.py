"""Signing in with an OpenID provider: the account behind a provider's identity, and the one-time
code that hands the browser page its session (docs/architecture.md, "Single sign-on").

There is no acting user here: the provider vouches for the person (its signed ID token, checked
by sso.provider), and the one-time code stands for that proof until the page exchanges it."""

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.access import inactive_actor
from accounts.models import User
from accounts.sessions import start_session
from imsuite.errors import DomainError, ErrorCode

from .models import ExternalIdentity

CODE_TTL_SECONDS = 60
USERNAME_MAX, USERNAME_MIN = 32, 3
NOT_USERNAME = re.compile(r"[^A-Za-z0-9_.-]+")
UNIQUE_ATTEMPTS = 20
EMAIL_MAX = User._meta.get_field("email").max_length
SUBJECT_MAX = ExternalIdentity._meta.get_field("subject").max_length


def refused(reason: str, message: str) -> DomainError:
    """The refusals of a provider sign-in; `reason` is what the web client explains."""
    return DomainError(ErrorCode.AUTHENTICATION_FAILED, message, {"reason": reason})


def verified_email(claims: Mapping[str, Any]) -> str:
    """The email claim only when the provider says it verified it: an unverified address proves
    nothing about who owns it."""
    email = claims.get("email")
    if claims.get("email_verified") is True and isinstance(email, str) and len(email.strip()) <= EMAIL_MAX:
        return email.strip()
    return ""


def _username_base(claims: Mapping[str, Any]) -> str:
    for candidate in (claims.get("preferred_username"), verified_email(claims).split("@")[0]):
        if isinstance(candidate, str):
            cleaned = NOT_USERNAME.sub("", candidate)[: USERNAME_MAX - 4]
            if len(cleaned) >= USERNAME_MIN:
                return cleaned
    return "user"


def _free_username(base: str) -> str:
    """`base`, or base-2, base-3...: the first no account has (usernames are case-insensitive)."""
    taken = {
        name.lower()
        for name in User.objects.filter(username__istartswith=base).values_list("username", flat=True)
    }
    for n in range(1, 10_000):
        name = base if n == 1 else f"{base}-{n}"
        if name.lower() not in taken:
            return name
    return f"{base[:20]}-{secrets.token_hex(4)}"


def _create_account(issuer: str, subject: str, claims: Mapping[str, Any]) -> User:
    email = verified_email(claims)
    if email and User.objects.filter(email__iexact=email).exists():
        raise refused(
            "email_in_use",
            "An account with this email address exists already. Sign in to it with its password;"
            " it is not linked to the provider without its owner.",
        )
    name = claims.get("name")
    nickname = name.strip()[:64] if isinstance(name, str) else ""
    base = _username_base(claims)
    for _ in range(UNIQUE_ATTEMPTS):
        username = _free_username(base)
        try:
            with transaction.atomic():
                user = User(username=username, nickname=nickname or username, email=email)
                user.set_unusable_password()
                user.save()
                ExternalIdentity.objects.create(
                    user=user, issuer=issuer, subject=subject, last_used_at=timezone.now()
                )
                return user
        except IntegrityError:  # a name (or this identity) was taken meanwhile: look again
            if ExternalIdentity.objects.filter(issuer=issuer, subject=subject).exists():
                return _linked_account(issuer, subject)
    raise DomainError(ErrorCode.CONFLICT, "No free username could be found.", {"reason": "username_taken"})


def _linked_account(issuer: str, subject: str) -> User:
    identity = ExternalIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
    if not identity.user.is_active:
        raise inactive_actor()
    ExternalIdentity.objects.filter(pk=identity.pk).update(last_used_at=timezone.now())
    return identity.user


def identity_sign_in(*, issuer: str, claims: Mapping[str, Any]) -> User:
    """The account linked to the provider's (issuer, sub); created on the first sign-in, with the
    username from preferred_username (made unique), the nickname from name and the email only when
    verified. An existing account with that email is never taken over (reason email_in_use), and a
    deactivated account stays out (reason user_inactive)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX:
        raise refused("claims_invalid", "The provider named no subject (or one too long).")
    if ExternalIdentity.objects.filter(issuer=issuer, subject=subject).exists():
        return _linked_account(issuer, subject)
    return _create_account(issuer, subject, claims)


@dataclass(frozen=True)
class _Grant:
    user_id: int
    holder: str


def _code_key(code: str) -> str:
    return "sso-code:" + hashlib.sha256(code.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256: what an app sends to /oidc/start/ for the verifier it keeps."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_holder(*, session_key: str | None = None, app_challenge: str | None = None) -> str:
    """Who may exchange a code: the browser session that went to the provider (a code carried to
    another browser signs nobody in there: login CSRF), or for an app the holder of the PKCE
    verifier whose challenge started the sign-in (another app catching the redirect to the app's
    URL scheme has the code but not the verifier). Empty, it matches nobody."""
    if app_challenge:
        return f"app:{app_challenge}"
    return f"session:{session_key}" if session_key else ""


def exchange_code_issue(*, user: User, holder: str) -> str:
    """A one-time code for `user`, good for CODE_TTL_SECONDS, that only `holder` (code_holder) can
    exchange. The cache, shared by every process, keeps only its hash."""
    code = secrets.token_urlsafe(32)
    cache.set(_code_key(code), _Grant(user.pk, holder), timeout=CODE_TTL_SECONDS)
    return code


def exchange_code_redeem(*, code: str, holder: str, user_agent: str = "", address: str = "") -> RefreshToken:
    """The session a one-time code stands for. The code is spent by the first attempt, right or
    wrong; unknown, spent, expired and foreign codes get one answer (reason code_invalid)."""
    key = _code_key(code)
    grant = cache.get(key)
    if (
        grant is None
        or not cache.delete(key)
        or not holder
        or not secrets.compare_digest(grant.holder, holder)
    ):
        raise refused("code_invalid", "This sign-in code is unknown, used, expired or not this client's.")
    user = User.objects.filter(pk=grant.user_id, is_active=True).first()
    if user is None:
        raise inactive_actor()
    return start_session(user, user_agent=user_agent, address=address)
