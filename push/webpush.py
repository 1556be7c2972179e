"""The Web Push sender (RFC 8030): the payload encrypted for the browser's subscription (RFC 8291,
aes128gcm, with its p256dh key and auth secret), the request signed with the server's VAPID key
(RFC 8292), and POSTed through imsuite.outbound_http, the address guard: never by pywebpush's own
HTTP call, which would reach whatever address an endpoint names."""

import binascii
import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from py_vapid.jwt import sign
from pywebpush import WebPusher, WebPushException

from imsuite import outbound_http
from imsuite.outbound import AddressNotAllowed

from . import vapid
from .models import PushSubscription
from .senders import Delivery, delivery_of_status

TTL_SECONDS = 24 * 3600  # how long a push service keeps a push for a device that is offline
JWT_SECONDS = 12 * 3600  # the VAPID token's lifetime (RFC 8292: at most 24 h)
# A push service takes at most 4096 bytes of body: aes128gcm adds an 86-byte header (salt, record
# size, the sender's key) and 17 bytes to the one record (delimiter, tag).
MAX_PLAINTEXT_BYTES = 4096 - 86 - 17
ELLIPSIS = "\u2026"
DETAIL_CHARS = 300  # PushSubscription.last_error


def audience(endpoint: str) -> str:
    """The JWT's "aud": the origin of the push service."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def authorization(keys: vapid.VapidKeys, endpoint: str) -> str:
    """`vapid t=<JWT>, k=<public key>` (RFC 8292), the JWT signed ES256."""
    claims = {"aud": audience(endpoint), "exp": int(time.time()) + JWT_SECONDS, "sub": keys.subject}
    return f"vapid t={sign(claims, keys.private_key)}, k={keys.public_key}"


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def plaintext(payload: dict[str, Any]) -> bytes:
    """The payload as JSON, its `text` shortened (with an ellipsis) if it would not fit in a push."""
    data, text = _json(payload), payload.get("text")
    while len(data) > MAX_PLAINTEXT_BYTES and isinstance(text, str) and text:
        keep = len(text.encode()) - (len(data) - MAX_PLAINTEXT_BYTES) - len(ELLIPSIS.encode())
        text = text.encode()[: max(0, keep)].decode(errors="ignore")
        data = _json({**payload, "text": text + ELLIPSIS})
    return data


def encrypt(subscription: PushSubscription, data: bytes) -> bytes:
    """RFC 8291 aes128gcm for this subscription's keys (a fresh sender key and salt each time)."""
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    return WebPusher(info).encode(data, "aes128gcm")["body"]


class WebPushSender:
    kind = PushSubscription.Kind.WEBPUSH

    def deliver(self, subscription: PushSubscription, payload: dict[str, Any]) -> Delivery:
        """One push, blocking (the pusher calls it from a worker thread). 2xx ok, 404/410 gone;
        any other status, a timeout or a refused address retry."""
        try:
            keys = vapid.keys()
        except vapid.WebPushDisabled:
            return Delivery("retry", vapid.DISABLED_REASON)
        try:
            body = encrypt(subscription, plaintext(payload))
        except (ValueError, binascii.Error, WebPushException) as exc:  # keys no browser would make
            return Delivery("gone", f"invalid_subscription_keys: {exc}"[:DETAIL_CHARS])
        headers = {
            "Authorization": authorization(keys, subscription.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_SECONDS),
            "Urgency": "high" if payload.get("mentioned") else "normal",
        }
        if isinstance(payload.get("chat_id"), int):
            # A newer push for the chat replaces one the push service still holds for the device.
            headers["Topic"] = f"chat-{payload['chat_id']}"
        try:
            answer = outbound_http.post(
                subscription.endpoint, body, headers, settings.IMSUITE["PUSH_TIMEOUT_SECONDS"]
            )
        except AddressNotAllowed as exc:
            return Delivery("retry", str(exc)[:DETAIL_CHARS])
        except ValueError as exc:  # not an http(s) URL: it never will be one
            return Delivery("gone", f"invalid_endpoint: {exc}"[:DETAIL_CHARS])
        except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
            return Delivery("retry", f"{type(exc).__name__}: {exc}"[:DETAIL_CHARS])
        return delivery_of_status(answer.status)


# The registry (push.senders) calls the module's deliver.
deliver = WebPushSender().deliver
