"""Every write a moderator can make in admin goes through a service: its permission check, its
audit entry, its sign-outs. What no service does (deleting people, bots, sent notifications,
blacklisted tokens, renaming) is not offered."""

import pytest
from django.contrib.auth.models import Group as PermissionGroup
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import Notification, RevokedSession, User
from accounts.services import bot_create, notification_send, session_logout
from accounts.sessions import new_refresh_token
from accounts.staff import user_staff_set
from bots.models import ReverseEndpoint
from bots.services import reverse_endpoint_create
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from push.models import PushSubscription
from tests.conftest import PASSWORD
from tests.db_state import assert_unchanged, whole_database
from tests.test_admin import admin_url

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Strong-passw0rd"


def audit_rows() -> list[tuple]:
    return list(
        AuditEntry.objects.order_by("pk").values_list(
            "actor__username", "action", "target_type", "target_id", "source"
        )
    )


def signed_in(user: User) -> tuple[APIClient, str]:
    """A REST client with a real sign-in session's access token, and that session's refresh token."""
    session = new_refresh_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.access_token}")
    assert client.get("/api/users/me").status_code == 200
    return client, str(session)


def refresh_status(refresh: str) -> int:
    return APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code


def password_url(user_id: int) -> str:
    return reverse("admin:auth_user_password_change", args=[user_id])  # Django's name for every user model


def set_password(staff, user: User, form: dict) -> object:
    return staff.post(password_url(user.pk), form, follow=True)


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_a_password_set_by_a_moderator_signs_the_person_out_everywhere(
    staff, moderator, alice, bob, django_capture_on_commit_callbacks
):
    phone, phone_refresh = signed_in(alice)
    laptop, laptop_refresh = signed_in(alice)
    gone, gone_refresh = signed_in(alice)
    session_logout(refresh=gone_refresh)  # signed out before: stays signed out
    bystander, _ = signed_in(bob)
    assert staff.get(password_url(alice.pk)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as published:
        response = set_password(
            staff, alice, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
        )
    assert response.redirect_chain == [(admin_url(User, "change", alice.pk), 302)]
    assert messages_of(response) == [("success", "Password changed successfully.")]
    alice.refresh_from_db()
    assert (alice.check_password(NEW_PASSWORD), alice.check_password(PASSWORD), alice.is_active) == (
        True,
        False,
        True,
    )
    assert audit_rows() == [("mod", "user.password_set", "user", alice.pk, "admin")]
    assert AuditEntry.objects.get().details == {"usable": True}
    for client in (phone, laptop, gone):
        reply = client.get("/api/users/me")
        assert (reply.status_code, reply.json()["error_code"]) == (401, "AUTHENTICATION_FAILED")
    for refresh in (phone_refresh, laptop_refresh, gone_refresh):
        assert refresh_status(refresh) == 401
    assert bystander.get("/api/users/me").status_code == 200
    assert RevokedSession.objects.count() == 3
    assert len(published) == 1  # the sign-outs travel together, after the commit
    token = APIClient().post(
        "/api/auth/token", {"username": "alice", "password": NEW_PASSWORD}, format="json"
    )
    assert token.status_code == 200  # the new password works


def test_password_sign_in_disabled_by_a_moderator_signs_out_too(staff, alice):
    phone, refresh = signed_in(alice)
    response = set_password(staff, alice, {"usable_password": "false", "unset-password": "1"})
    assert messages_of(response) == [("success", "Password-based authentication was disabled.")]
    alice.refresh_from_db()
    assert alice.has_usable_password() is False
    assert AuditEntry.objects.values_list("action", "details").get() == (
        "user.password_set",
        {"usable": False},
    )
    assert phone.get("/api/users/me").status_code == 401
    assert refresh_status(refresh) == 401


def test_a_moderator_who_sets_their_own_password_stays_in_admin(staff, moderator):
    response = set_password(
        staff, moderator, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert messages_of(response) == [("success", "Password changed successfully.")]
    assert staff.get(admin_url(User, "changelist")).status_code == 200


def test_a_weak_password_is_refused_on_the_form(staff, alice):
    phone, _ = signed_in(alice)
    response = staff.post(
        password_url(alice.pk),
        {"password1": "password", "password2": "password", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"password2": ["This password is too common."]}
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert (audit_rows(), RevokedSession.objects.count()) == ([], 0)
    assert phone.get("/api/users/me").status_code == 200


def test_a_bot_gets_no_password(staff, alice):
    bot, _ = bot_create(actor=alice, username="alicebot")
    response = set_password(
        staff, bot, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert messages_of(response) == [
        ("error", "Bots sign in with their token, not a password. (PERMISSION_DENIED)")
    ]
    assert response.redirect_chain == [(password_url(bot.pk), 302)]
    bot.refresh_from_db()
    assert (bot.has_usable_password(), audit_rows()) == (False, [])


def test_people_and_bots_are_deactivated_never_deleted(staff, alice):
    bot, _ = bot_create(actor=alice, username="alicebot")
    for user in (alice, bot):
        assert staff.get(admin_url(User, "delete", user.pk)).status_code == 403
        assert staff.post(admin_url(User, "delete", user.pk), {"post": "yes"}).status_code == 403
    listing = staff.get(admin_url(User, "changelist"))
    assert [name for name, _ in listing.context["action_form"].fields["action"].choices] == [
        "",
        "deactivate",
        "reactivate",
    ]
    staff.post(admin_url(User, "changelist"), {"action": "delete_selected", "_selected_action": [alice.pk]})
    assert User.objects.filter(pk__in=[alice.pk, bot.pk]).count() == 2


def test_a_username_cannot_be_changed_behind_the_service(staff, alice):
    form = {
        "username": "ALICE2",
        "nickname": "Ally",
        "avatar_url": "",
        "sex": "female",
        "age": "28",
        "bio": "",
    }
    assert staff.post(admin_url(User, "change", alice.pk), {**form, "email": ""}).status_code == 302
    alice.refresh_from_db()
    assert (alice.username, alice.nickname) == ("alice", "Ally")


def test_sent_notifications_are_not_deleted(staff, moderator, bob):
    note = notification_send(actor=moderator, title="Hello", message="Welcome", user_ids=[bob.pk])
    assert staff.get(admin_url(Notification, "delete", note.pk)).status_code == 403
    staff.post(
        admin_url(Notification, "changelist"), {"action": "delete_selected", "_selected_action": [note.pk]}
    )
    assert Notification.objects.filter(pk=note.pk).exists()


def test_a_blacklisted_token_is_not_brought_back(staff, alice):
    _, refresh = signed_in(alice)
    session_logout(refresh=refresh)
    row = BlacklistedToken.objects.get()
    assert staff.get(admin_url(BlacklistedToken, "changelist")).status_code == 200
    assert staff.post(admin_url(BlacklistedToken, "delete", row.pk), {"post": "yes"}).status_code == 403
    staff.post(
        admin_url(BlacklistedToken, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk]}
    )
    assert BlacklistedToken.objects.filter(pk=row.pk).exists()
    assert refresh_status(refresh) == 401


@pytest.fixture
def endpoints(alice) -> list[ReverseEndpoint]:
    bot, _ = bot_create(actor=alice, username="alicebot")
    return [
        reverse_endpoint_create(actor=alice, bot_id=bot.pk, url=f"ws://127.0.0.1:9/bot{i}") for i in range(3)
    ]


def test_reverse_endpoints_are_deleted_through_the_service(staff, endpoints):
    first, second, third = endpoints
    response = staff.post(admin_url(ReverseEndpoint, "delete", first.pk), {"post": "yes"}, follow=True)
    assert response.redirect_chain == [(admin_url(ReverseEndpoint, "changelist"), 302)]
    staff.post(
        admin_url(ReverseEndpoint, "changelist"),
        {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"},
    )
    assert list(ReverseEndpoint.objects.values_list("pk", flat=True)) == [third.pk]
    assert audit_rows() == [
        ("mod", "reverse_endpoint.delete", "reverse_endpoint", first.pk, "admin"),
        ("mod", "reverse_endpoint.delete", "reverse_endpoint", second.pk, "admin"),
    ]
    assert AuditEntry.objects.values_list("details", flat=True)[0] == {"bot_id": first.bot_id}


def test_push_devices_are_removed_through_the_service(staff, alice, bob):
    devices = [
        PushSubscription.objects.create(
            user=user, kind="unifiedpush", endpoint=f"https://push.example/up/{user.pk}"
        )
        for user in (alice, bob)
    ]
    response = staff.post(admin_url(PushSubscription, "delete", devices[0].pk), {"post": "yes"}, follow=True)
    assert response.redirect_chain == [
        (reverse("admin:index"), 302)
    ]  # Django's way where rows are not changed
    staff.post(
        admin_url(PushSubscription, "changelist"),
        {"action": "delete_selected", "_selected_action": [devices[1].pk], "post": "yes"},
    )
    assert not PushSubscription.objects.exists()
    assert audit_rows() == [
        ("mod", "push_subscription.remove", "push_subscription", devices[0].pk, "admin"),
        ("mod", "push_subscription.remove", "push_subscription", devices[1].pk, "admin"),
    ]


def test_a_refused_deletion_shows_the_services_message_and_keeps_the_row(staff, moderator, endpoints):
    """A moderator whose right was taken away meanwhile: the service refuses, the row stays."""
    moderator.user_permissions.clear()
    User.objects.filter(pk=moderator.pk).update(is_superuser=False)
    moderator.user_permissions.add(*_permissions("delete_reverseendpoint", "view_reverseendpoint"))
    endpoint = endpoints[0]
    response = staff.post(admin_url(ReverseEndpoint, "delete", endpoint.pk), {"post": "yes"}, follow=True)
    assert response.redirect_chain == [(admin_url(ReverseEndpoint, "changelist"), 302)]
    assert messages_of(response) == [("error", f"{endpoint}: Bot not found. (NOT_FOUND)")]
    assert ReverseEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert audit_rows() == []


def _permissions(*codenames: str) -> list[Permission]:
    return list(Permission.objects.filter(codename__in=codenames))


PROFILE_FORM = {"nickname": "", "avatar_url": "", "sex": "unknown", "age": "", "bio": "", "email": ""}


def test_a_superuser_grants_staff_powers_through_the_service(staff, moderator, alice):
    reviewers = PermissionGroup.objects.create(name="reviewers")
    view_users = Permission.objects.get(codename="view_user")
    form = {**PROFILE_FORM, "is_staff": "on", "groups": [reviewers.pk], "user_permissions": [view_users.pk]}
    assert staff.post(admin_url(User, "change", alice.pk), form).status_code == 302
    alice.refresh_from_db()
    assert (alice.is_staff, alice.is_superuser) == (True, False)
    assert list(alice.groups.all()) == [reviewers] and list(alice.user_permissions.all()) == [view_users]
    entry = AuditEntry.objects.get(action="user.staff_set")
    assert (entry.actor, entry.target_id, entry.source) == (moderator, alice.pk, "admin")
    assert entry.details == {"is_staff": True, "groups": [reviewers.pk], "permissions": [view_users.pk]}

    assert staff.post(admin_url(User, "change", alice.pk), {**form, "nickname": "Ally"}).status_code == 302
    assert AuditEntry.objects.filter(action="user.staff_set").count() == 1  # nothing changed there


def test_a_moderator_who_is_not_a_superuser_cannot_grant_staff_powers(make_user, alice):
    helper = make_user("helper")
    User.objects.filter(pk=helper.pk).update(is_staff=True)
    helper.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(helper)
    page = client.get(admin_url(User, "change", alice.pk)).content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page  # shown, not editable
    form = {**PROFILE_FORM, "is_staff": "on", "is_superuser": "on"}
    assert client.post(admin_url(User, "change", helper.pk), form).status_code == 302
    helper.refresh_from_db()
    assert (helper.is_staff, helper.is_superuser) == (True, False)
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        user_staff_set(
            actor=helper, user_id=helper.pk, is_staff=True, is_superuser=True, group_ids=[], permission_ids=[]
        )
    assert refused.value.details == {"reason": "not_superuser"}
    assert_unchanged(before)


@pytest.mark.parametrize(
    ("target", "flags", "reason"),
    [("self", {"is_staff": True, "is_superuser": False}, "self"), ("bot", {"is_staff": True}, "bot")],
)
def test_staff_powers_refused_to_oneself_and_to_bots(moderator, alice, target, flags, reason):
    user = moderator if target == "self" else bot_create(actor=alice, username="helperbot")[0]
    before = whole_database()
    with pytest.raises(DomainError) as refused:
        user_staff_set(
            actor=moderator,
            user_id=user.pk,
            **{"is_staff": False, "is_superuser": False, **flags},
            group_ids=[],
            permission_ids=[],
        )
    assert (refused.value.code, refused.value.details) == ("PERMISSION_DENIED", {"reason": reason})
    assert_unchanged(before)
