"""The VAPID key pair (RFC 8292) that signs every Web Push request. A push service accepts a push
for a subscription only when it is signed by the key the browser subscribed with (its
applicationServerKey), so the key must outlive every subscription made with it.

VAPID_PRIVATE_KEY, when set, is the key. Otherwise the embedded mode (no DATABASE_URL) makes one
pair on first use and keeps it in push.VapidKey. With DATABASE_URL set and no VAPID_PRIVATE_KEY,
Web Push is off (one warning per process): a production key belongs to the operator, who keeps
it with the deployment's secrets; a key made silently would die with a restored or a new
database and, with it, every browser's subscription."""

import base64
import binascii
import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from py_vapid import Vapid, VapidException

from .models import VapidKey

logger = logging.getLogger(__name__)

DISABLED_REASON = "webpush_not_configured"
_ADVISORY_LOCK = 0x56415049  # "VAPI": one maker of the stored pair at a time on PostgreSQL


class WebPushDisabled(Exception):
    """DATABASE_URL is set and VAPID_PRIVATE_KEY is not: no key, no Web Push."""


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    public_key: str  # urlsafe base64 of the uncompressed P-256 point: the applicationServerKey
    subject: str  # the JWT's "sub": who push services may contact


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


def private_raw(key: ec.EllipticCurvePrivateKey) -> str:
    """The urlsafe base64 of the raw 32-byte private value, the form VAPID_PRIVATE_KEY takes."""
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """What py_vapid reads: a PEM (PKCS#8 or SEC 1; newlines may be written as \\n, as env files
    do), or urlsafe base64 of the raw 32-byte key or of its DER."""
    text = text.strip().replace("\\n", "\n")
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Vapid.from_string(text).private_key
    except (ValueError, TypeError, binascii.Error, VapidException) as exc:
        raise ImproperlyConfigured(f"VAPID_PRIVATE_KEY is not a key py_vapid reads: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) EC key.")
    return key


def _stored_key() -> ec.EllipticCurvePrivateKey:
    """The embedded mode's pair, made by whichever process asks first. SQLite transactions here
    begin IMMEDIATE (one writer at a time), PostgreSQL takes an advisory lock: two processes
    starting at once cannot each make a pair."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        row = VapidKey.objects.order_by("pk").first()
        if row is None:
            key = new_key()
            row = VapidKey.objects.create(private_key=private_raw(key), public_key=public_point(key))
            logger.info("Web Push: made the VAPID key pair (kept in the database)")
    return load_private_key(row.private_key)


_loaded: dict[tuple[str, str, str], VapidKeys] = {}
_warned = False


def keys() -> VapidKeys:
    """The key pair in use. Raises WebPushDisabled (see the module), ImproperlyConfigured for a
    VAPID_PRIVATE_KEY or VAPID_SUBJECT that cannot be used."""
    global _warned
    source = (settings.VAPID_PRIVATE_KEY, settings.DATABASE_URL, settings.VAPID_SUBJECT)
    if source in _loaded:
        return _loaded[source]
    subject = settings.VAPID_SUBJECT
    if not subject.startswith(("mailto:", "https://")):
        raise ImproperlyConfigured("VAPID_SUBJECT must be a mailto: or an https:// URL (RFC 8292).")
    if settings.VAPID_PRIVATE_KEY:
        key = load_private_key(settings.VAPID_PRIVATE_KEY)
    elif settings.DATABASE_URL:
        if not _warned:
            _warned = True
            logger.warning(
                "Web Push is off: DATABASE_URL is set and VAPID_PRIVATE_KEY is not. Make a key with "
                "`manage.py vapid_key` and set VAPID_PRIVATE_KEY (README, Web Push)."
            )
        raise WebPushDisabled(DISABLED_REASON)
    else:
        key = _stored_key()
    _loaded[source] = found = VapidKeys(key, public_point(key), subject)
    return found


def forget_loaded_keys() -> None:
    """Forget this process's loaded pair and its warning (the tests: as if the process restarted)."""
    global _warned
    _loaded.clear()
    _warned = False
