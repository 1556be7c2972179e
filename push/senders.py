"""The pluggable part of pushing: one sender per kind of subscription, each a module with
`deliver(subscription, payload) -> Delivery`. The pusher calls it from a worker thread; it never
raises for a failure of the endpoint, it says what became of the push."""

import importlib
from dataclasses import dataclass
from typing import Literal, Protocol

from .models import PushSubscription

# Modules, imported when first needed: a sender's libraries (pywebpush) load only where pushes go.
SENDERS = {
    PushSubscription.Kind.WEBPUSH: "push.webpush",
    PushSubscription.Kind.UNIFIEDPUSH: "push.unifiedpush",
}


@dataclass(frozen=True)
class Delivery:
    """ok: delivered; gone: the endpoint no longer exists (the subscription is removed); retry: try
    again later (5xx, 429, a timeout, a refused address), with backoff."""

    status: Literal["ok", "gone", "retry"]
    detail: str = ""


class Sender(Protocol):
    def deliver(self, subscription: PushSubscription, payload: dict) -> Delivery: ...


def sender_for(kind: str) -> Sender:
    return importlib.import_module(SENDERS[kind])  # type: ignore[return-value]  (a module is the sender)


def delivery_of_status(status: int) -> Delivery:
    """What an endpoint's HTTP status means for the subscription."""
    if 200 <= status < 300:
        return Delivery("ok")
    if status in (404, 410):
        return Delivery("gone", f"HTTP {status}")
    return Delivery("retry", f"HTTP {status}")
