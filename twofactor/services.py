"""Two-factor sign-in (TOTP, RFC 6238, and recovery codes): enrolment, the second step of a
sign-in, and the check other services ask for before an irreversible step (account deletion,
disabling the second factor). Every code attempt counts against RATE_LIMIT_TWO_FACTOR per account."""

import secrets
import time
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.access import require_active, require_moderator
from accounts.models import User
from accounts.sessions import start_session
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, permission_denied, validation_error
from imsuite.ratelimit import rate_limit_named

from . import keys
from .models import RecoveryCode, TwoFactor

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32's, lower case: 5 bits a character
CHALLENGE_SALT = "imsuite.twofactor.challenge"
ISSUER = "IM-Suite"
clock = time.time  # the TOTP clock (tests move it from one 30-second step to the next)


# ---- state ---------------------------------------------------------------------------------


def is_enabled(user: User) -> bool:
    return TwoFactor.objects.filter(user_id=user.pk, confirmed_at__isnull=False).exists()


def is_required(user: User) -> bool:
    """Staff must have a second factor when TWO_FACTOR_REQUIRED_FOR_STAFF is on."""
    return bool(user.is_staff and settings.IMSUITE["TWO_FACTOR_REQUIRED_FOR_STAFF"])


def two_factor_status(*, actor: User) -> dict[str, Any]:
    require_active(actor)
    row = TwoFactor.objects.filter(user_id=actor.pk).first()
    left = RecoveryCode.objects.filter(user_id=actor.pk, used_at__isnull=True).count()
    return {
        "enabled": bool(row and row.confirmed_at),
        "pending": bool(row and not row.confirmed_at),
        "required": is_required(actor),
        "recovery_codes_left": left if row and row.confirmed_at else 0,
    }


def _person(actor: User) -> None:
    require_active(actor)
    if actor.is_bot:
        raise permission_denied("bot", "Bots sign in with their token; they have no second factor.")


# ---- enrolment -----------------------------------------------------------------------------


def two_factor_enrol(*, actor: User) -> dict[str, str]:
    """Start (or restart) an enrolment: a new secret, pending until confirmed with a first code.
    Answers the otpauth:// URI and its QR code (SVG); the secret is never shown again."""
    _person(actor)
    secret = pyotp.random_base32()
    with transaction.atomic():
        row = TwoFactor.objects.select_for_update().filter(user_id=actor.pk).first()
        if row is not None and row.confirmed_at is not None:
            raise DomainError(
                ErrorCode.CONFLICT, "Two-factor sign-in is already on.", {"reason": "already_enabled"}
            )
        TwoFactor.objects.update_or_create(
            user_id=actor.pk, defaults={"secret": keys.encrypt(secret), "last_step": 0}
        )
    uri = pyotp.TOTP(secret).provisioning_uri(name=actor.username, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return {"otpauth_uri": uri, "qr_svg": svg}


def two_factor_confirm(*, actor: User, code: str) -> list[str]:
    """The first code turns the pending enrolment on; answers the recovery codes, shown once."""
    _person(actor)
    rate_limit_named("TWO_FACTOR", actor.pk)
    row = TwoFactor.objects.filter(user_id=actor.pk).first()
    if row is None or row.confirmed_at is not None:
        raise DomainError(
            ErrorCode.CONFLICT, "There is no enrolment to confirm.", {"reason": "not_enrolling"}
        )
    with transaction.atomic():
        _accept_totp(row, code)
        TwoFactor.objects.filter(pk=row.pk).update(confirmed_at=timezone.now())
        codes = _new_recovery_codes(actor)
        audit.record(actor, "two_factor.enable", "user", actor.pk)
    return codes


def two_factor_recovery_regenerate(*, actor: User, code: str) -> list[str]:
    """New recovery codes for a current TOTP code; the old ones stop working."""
    _person(actor)
    with transaction.atomic():
        _check_totp(actor, code)
        codes = _new_recovery_codes(actor)
        audit.record(actor, "two_factor.recovery_codes", "user", actor.pk)
    return codes


def two_factor_disable(*, actor: User, code: str = "", recovery_code: str = "", password: str = "") -> None:
    """Turn the second factor off: a current code (TOTP or recovery) or the password proves that the
    person at the keyboard is the account's owner, not someone who found it signed in."""
    _person(actor)
    with transaction.atomic():
        if not is_enabled(actor):
            raise DomainError(ErrorCode.CONFLICT, "Two-factor sign-in is off.", {"reason": "not_enabled"})
        if password:
            rate_limit_named("TWO_FACTOR", actor.pk)
            if not check_password(password, actor.password):
                raise validation_error("password", "wrong_password", "This password is wrong.")
        else:
            second_factor_check(actor, code=code, recovery_code=recovery_code)
        TwoFactor.objects.filter(user_id=actor.pk).delete()
        RecoveryCode.objects.filter(user_id=actor.pk).delete()
        audit.record(actor, "two_factor.disable", "user", actor.pk)


def two_factor_reset(*, actor: User, user_id: int) -> None:
    """A moderator turns off a person's second factor (lost phone and lost recovery codes), so that
    they can sign in with the password and enrol again; audited."""
    require_moderator(actor)
    with transaction.atomic():
        removed, _ = TwoFactor.objects.filter(user_id=user_id).delete()
        if not removed:
            raise DomainError(ErrorCode.CONFLICT, "Two-factor sign-in is off.", {"reason": "not_enabled"})
        RecoveryCode.objects.filter(user_id=user_id).delete()
        audit.record(actor, "two_factor.reset", "user", user_id)


def _new_recovery_codes(user: User) -> list[str]:
    """Ten codes of 12 base32 characters (60 bits), grouped 4-4-4 for reading aloud."""
    RecoveryCode.objects.filter(user_id=user.pk).delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    try:
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user_id=user.pk, code_hash=keys.recovery_hash(c)) for c in codes]
        )
    except IntegrityError:  # two equal codes in 2**60: draw again
        return _new_recovery_codes(user)
    return codes


# ---- checking a code -----------------------------------------------------------------------


def _wrong_code(field: str = "code") -> DomainError:
    return validation_error(field, "code_invalid", "This code is not valid.")


def _accept_totp(row: TwoFactor, code: str) -> None:
    """The code of the current 30-second step or a neighbour (clock drift), newer than the last
    accepted step; the step is claimed with one conditional UPDATE, so two requests racing with
    one code cannot both pass."""
    code = (code or "").replace(" ", "")
    totp = pyotp.TOTP(keys.decrypt(row.secret))
    now_step = int(clock()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            claimed = TwoFactor.objects.filter(pk=row.pk, last_step__lt=step).update(last_step=step)
            if not claimed:
                raise validation_error(
                    "code", "code_used", "This code was used already; wait for the next one."
                )
            return
    raise _wrong_code()


def _check_totp(user: User, code: str) -> None:
    rate_limit_named("TWO_FACTOR", user.pk)
    row = TwoFactor.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()
    if row is None:
        raise DomainError(ErrorCode.CONFLICT, "Two-factor sign-in is off.", {"reason": "not_enabled"})
    _accept_totp(row, code)


def second_factor_check(user: User, *, code: str = "", recovery_code: str = "") -> None:
    """A TOTP code, or else a recovery code (used up by this check). Throttled per account; a refusal
    is VALIDATION_ERROR with reason code_invalid (or code_used for a replayed TOTP code)."""
    if code:
        _check_totp(user, code)
        return
    rate_limit_named("TWO_FACTOR", user.pk)
    if not recovery_code:
        raise validation_error("code", "required", "A code from your authenticator or a recovery code.")
    used = RecoveryCode.objects.filter(
        user_id=user.pk, code_hash=keys.recovery_hash(recovery_code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not used:
        raise _wrong_code("recovery_code")


# ---- sign-in -------------------------------------------------------------------------------


def signin_challenge(user: User) -> str:
    """What a right password earns when a second factor is on: a signed, short-lived token naming the
    account and its password (hash), so a password change meanwhile voids it."""
    return signing.dumps({"u": user.pk, "p": user.get_session_auth_hash()}, salt=CHALLENGE_SALT)


def second_factor_required(user: User) -> DomainError:
    """The answer to a right password when a second factor is on: 401 AUTHENTICATION_FAILED with
    reason two_factor_required and the challenge, which clients that do not know two-factor
    sign-in treat as a failed sign-in (never as tokens they cannot find)."""
    return DomainError(
        ErrorCode.AUTHENTICATION_FAILED,
        "Enter the code from your authenticator app (or a recovery code).",
        {
            "reason": "two_factor_required",
            "challenge": signin_challenge(user),
            "expires_in": settings.IMSUITE["TWO_FACTOR_CHALLENGE_SECONDS"],
        },
    )


def _challenge_invalid() -> DomainError:
    return DomainError(
        ErrorCode.AUTHENTICATION_FAILED,
        "This sign-in has expired or is not valid: sign in with your password again.",
        {"reason": "challenge_invalid"},
    )


def _challenge_user(challenge: str) -> User:
    max_age = settings.IMSUITE["TWO_FACTOR_CHALLENGE_SECONDS"]
    try:
        claims = signing.loads(challenge, salt=CHALLENGE_SALT, max_age=max_age)
    except signing.BadSignature as exc:  # SignatureExpired included
        raise _challenge_invalid() from exc
    user = User.objects.filter(pk=claims.get("u"), is_active=True).first()
    if user is None or not secrets.compare_digest(user.get_session_auth_hash(), str(claims.get("p"))):
        raise _challenge_invalid()
    return user


def signin_second_factor(
    *, challenge: str, code: str = "", recovery_code: str = "", user_agent: str = "", address: str = ""
) -> RefreshToken:
    """The second step of a sign-in: the challenge from the password step and a code give the
    session's tokens (started by accounts.sessions.start_session, like every sign-in)."""
    user = _challenge_user(challenge)
    with transaction.atomic():
        second_factor_check(user, code=code, recovery_code=recovery_code)
        if recovery_code and not code:
            audit.record(user, "two_factor.recovery_code_used", "user", user.pk)
    return start_session(user, user_agent=user_agent, address=address)
