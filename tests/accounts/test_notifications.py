"""System notifications: staff send them with POST /api/notifications or from the Django admin;
the `notification` event reaches the chosen users, or every connection as one broadcast."""

from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification, User
from tests.accounts.test_api import assert_error, check

pytestmark = pytest.mark.django_db

URL = "/api/notifications"
NOTE = {"title": "Maintenance", "message": "Back in ten minutes."}


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def notification(data: dict) -> dict:
    return {"type": "domain.event", "event": "notification", "data": data}


def stored(note: Notification) -> tuple:
    note.refresh_from_db()
    recipients = sorted(note.recipients.values_list("pk", flat=True))
    return note.title, note.message, note.type, note.action_url, note.sent_by_id, recipients


@pytest.fixture
def staff_only(make_user) -> User:
    """Staff without any other right: enough to send notifications."""
    user = make_user("helpdesk", nickname="Help desk")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def listeners(inbox, alice, bob, carol) -> SimpleNamespace:
    inbox.listen(alice, bob, carol)
    return inbox.listen_to_everyone()


def nothing_delivered(inbox, *users: Any) -> bool:
    return all(inbox.drain(user) == [] for user in users)


# --- REST ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["moderator", "staff_only"])
def test_staff_notify_chosen_users(
    request, alice, bob, carol, client_for, inbox, listeners, django_capture_on_commit_callbacks, sender
):
    actor = request.getfixturevalue(sender)
    data = {
        **NOTE,
        "type": "warning",
        "action_url": "https://status.example.com/",
        "user_ids": [alice.pk, bob.pk, alice.pk],
    }
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        body = check(client_for(actor).post(URL, data, format="json"), 201)
    note = Notification.objects.get()
    assert before <= note.created_at <= timezone.now()
    assert body == {
        "id": note.pk,
        "title": "Maintenance",
        "message": "Back in ten minutes.",
        "type": "warning",
        "action_url": "https://status.example.com/",
        "recipient_count": 2,
        "created_at": iso(note.created_at),
    }
    assert stored(note) == (
        "Maintenance",
        "Back in ten minutes.",
        "warning",
        "https://status.example.com/",
        actor.pk,
        sorted([alice.pk, bob.pk]),
    )
    expected = notification(
        {
            "title": "Maintenance",
            "message": "Back in ten minutes.",
            "type": "warning",
            "action_url": "https://status.example.com/",
        }
    )
    assert inbox.drain(alice) == [expected]
    assert inbox.drain(bob) == [expected]
    assert nothing_delivered(inbox, carol, listeners)


def test_without_user_ids_everyone_is_notified(
    alice, moderator, client_for, inbox, listeners, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = check(client_for(moderator).post(URL, NOTE, format="json"), 201)
    note = Notification.objects.get()
    assert body == {
        "id": note.pk,
        "title": "Maintenance",
        "message": "Back in ten minutes.",
        "type": "info",
        "action_url": "",
        "recipient_count": 0,
        "created_at": iso(note.created_at),
    }
    assert stored(note) == ("Maintenance", "Back in ten minutes.", "info", "", moderator.pk, [])
    assert inbox.drain(listeners) == [
        notification(
            {"title": "Maintenance", "message": "Back in ten minutes.", "type": "info", "action_url": None}
        )
    ]
    assert nothing_delivered(inbox, alice)  # once, to every connection, not per user


@pytest.mark.parametrize("case", ["not_staff", "unknown_user", "deactivated_user"])
def test_refusals_store_and_deliver_nothing(
    alice, bob, moderator, client_for, inbox, listeners, django_capture_on_commit_callbacks, case
):
    missing = {"unknown_user": 987654, "deactivated_user": bob.pk}.get(case)
    if case == "deactivated_user":
        User.objects.filter(pk=bob.pk).update(is_active=False)
    actor = alice if case == "not_staff" else moderator
    user_ids = [alice.pk, 987654] if case == "unknown_user" else [alice.pk, bob.pk]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(actor).post(URL, {**NOTE, "user_ids": user_ids}, format="json")
    if case == "not_staff":
        assert assert_error(response, 403, "PERMISSION_DENIED")["details"] == {"reason": "not_staff"}
    else:
        body = assert_error(response, 404, "NOT_FOUND")
        assert body["details"] == {"field": "user_ids", "user_ids": [missing]}
    assert callbacks == []
    assert not Notification.objects.exists()
    assert nothing_delivered(inbox, alice, listeners)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**NOTE, "type": "urgent"}, "type"),
        ({**NOTE, "type": 1}, "type"),
        ({"message": "no title"}, "title"),
        ({**NOTE, "title": "x" * 101}, "title"),
        ({**NOTE, "title": 5}, "title"),
        ({"title": "no message"}, "message"),
        ({**NOTE, "message": "x" * 1001}, "message"),
        ({**NOTE, "action_url": "not a url"}, "action_url"),
        ({**NOTE, "user_ids": "1"}, "user_ids"),
        ({**NOTE, "user_ids": ["1"]}, "user_ids"),
        ({**NOTE, "user_ids": [0]}, "user_ids"),
        ({**NOTE, "everyone": True}, "everyone"),
    ],
)
def test_validation(moderator, client_for, data, field):
    body = assert_error(client_for(moderator).post(URL, data, format="json"), 400, "VALIDATION_ERROR")
    assert body["details"]["field"] == field
    assert not Notification.objects.exists()


def test_needs_a_signed_in_user(api):
    assert_error(api.post(URL, NOTE, format="json"), 401, "AUTHENTICATION_FAILED")
    assert not Notification.objects.exists()


# --- Django admin ----------------------------------------------------------------------------


ADD = reverse("admin:accounts_notification_add")


@pytest.fixture
def admin_client(moderator) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.mark.parametrize("to", ["bob", "everyone"])
def test_admin_add_form_sends_through_the_service(
    admin_client, alice, bob, moderator, inbox, listeners, django_capture_on_commit_callbacks, to
):
    assert admin_client.get(ADD).status_code == 200
    form = {
        "title": "Welcome",
        "message": "Say hello!",
        "type": "success",
        "action_url": "https://example.com/",
    }
    if to == "bob":
        form["recipients"] = [bob.pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(ADD, form)
    assert response.status_code == 302, response.content
    assert response.url == reverse("admin:accounts_notification_changelist")
    note = Notification.objects.get()
    recipients = [bob.pk] if to == "bob" else []
    assert stored(note) == (
        "Welcome",
        "Say hello!",
        "success",
        "https://example.com/",
        moderator.pk,
        recipients,
    )
    expected = [notification({key: form[key] for key in ("title", "message", "type", "action_url")})]
    receiver, bystander = (bob, listeners) if to == "bob" else (listeners, bob)
    assert inbox.drain(receiver) == expected
    assert nothing_delivered(inbox, alice, bystander)


def test_admin_cannot_change_a_sent_notification(admin_client, alice, moderator, inbox, listeners):
    note = Notification.objects.create(title="Old", message="Sent", sent_by=moderator)
    change = reverse("admin:accounts_notification_change", args=[note.pk])
    response = admin_client.post(change, {"title": "Changed", "message": "Sent", "type": "info"})
    assert response.status_code == 403
    assert stored(note)[:2] == ("Old", "Sent")
    assert nothing_delivered(inbox, alice, listeners)
