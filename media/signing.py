"""Signed, expiring links to attachments.

A link names the attachment, the variant (the file or its thumbnail) and an expiry, signed with
the server's key: an <img> tag loads it without a header, and a leaked link dies. The expiry is
rounded up to a quarter of the lifetime, so the same file keeps the same link for a while and a
browser's cache serves it again. Links are the same for every member who sees the message: the
event is rendered once (docs/architecture.md)."""

import base64
import hmac
import math
import time

from django.conf import settings
from django.utils.crypto import salted_hmac

from imsuite.errors import DomainError, ErrorCode

VARIANTS = ("file", "thumb")
_SALT = "imsuite.media.link"


def _signature(attachment_id: int, variant: str, expires: int) -> str:
    digest = salted_hmac(_SALT, f"{attachment_id}:{variant}:{expires}", algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def link_expiry(now: float | None = None) -> int:
    ttl = settings.IMSUITE["MEDIA_URL_TTL_SECONDS"]
    step = max(1, ttl // 4)
    return math.ceil(((now if now is not None else time.time()) + ttl) / step) * step


def media_path(attachment_id: int, variant: str = "file", expires: int | None = None) -> str:
    """The server-relative link ("/media/<id>/<variant>?exp=...&sig=...")."""
    expires = link_expiry() if expires is None else expires
    signature = _signature(attachment_id, variant, expires)
    return f"/media/{attachment_id}/{variant}?exp={expires}&sig={signature}"


def absolute(path: str) -> str:
    """The link with PUBLIC_BASE_URL in front (bots and other clients that are not on this page)."""
    return f"{settings.PUBLIC_BASE_URL}{path}"


def check_link(attachment_id: int, variant: str, expires: str, signature: str) -> None:
    """Refuse a forged or expired link (PERMISSION_DENIED, reason bad_signature or link_expired)."""
    if (
        variant not in VARIANTS
        or not expires.isdigit()
        or len(expires) > 12
        or not hmac.compare_digest(_signature(attachment_id, variant, int(expires)), signature)
    ):
        raise DomainError(ErrorCode.PERMISSION_DENIED, "This link is not valid.", {"reason": "bad_signature"})
    if int(expires) < time.time():
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "This link has expired; fetch the message or GET /api/attachments/<id> for a new one.",
            {"reason": "link_expired"},
        )
