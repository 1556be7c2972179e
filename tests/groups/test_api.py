"""REST API of groups: the rules of mutes, invitations, kicks and dissolving, with the exact answers,
rows and client events. Who may do what is in test_permissions.py."""

from datetime import datetime

import pytest
from django.core.cache import cache

from chats.models import ChatMember, Message
from groups.models import Group, JoinRequest, Mute, Notice
from tests.accounts.test_api import assert_error, check
from tests.groups.test_services import (
    AVATAR,
    MEMBERS,
    added,
    build_world,
    dissolved,
    frames,
    iso,
    member_json,
    removed,
    request_json,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def w(make_user):
    return build_world(make_user)


def url(w, suffix: str = "") -> str:
    return f"/api/groups/{w.gid}{suffix}"


def send(client_for, user, w):
    return client_for(user).post(f"/api/chats/{w.gid}/messages", {"content": "hi"}, format="json")


def assert_muted(response, until: datetime) -> None:
    body = assert_error(response, 403, "PERMISSION_DENIED", reason="muted")
    assert set(body["details"]) == {"reason", "until"}
    assert datetime.fromisoformat(body["details"]["until"]) == until


def ban(client, w, duration: int, user=None) -> dict:
    response = client.post(
        url(w, "/bans"), {"user_id": user and user.pk, "duration": duration}, format="json"
    )
    return check(response, 200)


def test_successful_answers_are_the_stored_rows(w, client_for):
    admin = client_for(w.admin)
    body = check(admin.patch(url(w), {"name": "Renamed", "avatar_url": AVATAR}, format="json"), 200)
    group = Group.objects.get(pk=w.gid)
    assert body == {
        "id": w.gid,
        "name": "Renamed",
        "avatar_url": AVATAR,
        "owner_id": w.owner.pk,
        "members_mention_all": False,
        "member_count": 8,
        "my_role": "admin",
        "muted_until": None,
        "created_at": iso(group.created_at),
        "dissolved_at": None,
    }
    assert check(
        admin.post(url(w, "/members"), {"user_id": w.candidate.pk}, format="json"), 201
    ) == member_json(w.gid, w.candidate.pk)
    patch = {"card": "Tee", "level": "3"}
    body = check(admin.patch(url(w, f"/members/{w.target.pk}"), patch, format="json"), 200)
    assert body == member_json(w.gid, w.target.pk) | {"card": "Tee", "title": "Tee", "level": "3"}
    notice = check(
        admin.post(url(w, "/notices"), {"content": " Read me ", "image": AVATAR}, format="json"), 201
    )
    row = Notice.objects.get()
    assert notice == {
        "id": row.pk,
        "group_id": w.gid,
        "author_id": w.admin.pk,
        "content": "Read me",
        "image": AVATAR,
        "created_at": iso(row.created_at),
    }
    assert check(client_for(w.member).get(url(w, "/notices")), 200) == [notice]
    order = (
        ChatMember.objects.filter(chat_id=w.gid).order_by("joined_at", "pk").values_list("user_id", flat=True)
    )
    assert check(client_for(w.member).get(url(w, "/members")), 200) == [
        member_json(w.gid, uid) for uid in order
    ]
    assert check(admin.get(url(w, "/join-requests")), 200) == [request_json(JoinRequest.objects.get())]


def test_whole_group_mute_stops_plain_members_only(w, client_for):
    body = ban(client_for(w.owner), w, 600)
    everyone = Mute.objects.get(group_id=w.gid, user=None)
    assert body == {"group_id": w.gid, "user_id": None, "duration": 600, "until": iso(everyone.until)}
    assert check(client_for(w.member).get(url(w)), 200)["muted_until"] == iso(everyone.until)
    own = Mute.objects.get(user=w.muted).until  # an hour: longer than everyone's 10 minutes
    for name, until in [("owner", None), ("admin", None), ("member", everyone.until), ("muted", own)]:
        response = send(client_for, getattr(w, name), w)
        if until is None:
            check(response, 201)
        else:
            assert_muted(response, until)


def test_owner_can_mute_an_admin_whom_the_whole_group_mute_spares(w, client_for):
    body = ban(client_for(w.owner), w, 60, w.admin)
    mute = Mute.objects.get(user=w.admin)
    assert (mute.operator_id, body["until"]) == (w.owner.pk, iso(mute.until))
    assert_muted(send(client_for, w.admin, w), mute.until)


def test_a_muted_member_is_refused_until_duration_0_lifts_the_mute(w, client_for):
    admin = client_for(w.admin)
    body = ban(admin, w, 120, w.target)
    mute = Mute.objects.get(user=w.target)
    assert body == {"group_id": w.gid, "user_id": w.target.pk, "duration": 120, "until": iso(mute.until)}
    assert (mute.until - mute.created_at).total_seconds() == pytest.approx(120, abs=2)
    assert_muted(send(client_for, w.target, w), mute.until)
    members = {m["user_id"]: m for m in check(admin.get(url(w, "/members")), 200)}
    assert members[w.target.pk]["muted_until"] == iso(mute.until)
    assert ban(admin, w, 0, w.target) == {
        "group_id": w.gid,
        "user_id": w.target.pk,
        "duration": 0,
        "until": None,
    }
    assert not Mute.objects.filter(user=w.target).exists()
    check(send(client_for, w.target, w), 201)
    members = {m["user_id"]: m for m in check(admin.get(url(w, "/members")), 200)}
    assert members[w.target.pk]["muted_until"] is None


def test_a_members_invitation_is_a_join_request_and_approval_adds_with_the_inviter_as_operator(
    w, client_for, inbox, django_capture_on_commit_callbacks
):
    inbox.listen(w.member, w.target, w.candidate, w.owner, w.outsider)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(w.member).post(url(w, "/members"), {"user_id": w.candidate.pk}, format="json")
    request = JoinRequest.objects.get(user=w.candidate)
    pending = request_json(request)
    assert check(response, 202) == pending
    assert (pending["operator_id"], pending["status"], pending["comment"]) == (w.member.pk, "pending", "")
    assert not ChatMember.objects.filter(chat_id=w.gid, user=w.candidate).exists()
    assert check(client_for(w.owner).get(url(w, "/join-requests")), 200) == [
        request_json(JoinRequest.objects.get(pk=w.request_id)),
        pending,
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(w.admin).post(url(w, f"/join-requests/{request.pk}/approve"))
    approved = request_json(request)
    assert check(response, 200) == approved
    assert (approved["status"], approved["decided_by"]) == ("approved", w.admin.pk)
    joined = added(w, w.candidate, w.member)  # operator: the inviter
    asked, decided = (("group.join_request", {"group_id": w.gid, "request": r}) for r in (pending, approved))
    for user in (w.member, w.candidate, w.owner):
        assert frames(inbox, user) == [asked, decided, joined]
    assert frames(inbox, w.target) == [joined]
    assert frames(inbox, w.outsider) == []
    assert_error(
        client_for(w.admin).post(url(w, f"/join-requests/{request.pk}/reject")),
        409,
        "CONFLICT",
        reason="approved",
    )


@pytest.mark.parametrize("how", ["kick", "leave"])
def test_a_removed_member_is_told_and_can_no_longer_read(
    w, client_for, inbox, django_capture_on_commit_callbacks, how
):
    inbox.listen(w.target, w.member, w.outsider)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "kick":
            check(client_for(w.admin).delete(url(w, f"/members/{w.target.pk}")), 204)
        else:
            check(client_for(w.target).post(url(w, "/leave")), 204)
    event = removed(w, w.target, w.admin if how == "kick" else w.target, how)
    assert frames(inbox, w.target) == frames(inbox, w.member) == [event]
    assert frames(inbox, w.outsider) == []
    target = client_for(w.target)
    for path in (f"/api/chats/{w.gid}/messages", url(w), url(w, "/members")):
        assert assert_error(target.get(path), 404, "NOT_FOUND")["details"] == {}
    assert_error(send(client_for, w.target, w), 404, "NOT_FOUND")
    assert w.target.pk not in [m["user_id"] for m in check(client_for(w.member).get(url(w, "/members")), 200)]


def test_the_owner_leaving_dissolves_the_group_and_keeps_its_history_read_only(
    w, client_for, inbox, django_capture_on_commit_callbacks
):
    message_id = check(send(client_for, w.member, w), 201)["id"]
    people = [getattr(w, name) for name in (*MEMBERS, "outsider", "requester")]
    inbox.listen(*people)
    with django_capture_on_commit_callbacks(execute=True):
        check(client_for(w.owner).post(url(w, "/leave")), 204)
    expected = dissolved(w)
    for user, name in zip(people, (*MEMBERS, "outsider", "requester"), strict=True):
        assert frames(inbox, user) == expected.get(name, []), name
    group = Group.objects.get(pk=w.gid)
    assert group.dissolved_at is not None
    assert not Mute.objects.exists()
    assert JoinRequest.objects.get().status == "rejected"
    for name in ("owner", "admin", "member", "muted"):
        client = client_for(getattr(w, name))
        history = check(client.get(f"/api/chats/{w.gid}/messages"), 200)
        assert [m["id"] for m in history["results"]] == [message_id]
        assert_error(send(client_for, getattr(w, name), w), 403, "PERMISSION_DENIED", reason="dissolved")
        assert check(client.get(url(w, "/members")), 200) == []
        summary = check(client.get(url(w)), 200)
        assert (summary["dissolved_at"], summary["member_count"]) == (iso(group.dissolved_at), 0)
    admin, owner = client_for(w.admin), client_for(w.owner)
    for response in (
        owner.patch(url(w), {"name": "Again"}, format="json"),
        admin.post(url(w, "/members"), {"user_id": w.candidate.pk}, format="json"),
        owner.delete(url(w, f"/members/{w.member.pk}")),
        admin.patch(url(w, f"/members/{w.member.pk}"), {"level": "2"}, format="json"),
        admin.post(url(w, "/bans"), {"duration": 60}, format="json"),
        admin.post(url(w, "/notices"), {"content": "x"}, format="json"),
        admin.get(url(w, "/join-requests")),
        admin.post(url(w, f"/join-requests/{w.request_id}/approve")),
        client_for(w.member).post(url(w, "/leave")),
    ):
        assert_error(response, 409, "CONFLICT", reason="dissolved")
    assert_error(client_for(w.outsider).post(url(w, "/join-requests"), {}, format="json"), 404, "NOT_FOUND")
    assert_error(client_for(w.outsider).get(f"/api/chats/{w.gid}/messages"), 404, "NOT_FOUND")
    assert Message.objects.filter(chat_id=w.gid).count() == 1


def test_muted_until_of_a_member_is_the_same_in_the_list_the_answers_and_the_events(
    w, client_for, inbox, django_capture_on_commit_callbacks
):
    """Under a whole-group mute a plain member's muted_until is the group's; an admin's stays None."""
    owner = client_for(w.owner)
    ban(owner, w, 600)
    everyone = iso(Mute.objects.get(user=None).until)
    inbox.listen(w.member)
    with django_capture_on_commit_callbacks(execute=True):
        patched = check(owner.patch(url(w, f"/members/{w.target.pk}"), {"level": "2"}, format="json"), 200)
        joined = check(owner.post(url(w, "/members"), {"user_id": w.candidate.pk}, format="json"), 201)
    listed = {m["user_id"]: m for m in check(owner.get(url(w, "/members")), 200)}
    assert (patched["muted_until"], joined["muted_until"]) == (everyone, everyone)
    assert listed[w.target.pk] == patched
    assert listed[w.candidate.pk] == joined
    assert (listed[w.member.pk]["muted_until"], listed[w.admin.pk]["muted_until"]) == (everyone, None)
    assert listed[w.muted.pk]["muted_until"] == iso(Mute.objects.get(user=w.muted).until)  # the later one
    assert [payload["member"] for _, payload in frames(inbox, w.member)] == [patched, joined]
