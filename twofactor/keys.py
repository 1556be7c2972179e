"""The two-factor key: TOTP secrets are encrypted (Fernet) and recovery codes hashed (HMAC-SHA256)
with keys derived from SECRET_KEY (salts below), so a copy of the database alone reveals neither.
Changing SECRET_KEY therefore voids every enrolment and recovery code: docs/architecture.md,
"Two-factor sign-in", says how operators rotate it."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from django.utils.crypto import salted_hmac

SECRET_SALT = "imsuite.twofactor.totp-secret"
RECOVERY_SALT = "imsuite.twofactor.recovery-code"


def _fernet() -> Fernet:
    key = salted_hmac(SECRET_SALT, "key", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def recovery_hash(code: str) -> str:
    """Codes carry 60 random bits, so a keyed fast hash suffices (a slow one would cost seconds per
    sign-in: each attempt is compared with every unused code)."""
    normalised = code.replace("-", "").replace(" ", "").lower()
    key = salted_hmac(RECOVERY_SALT, "key", algorithm="sha256").digest()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()
