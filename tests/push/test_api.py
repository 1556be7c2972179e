"""REST for push devices: POST/GET /api/push/subscriptions and DELETE /api/push/subscriptions/{id},
each person's own; endpoints pass the outbound address guard when they are registered."""

from datetime import datetime
from typing import Any

import pytest

from push.models import PushSubscription

pytestmark = pytest.mark.django_db

PATH = "/api/push/subscriptions"
UP = "http://127.0.0.1:8400/up/abc"
WEB = "https://127.0.0.1:8443/push/v1/xyz"
KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


def check(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def shown(row: PushSubscription, body: dict[str, Any]) -> dict[str, Any]:
    """The row as the API shows it (its creation time read from the body and compared)."""
    assert datetime.fromisoformat(body["created_at"]) == row.created_at
    return {
        "id": row.pk,
        "kind": row.kind,
        "endpoint": row.endpoint,
        "label": row.label,
        "previews": row.previews,
        "created_at": body["created_at"],
        "last_success_at": None,
        "failures": 0,
        "last_error": "",
    }


def test_a_unifiedpush_device_registers_and_is_listed(alice, client_for):
    client = client_for(alice)
    body = check(
        client.post(PATH, {"kind": "unifiedpush", "endpoint": UP, "label": "Phone"}, format="json"), 201
    )
    row = PushSubscription.objects.get()
    assert (row.user, row.kind, row.endpoint, row.label, row.previews, row.p256dh) == (
        alice,
        "unifiedpush",
        UP,
        "Phone",
        True,
        "",
    )
    assert body == shown(row, body)
    assert check(client.get(PATH), 200) == [body]


def test_a_web_push_device_keeps_its_keys_and_may_hide_previews(alice, client_for):
    data = {"kind": "webpush", "endpoint": WEB, "keys": KEYS, "previews": False}
    body = check(client_for(alice).post(PATH, data, format="json"), 201)
    row = PushSubscription.objects.get()
    assert (row.p256dh, row.auth, row.previews) == (KEYS["p256dh"], KEYS["auth"], False)
    assert body == shown(row, body)
    assert "keys" not in body


def test_registering_the_same_endpoint_again_updates_it_and_moves_it(alice, bob, client_for):
    check(client_for(alice).post(PATH, {"kind": "unifiedpush", "endpoint": UP}, format="json"), 201)
    PushSubscription.objects.update(failures=3, last_error="HTTP 500")
    again = {"kind": "unifiedpush", "endpoint": UP, "label": "Bob's now", "previews": False}
    body = check(client_for(bob).post(PATH, again, format="json"), 201)
    row = PushSubscription.objects.get()
    assert (row.user, row.label, row.previews, row.failures, row.last_error) == (
        bob,
        "Bob's now",
        False,
        0,
        "",
    )
    assert body == shown(row, body)
    assert check(client_for(alice).get(PATH), 200) == []
    assert check(client_for(bob).get(PATH), 200) == [body]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"kind": "webpush", "endpoint": WEB}, "keys", "required"),
        ({"kind": "webpush", "endpoint": WEB, "keys": {"p256dh": "x"}}, "keys", "required"),
        ({"kind": "apns", "endpoint": UP}, "kind", "invalid_choice"),
        ({"kind": "unifiedpush"}, "endpoint", "required"),
        ({"kind": "unifiedpush", "endpoint": "ws://127.0.0.1/up"}, "endpoint", "scheme"),
        ({"kind": "unifiedpush", "endpoint": "127.0.0.1:8400"}, "endpoint", "scheme"),
        ({"kind": "unifiedpush", "endpoint": "http://127.0.0.1:99999/"}, "endpoint", "format"),
        ({"kind": "unifiedpush", "endpoint": 5}, "endpoint", "invalid"),
        ({"kind": "unifiedpush", "endpoint": UP, "previews": "no"}, "previews", "invalid"),
        ({"kind": "unifiedpush", "endpoint": UP, "topic": "x"}, "topic", "unknown_field"),
    ],
)
def test_bad_input_is_400_naming_the_field(alice, client_for, data, field, reason):
    body = check(client_for(alice).post(PATH, data, format="json"), 400)
    assert (body["error_code"], body["details"]["field"], body["details"]["reason"]) == (
        "VALIDATION_ERROR",
        field,
        reason,
    )
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("endpoint", "shown_as"),
    [
        ("http://10.0.0.1/up", "10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://127.0.0.1:8443/up", "127.0.0.1"),
    ],
)
def test_an_endpoint_the_guard_refuses_is_400(alice, client_for, settings, endpoint, shown_as):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # the production default
    data = {"kind": "unifiedpush", "endpoint": endpoint}
    body = check(client_for(alice).post(PATH, data, format="json"), 400)
    assert body == {
        "error_code": "VALIDATION_ERROR",
        "message": f"address_not_allowed: {shown_as} is not a public address (see OUTBOUND_ALLOWED_NETWORKS)",
        "details": {"field": "endpoint", "reason": "address_not_allowed"},
    }
    assert not PushSubscription.objects.exists()


def test_devices_per_person_are_limited(alice, client_for, settings):
    settings.IMSUITE = {**settings.IMSUITE, "PUSH_MAX_SUBSCRIPTIONS": 2}
    client = client_for(alice)
    for n in range(2):
        check(client.post(PATH, {"kind": "unifiedpush", "endpoint": f"{UP}{n}"}, format="json"), 201)
    body = check(client.post(PATH, {"kind": "unifiedpush", "endpoint": f"{UP}x"}, format="json"), 409)
    assert body == {
        "error_code": "CONFLICT",
        "message": "A person has at most 2 push subscriptions.",
        "details": {"reason": "subscription_limit", "limit": 2},
    }
    check(
        client.post(PATH, {"kind": "unifiedpush", "endpoint": f"{UP}1", "label": "same"}, format="json"), 201
    )
    assert PushSubscription.objects.count() == 2


def test_a_person_deletes_only_their_own(alice, bob, client_for):
    mine = check(client_for(alice).post(PATH, {"kind": "unifiedpush", "endpoint": UP}, format="json"), 201)
    body = check(client_for(bob).delete(f"{PATH}/{mine['id']}"), 404)
    assert body == {"error_code": "NOT_FOUND", "message": "Push subscription not found.", "details": {}}
    assert check(client_for(bob).get(PATH), 200) == []
    assert check(client_for(alice).delete(f"{PATH}/{mine['id']}"), 204) is None
    assert not PushSubscription.objects.exists()
    check(client_for(alice).delete(f"{PATH}/{mine['id']}"), 404)


def test_signed_out_is_401(api):
    assert api.get(PATH).status_code == 401
    assert api.post(PATH, {"kind": "unifiedpush", "endpoint": UP}, format="json").status_code == 401
