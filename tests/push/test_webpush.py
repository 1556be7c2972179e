"""The Web Push sender end to end against a push service on loopback (tests/push/push_service.py),
with real RFC 8291 and RFC 8292 crypto both ways: what arrives is signed with the server's VAPID
key for the service's origin and decrypts, with the subscription's keys, to exactly the payload.
And what the sender makes of the service's answers: 2xx ok, 404/410 gone, the rest retry."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from push import webpush
from push.models import PushSubscription
from push.senders import Delivery, sender_for
from push.vapid import new_key, private_raw, public_point
from push.webpush import MAX_PLAINTEXT_BYTES, WebPushSender
from tests.push.push_service import Answer, BrowserKeys, PushService, running_push_service

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "type": "message",
    "chat_id": 42,
    "chat_title": "周末 hiking",
    "sender_name": "Ann",
    "text": "明天见 — see you at 9",
    "count": 2,
    "message_id": 1234,
    "mentioned": False,
}


@pytest.fixture
def vapid_public_key(settings: Any) -> str:
    """A VAPID key of this test's own in VAPID_PRIVATE_KEY; its public key."""
    key = new_key()
    settings.VAPID_PRIVATE_KEY = private_raw(key)
    return public_point(key)


@pytest.fixture
def service() -> Iterator[PushService]:
    with running_push_service() as running:
        yield running


def subscription_of(user: Any, endpoint: str, keys: BrowserKeys) -> PushSubscription:
    return PushSubscription.objects.create(
        user=user, kind="webpush", endpoint=endpoint, p256dh=keys.p256dh, auth=keys.auth_b64
    )


def deliver(user: Any, service: PushService, answer: Answer | None = None, payload: Any = None) -> Delivery:
    endpoint, keys = service.subscribe(answer)
    return WebPushSender().deliver(subscription_of(user, endpoint, keys), payload or PAYLOAD)


def test_a_push_arrives_signed_and_decrypts_to_the_payload(alice, service, vapid_public_key):
    before = int(time.time())
    assert deliver(alice, service) == Delivery("ok")
    assert service.failures == []
    [push] = service.received
    assert push.payload == PAYLOAD
    assert push.vapid_key == vapid_public_key
    assert push.claims["aud"] == service.origin
    assert push.claims["sub"] == "mailto:admin@localhost"
    assert before + webpush.JWT_SECONDS <= push.claims["exp"] <= int(time.time()) + webpush.JWT_SECONDS
    assert {name: push.headers[name] for name in ("ttl", "urgency", "topic", "content-type")} == {
        "ttl": "86400",
        "urgency": "normal",
        "topic": "chat-42",
        "content-type": "application/octet-stream",
    }


def test_a_mention_is_urgent_and_the_subject_is_the_operators(alice, service, vapid_public_key, settings):
    settings.VAPID_SUBJECT = "https://chat.example.com"
    payload = {**PAYLOAD, "text": None, "mentioned": True}
    assert deliver(alice, service, payload=payload) == Delivery("ok")
    [push] = service.received
    assert (push.payload, push.headers["urgency"], push.claims["sub"]) == (
        payload,
        "high",
        "https://chat.example.com",
    )


def test_a_text_too_long_for_a_push_is_shortened(alice, service, vapid_public_key):
    payload = {**PAYLOAD, "text": "长" * 3000}  # 9000 bytes of UTF-8
    assert deliver(alice, service, payload=payload) == Delivery("ok")
    [push] = service.received
    text = push.payload.pop("text")
    assert push.payload == {k: v for k, v in PAYLOAD.items() if k != "text"}
    assert text.endswith("…") and set(text[:-1]) == {"长"}
    assert MAX_PLAINTEXT_BYTES - 3 < len(push.plaintext) <= MAX_PLAINTEXT_BYTES
    assert len(push.body) <= 4096


@pytest.mark.parametrize("status", [404, 410])
def test_an_endpoint_that_is_gone(alice, service, vapid_public_key, status):
    assert deliver(alice, service, Answer(status)) == Delivery("gone", f"HTTP {status}")


@pytest.mark.parametrize("status", [500, 503, 429, 400])
def test_a_failing_service_is_retried(alice, service, vapid_public_key, status):
    assert deliver(alice, service, Answer(status)) == Delivery("retry", f"HTTP {status}")


def test_the_registry_sends_web_push_through_this_module(alice, service, vapid_public_key):
    endpoint, keys = service.subscribe()
    assert sender_for("webpush").deliver(subscription_of(alice, endpoint, keys), PAYLOAD) == Delivery("ok")
    assert [push.payload for push in service.received] == [PAYLOAD]


def test_a_timeout_is_retried(alice, service, vapid_public_key, settings):
    settings.IMSUITE = {**settings.IMSUITE, "PUSH_TIMEOUT_SECONDS": 0.3}
    release = threading.Event()
    try:
        delivery = deliver(alice, service, Answer(201, wait_for=release))
    finally:
        release.set()
    assert delivery.status == "retry" and "timed out" in delivery.detail, delivery


@pytest.mark.parametrize("where", ["metadata", "loopback"])
def test_a_refused_address_is_never_asked(alice, service, vapid_public_key, settings, monkeypatch, where):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("connected"))
    endpoint, keys = service.subscribe()
    if where == "metadata":
        endpoint = "http://169.254.169.254/push/abc"
    delivery = WebPushSender().deliver(subscription_of(alice, endpoint, keys), PAYLOAD)
    assert delivery.status == "retry"
    assert delivery.detail.startswith("address_not_allowed: "), delivery
    assert service.received == []


def test_keys_no_browser_makes_are_gone(alice, service, vapid_public_key):
    endpoint, keys = service.subscribe()
    subscription = subscription_of(alice, endpoint, keys)
    subscription.p256dh = "AAAA"
    delivery = WebPushSender().deliver(subscription, PAYLOAD)
    assert delivery.status == "gone" and delivery.detail.startswith("invalid_subscription_keys"), delivery
    assert service.received == []
