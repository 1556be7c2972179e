"""Bans, ownership transfer and invite links beyond who may use them (test_permissions_bans_invites):
what a ban refuses and for how long, the events each change publishes, every state of a link."""

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import friendship_create
from chats.models import ChatMember
from groups import invites, services
from groups.models import Group, GroupBan, InviteLink, JoinRequest
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from tests.groups.test_services import build_world, frames, member_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user):
    return build_world(make_user)


def refused(call, code: str, reason: str | None = None) -> None:
    with pytest.raises(DomainError) as info:
        call()
    assert (info.value.code, info.value.details.get("reason")) == (code, reason)


def members(gid: int) -> set[int]:
    return set(ChatMember.objects.filter(chat_id=gid).values_list("user_id", flat=True))


# --- bans ------------------------------------------------------------------------------------


def test_a_ban_removes_the_member_tells_the_group_and_refuses_every_way_back(
    world, inbox, django_capture_on_commit_callbacks
):
    w = world
    inbox.listen(w.target, w.member, w.owner)
    with django_capture_on_commit_callbacks(execute=True):
        ban = services.member_ban(actor=w.admin, group_id=w.gid, user_id=w.target.pk, reason="spam")
    removed = {"group_id": w.gid, "user_id": w.target.pk, "operator_id": w.admin.pk, "reason": "ban"}
    for user in (w.target, w.member, w.owner):
        assert frames(inbox, user) == [("group.member_removed", removed)]
    assert w.target.pk not in members(w.gid)
    assert (ban.until, ban.reason, ban.operator_id) == (None, "spam", w.admin.pk)
    entry = (
        AuditEntry.objects.filter(action="member.ban").values_list("actor_id", "target_id", "details").get()
    )
    assert entry == (w.admin.pk, w.target.pk, {"duration": None, "reason": "spam"})
    friendship_create(user_a=w.admin, user_b=w.target)
    friendship_create(user_a=w.member, user_b=w.target)
    link = invites.invite_create(actor=w.owner, group_id=w.gid)
    for attempt in (
        lambda: services.member_add(actor=w.admin, group_id=w.gid, user_id=w.target.pk),
        lambda: services.member_add(actor=w.member, group_id=w.gid, user_id=w.target.pk),
        lambda: services.join_request_create(actor=w.target, group_id=w.gid),
        lambda: invites.invite_join(actor=w.target, token=link.token),
        lambda: invites.invite_preview(actor=w.target, token=link.token),
    ):
        refused(attempt, "PERMISSION_DENIED", "banned")
    assert InviteLink.objects.get(pk=link.pk).uses == 0
    services.ban_lift(actor=w.owner, group_id=w.gid, user_id=w.target.pk)
    assert not GroupBan.objects.exists()
    invites.invite_join(actor=w.target, token=link.token)
    assert w.target.pk in members(w.gid)


def test_a_ban_rejects_pending_requests_of_an_outsider(world):
    w = world
    services.member_ban(actor=w.owner, group_id=w.gid, user_id=w.requester.pk, duration=60)
    request = JoinRequest.objects.get(user=w.requester)
    assert (request.status, request.decided_by_id) == ("rejected", w.owner.pk)
    refused(
        lambda: services.join_request_create(actor=w.requester, group_id=w.gid), "PERMISSION_DENIED", "banned"
    )


def test_a_timed_ban_runs_out_by_itself_and_banning_again_replaces_it(world, client_for):
    w = world
    services.member_ban(actor=w.owner, group_id=w.gid, user_id=w.target.pk, duration=60)
    listed = client_for(w.owner).get(f"/api/groups/{w.gid}/banned").json()
    assert [(b["user_id"], b["operator_id"], b["reason"]) for b in listed] == [(w.target.pk, w.owner.pk, "")]
    GroupBan.objects.update(until=timezone.now() - timedelta(seconds=1))
    assert client_for(w.owner).get(f"/api/groups/{w.gid}/banned").json() == []
    refused(lambda: services.ban_lift(actor=w.owner, group_id=w.gid, user_id=w.target.pk), "NOT_FOUND")
    request = services.join_request_create(actor=w.target, group_id=w.gid)
    assert request.status == "pending"
    services.member_ban(actor=w.owner, group_id=w.gid, user_id=w.target.pk)
    assert list(GroupBan.objects.values_list("user_id", "until")) == [(w.target.pk, None)]


def test_ban_duration_and_reason_are_checked(world, client_for):
    w = world
    client = client_for(w.owner)
    for body, field in (
        ({"user_id": w.target.pk, "duration": 0}, "duration"),
        ({"user_id": w.target.pk, "duration": services.MAX_BAN_SECONDS + 1}, "duration"),
        ({"user_id": w.target.pk, "reason": "x" * 201}, "reason"),
    ):
        response = client.post(f"/api/groups/{w.gid}/banned", body, format="json")
        assert (response.status_code, response.json()["details"]["field"]) == (400, field)
    response = client.post(f"/api/groups/{w.gid}/banned", {"user_id": 999999}, format="json")
    assert response.status_code == 404
    assert not GroupBan.objects.exists()


# --- ownership transfer ------------------------------------------------------------------------


def test_transfer_makes_the_member_owner_and_the_owner_admin_and_tells_everyone(
    world, inbox, django_capture_on_commit_callbacks
):
    w = world
    inbox.listen(w.member)
    with django_capture_on_commit_callbacks(execute=True):
        services.group_transfer(actor=w.owner, group_id=w.gid, user_id=w.target.pk)
    assert Group.objects.get(pk=w.gid).owner_id == w.target.pk
    roles = dict(ChatMember.objects.filter(chat_id=w.gid).values_list("user_id", "role"))
    assert (roles[w.target.pk], roles[w.owner.pk]) == ("owner", "admin")
    base = {"group_id": w.gid, "operator_id": w.owner.pk, "changed": ["role"]}
    got = frames(inbox, w.member)
    assert [name for name, _ in got] == ["group.member_updated", "group.member_updated", "group.updated"]
    assert got[0][1] == {**base, "user_id": w.target.pk, "member": member_json(w.gid, w.target.pk)}
    assert got[1][1] == {**base, "user_id": w.owner.pk, "member": member_json(w.gid, w.owner.pk)}
    assert got[2][1]["owner_id"] == w.target.pk
    # The old owner is an admin now: the new owner can demote them; they cannot hand it back.
    refused(
        lambda: services.group_transfer(actor=w.owner, group_id=w.gid, user_id=w.owner.pk),
        "PERMISSION_DENIED",
        "not_owner",
    )
    services.member_update(actor=w.target, group_id=w.gid, user_id=w.owner.pk, role="member")


def test_transfer_to_a_non_member_is_not_found(world):
    w = world
    refused(
        lambda: services.group_transfer(actor=w.owner, group_id=w.gid, user_id=w.outsider.pk), "NOT_FOUND"
    )


# --- invite links ------------------------------------------------------------------------------


def test_a_stranger_previews_and_joins_by_link_with_its_creator_as_operator(
    world, client_for, inbox, django_capture_on_commit_callbacks
):
    w = world
    body = {"needs_approval": False, "expires_in": 3600, "max_uses": 2}
    created = client_for(w.admin).post(f"/api/groups/{w.gid}/invites", body, format="json").json()
    assert len(created["token"]) >= 32
    assert (created["uses"], created["max_uses"], created["creator_id"]) == (0, 2, w.admin.pk)
    stranger = client_for(w.outsider)
    preview = stranger.get(f"/api/invites/{created['token']}").json()
    assert {k: v for k, v in preview.items() if k != "expires_at"} == {
        "group_id": w.gid,
        "name": "Team",
        "avatar_url": "",
        "member_count": 8,
        "needs_approval": False,
        "is_member": False,
        "requested": False,
    }
    inbox.listen(w.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = stranger.post(f"/api/invites/{created['token']}/join", {}, format="json")
    assert response.status_code == 201
    assert response.json() == member_json(w.gid, w.outsider.pk)
    [(name, data)] = frames(inbox, w.owner)
    assert (name, data["user_id"], data["operator_id"]) == ("group.member_added", w.outsider.pk, w.admin.pk)
    assert stranger.get(f"/api/invites/{created['token']}").json()["is_member"] is True
    listed = client_for(w.owner).get(f"/api/groups/{w.gid}/invites").json()
    assert [(link["id"], link["uses"]) for link in listed] == [(created["id"], 1)]


def test_an_approval_link_opens_a_join_request_that_a_manager_approves(world):
    w = world
    link = invites.invite_create(actor=w.owner, group_id=w.gid, needs_approval=True)
    request = invites.invite_join(actor=w.outsider, token=link.token, comment="hello")
    assert (request.status, request.operator_id, request.comment) == ("pending", w.outsider.pk, "hello")
    assert invites.invite_preview(actor=w.outsider, token=link.token)["requested"] is True
    refused(lambda: invites.invite_join(actor=w.outsider, token=link.token), "CONFLICT", "already_requested")
    assert InviteLink.objects.get(pk=link.pk).uses == 1  # the refused second request used nothing
    services.join_request_decide(actor=w.admin, group_id=w.gid, request_id=request.pk, approve=True)
    assert w.outsider.pk in members(w.gid)


@pytest.mark.parametrize(
    ("spoil", "code", "reason"),
    [
        (
            lambda link, w: InviteLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now()),
            "CONFLICT",
            "revoked",
        ),
        (
            lambda link, w: InviteLink.objects.filter(pk=link.pk).update(expires_at=timezone.now()),
            "CONFLICT",
            "expired",
        ),
        (lambda link, w: InviteLink.objects.filter(pk=link.pk).update(uses=1), "CONFLICT", "used_up"),
        (lambda link, w: services.group_dissolve(actor=w.owner, group_id=w.gid), "CONFLICT", "dissolved"),
        (lambda link, w: InviteLink.objects.filter(pk=link.pk).update(token="other"), "NOT_FOUND", None),
    ],
    ids=["revoked", "expired", "used_up", "dissolved", "unknown"],
)
def test_a_link_that_no_longer_works_says_why(world, spoil, code, reason):
    w = world
    link = invites.invite_create(actor=w.owner, group_id=w.gid, max_uses=1)
    spoil(link, w)
    for call in (invites.invite_preview, invites.invite_join):
        refused(lambda call=call: call(actor=w.outsider, token=link.token), code, reason)
    assert w.outsider.pk not in members(w.gid)


def test_revoking_twice_is_not_found_and_the_list_leaves_revoked_links_out(world, client_for):
    w = world
    link = invites.invite_create(actor=w.owner, group_id=w.gid)
    client = client_for(w.admin)
    assert client.delete(f"/api/groups/{w.gid}/invites/{link.pk}").status_code == 204
    assert client.delete(f"/api/groups/{w.gid}/invites/{link.pk}").status_code == 404
    assert client.get(f"/api/groups/{w.gid}/invites").json() == []


def test_link_options_are_checked(world, client_for):
    w = world
    client = client_for(w.owner)
    for body, field in (
        ({"max_uses": 0}, "max_uses"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": invites.MAX_INVITE_SECONDS + 1}, "expires_in"),
        ({"needs_approval": "yes"}, "needs_approval"),
    ):
        response = client.post(f"/api/groups/{w.gid}/invites", body, format="json")
        assert (response.status_code, response.json()["details"]["field"]) == (400, field)
    assert not InviteLink.objects.exists()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_never_exceed_max_uses(make_user, monkeypatch):
    """Eight people pass the link's checks together (held at a barrier after them), then all try
    to take a use of a 3-use link: the conditional UPDATE lets exactly three in."""
    owner = make_user("owner")
    group = services.group_create(actor=owner, name="Race")
    link = invites.invite_create(actor=owner, group_id=group.pk, max_uses=3)
    people = [make_user(f"person{i}") for i in range(8)]
    barrier = threading.Barrier(len(people), timeout=20)
    checked = invites._usable_link

    def checked_together(actor: Any, token: str) -> InviteLink:
        found = checked(actor, token)
        barrier.wait()
        return found

    monkeypatch.setattr(invites, "_usable_link", checked_together)
    outcome: dict[int, Any] = {}

    def join(person) -> None:
        try:
            outcome[person.pk] = invites.invite_join(actor=person, token=link.token)
        except DomainError as exc:
            outcome[person.pk] = exc.details.get("reason")
        finally:
            connection.close()

    threads = [threading.Thread(target=join, args=(p,), daemon=True) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refusals = [value for value in outcome.values() if isinstance(value, str)]
    assert (len(outcome), refusals) == (8, ["used_up"] * 5)
    assert InviteLink.objects.get(pk=link.pk).uses == 3
    assert len(members(group.pk)) == 4
