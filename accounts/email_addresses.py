"""A person's email address: checked, and verified by a signed link before anything relies on it
(only a verified address receives a password reset). Verified addresses are unique regardless of
case (the user_verified_email_ci_unique constraint); unverified ones may repeat, since anyone can
type anyone's address."""

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from imsuite.errors import DomainError, ErrorCode, validation_error

from .mail import Mail, public_link, send_after_commit
from .models import User

VERIFY_SALT = "accounts.email-verification"


def email_taken() -> DomainError:
    return DomainError(
        ErrorCode.CONFLICT,
        "Another account has verified this address.",
        {"field": "email", "reason": "email_taken"},
    )


def check_email(email: str, user_id: int | None) -> str:
    """The address as given (trimmed), "" for none; VALIDATION_ERROR (reason email) for a malformed
    one, CONFLICT (reason email_taken) when another account has verified it."""
    email = (email or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise validation_error("email", "email", "This is not an email address.") from exc
    if User.objects.filter(email__iexact=email, email_verified=True).exclude(pk=user_id).exists():
        raise email_taken()
    return email


def send_verification(user: User, link_base: str) -> None:
    """Mail a link that verifies the user's current address (after the commit)."""
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)
    link = public_link(f"verify-email/{token}", link_base)
    body = _(
        "Hello %(name)s,\n\nto confirm that %(email)s is your address on IM-Suite, open this link:\n\n"
        "%(link)s\n\nIf you did not ask for this, ignore this mail."
    ) % {"name": user.display_name, "email": user.email, "link": link}
    send_after_commit(Mail(user.email, _("Confirm your email address"), body))


def read_verification(token: str) -> tuple[int, str]:
    """(user id, address) from a verification link's token, or VALIDATION_ERROR (reason
    link_invalid) for a forged, damaged or expired one."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_TIMEOUT)
        return int(data["u"]), str(data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise validation_error("token", "link_invalid", "This link is not valid or has expired.") from exc
