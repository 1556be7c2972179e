"""UnifiedPush: the app's own endpoint, registered by the app, takes the payload as a plain POST
(no vendor gateway, no registration, no cap). The endpoint's distributor hands the body to the app."""

import http.client
import json

from django.conf import settings

from imsuite import outbound_http

from .models import PushSubscription
from .senders import Delivery, delivery_of_status

TTL_SECONDS = 24 * 3600  # how long a distributor may keep a push for a device that is offline


def deliver(subscription: PushSubscription, payload: dict) -> Delivery:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "TTL": str(TTL_SECONDS),
        "Urgency": "high" if payload.get("mentioned") else "normal",
    }
    try:
        answer = outbound_http.post(
            subscription.endpoint, body, headers, timeout=settings.IMSUITE["PUSH_TIMEOUT_SECONDS"]
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:  # a refused address is an OSError
        return Delivery("retry", f"{type(exc).__name__}: {exc}")
    return delivery_of_status(answer.status)
