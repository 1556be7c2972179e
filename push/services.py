"""Registering and removing the devices that receive pushes (REST), and what became of a push
(the pusher)."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.access import require_moderator
from accounts.models import User
from imsuite import audit, outbound
from imsuite.errors import DomainError, ErrorCode, not_found, validation_error

from .models import PushSubscription
from .senders import Delivery

BACKOFF_FIRST_SECONDS = 30


def _check_endpoint(endpoint: str) -> str:
    """An http(s) URL to an address the outbound guard allows. A name that does not resolve (yet)
    is accepted: every push checks the address again (imsuite.outbound_http)."""
    endpoint = endpoint.strip()
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host.encode("idna")
    except ValueError as exc:  # a bad port, a bracketed host that is no IPv6 address, a bad name
        raise validation_error("endpoint", "format", "This is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise validation_error("endpoint", "scheme", "A push endpoint is an http:// or https:// URL.")
    try:
        outbound.check_host(host, port)
    except outbound.AddressNotAllowed as exc:
        raise validation_error("endpoint", outbound.REASON, str(exc)) from exc
    except OSError:  # does not resolve (yet)
        pass
    return endpoint


def subscription_register(
    *,
    actor: User,
    kind: str,
    endpoint: str,
    keys: dict[str, str] | None = None,
    label: str = "",
    previews: bool = True,
) -> PushSubscription:
    """Register a device, or update it: the same endpoint registered again (a browser renewed its
    keys, or another person signed in on the device) is this person's from now on, with a clean record."""
    endpoint = _check_endpoint(endpoint)
    keys = keys or {}
    if kind == PushSubscription.Kind.WEBPUSH and not (keys.get("p256dh") and keys.get("auth")):
        raise validation_error("keys", "required", "A Web Push subscription needs keys.p256dh and keys.auth.")
    limit = settings.IMSUITE["PUSH_MAX_SUBSCRIPTIONS"]
    fields = {
        "user": actor,
        "kind": kind,
        "p256dh": keys.get("p256dh", ""),
        "auth": keys.get("auth", ""),
        "label": label,
        "previews": previews,
        "failures": 0,
        "retry_at": None,
        "retry_payload": None,
        "last_error": "",
    }
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=actor.pk).first()  # one registration at a time
            if PushSubscription.objects.filter(user=actor).exclude(endpoint=endpoint).count() >= limit:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"A person has at most {limit} push subscriptions.",
                    {"reason": "subscription_limit", "limit": limit},
                )
            subscription, _ = PushSubscription.objects.update_or_create(endpoint=endpoint, defaults=fields)
            return subscription
    except IntegrityError as exc:  # the same endpoint registered at this very moment by someone else
        raise DomainError(
            ErrorCode.CONFLICT, "This endpoint is being registered; try again.", {"reason": "duplicate"}
        ) from exc


def subscription_delete(*, actor: User, subscription_id: int) -> None:
    deleted, _ = PushSubscription.objects.filter(pk=subscription_id, user=actor).delete()
    if not deleted:
        raise not_found("Push subscription")


def subscription_remove(*, actor: User, subscription_id: int) -> None:
    """A moderator removes anyone's device (a dead or abused endpoint); audited. The device
    registers again the next time its app starts, as after a sign-out."""
    require_moderator(actor)
    with transaction.atomic():
        subscription = PushSubscription.objects.select_for_update().filter(pk=subscription_id).first()
        if subscription is None:
            raise not_found("Push subscription")
        subscription.delete()
        audit.record(
            actor,
            "push_subscription.remove",
            "push_subscription",
            subscription_id,
            user_id=subscription.user_id,
        )


def backoff(failures: int) -> timedelta:
    """The wait before the next try after `failures` failures in a row: 30 s, doubling, capped."""
    cap = settings.IMSUITE["PUSH_BACKOFF_MAX_SECONDS"]
    return timedelta(seconds=min(cap, BACKOFF_FIRST_SECONDS * 2 ** min(failures - 1, 20)))


def subscriptions_delivered(*, results: list[tuple[PushSubscription, Delivery, dict]], now: datetime) -> None:
    """Keep what became of pushes: success clears the record, "gone" removes the subscription,
    "retry" counts the failure and keeps its payload for the next try. Successes and removals are
    one statement each for all of them (a busy pusher finishes hundreds a second)."""
    by_status: dict[str, list[PushSubscription]] = {"ok": [], "gone": [], "retry": []}
    for subscription, delivery, _ in results:
        by_status[delivery.status].append(subscription)
    if by_status["gone"]:
        PushSubscription.objects.filter(pk__in=[s.pk for s in by_status["gone"]]).delete()
    if by_status["ok"]:
        PushSubscription.objects.filter(pk__in=[s.pk for s in by_status["ok"]]).update(
            failures=0, retry_at=None, retry_payload=None, last_error="", last_success_at=now
        )
        for subscription in by_status["ok"]:
            subscription.failures, subscription.retry_at = 0, None
    for subscription, delivery, payload in results:
        if delivery.status == "retry":
            subscription.failures += 1
            subscription.retry_at = now + backoff(subscription.failures)
            PushSubscription.objects.filter(pk=subscription.pk).update(
                failures=subscription.failures,
                retry_at=subscription.retry_at,
                retry_payload=payload,
                last_error=delivery.detail[:300],
            )
