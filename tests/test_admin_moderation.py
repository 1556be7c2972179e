"""Moderation from Django admin: each action goes through the services, so members get the same
events as from any other door, and leaves one audit entry with source "admin"; a refusal shows as
an error message and changes nothing, while the other selected rows still go through."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Max
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import friendship_create
from chats.models import Chat, ChatMember, Message, Role
from chats.services import message_send
from groups.models import Group, GroupBan, GroupMember, Mute, Notice
from groups.services import MAX_MUTE_SECONDS, group_ban, group_create, group_dissolve, member_ban
from imsuite.models import AuditEntry

pytestmark = pytest.mark.django_db

PEOPLE = ("alice", "bob", "carol")


def admin_url(model: Any, view: str = "changelist", *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def member(group: Group, user: User) -> GroupMember:
    return GroupMember.objects.get(chat_id=group.pk, user=user)


def standing(group: Group, user: User) -> tuple[str | None, bool]:
    """A user's role in the group (None when out of it) and whether a mute of theirs is running."""
    role = ChatMember.objects.filter(chat_id=group.pk, user=user).values_list("role", flat=True).first()
    return role, Mute.objects.filter(group=group, user=user).exists()


def picked(data: Any, expected: Any) -> Any:
    """The part of an event's data that `expected` names (nested dicts followed)."""
    if isinstance(expected, dict):
        return {key: picked(data.get(key), value) for key, value in expected.items()}
    return data


def seen(events: list[tuple[str, dict]], expected: list[tuple[str, dict]]) -> list[tuple[str, Any]]:
    """The events as `expected` looks at them; an extra or a missing event still shows."""
    wants = [want for _, want in expected] + [{}] * (len(events) - len(expected))
    return [(name, picked(data, want)) for (name, data), want in zip(events, wants, strict=False)]


@pytest.fixture
def team(alice, bob, carol) -> Group:
    """alice owns Team, carol is its admin, bob a plain member; alice and bob also share a private chat."""
    for friend in (bob, carol):
        friendship_create(user_a=alice, user_b=friend)
    group = group_create(actor=alice, name="Team", member_ids=[bob.pk, carol.pk])
    ChatMember.objects.filter(chat_id=group.pk, user=carol).update(role=Role.ADMIN)
    return group


@pytest.fixture
def other(alice, carol) -> Group:
    return group_create(actor=carol, name="Other", member_ids=[alice.pk])


@dataclass
class Outcome:
    messages: list[tuple[str, str]]
    audit: list[tuple]  # entries written by the step: actor, action, target, group, source, details
    events: dict[str, list[tuple[str, dict]]]  # per listening person, (event, data)


@pytest.fixture
def moderate(
    moderator, inbox, alice, bob, carol, django_capture_on_commit_callbacks
) -> Callable[..., Outcome]:
    """Run an admin action as Django admin does: post to the changelist, follow the redirect."""
    people = {"alice": alice, "bob": bob, "carol": carol}
    inbox.listen(*people.values())

    def run(model: Any, action: str, rows: list[Any], by: User | None = None, **form: str) -> Outcome:
        client = Client()
        client.force_login(by or moderator)
        mark = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                admin_url(model),
                {"action": action, "_selected_action": [row.pk for row in rows], **form},
                follow=True,
            )
        assert response.redirect_chain == [(admin_url(model), 302)]
        audit = AuditEntry.objects.filter(pk__gt=mark).order_by("pk")
        return Outcome(
            messages=[(m.level_tag, str(m)) for m in response.context["messages"]],
            audit=list(
                audit.values_list(
                    "actor__username", "action", "target_type", "target_id", "group_id", "source", "details"
                )
            ),
            events={
                name: [(e["event"], e["data"]) for e in inbox.drain(user, wait=0.1)]
                for name, user in people.items()
            },
        )

    return run


# ---- members -----------------------------------------------------------------------------------


def test_mute_member_for_a_duration(moderate, team, moderator, bob):
    out = moderate(GroupMember, "mute", [member(team, bob)], duration="600")
    assert out.messages == [("success", "Muted: 1.")]
    mute = Mute.objects.get(group=team, user=bob)
    assert abs(mute.until - timezone.now() - timedelta(seconds=600)) < timedelta(seconds=10)
    assert mute.operator == moderator
    data = {"group_id": team.pk, "user_id": bob.pk, "operator_id": moderator.pk, "duration": 600}
    expected = [("group.ban", data)]
    for name in PEOPLE:
        assert seen(out.events[name], expected) == expected
    assert out.audit == [("mod", "group.ban", "user", bob.pk, team.pk, "admin", {"duration": 600})]


@pytest.mark.parametrize(
    ("action", "who", "before", "after", "event", "details"),
    [
        (
            "unmute",
            "bob",
            ("member", True),
            ("member", False),
            ("group.ban", {"duration": 0}),
            {"duration": 0},
        ),
        ("kick", "bob", ("member", False), (None, False), ("group.member_removed", {"reason": "kick"}), {}),
        (
            "promote",
            "bob",
            ("member", False),
            ("admin", False),
            ("group.member_updated", {"changed": ["role"], "member": {"role": "admin"}}),
            {"role": "admin"},
        ),
        (
            "demote",
            "carol",
            ("admin", False),
            ("member", False),
            ("group.member_updated", {"changed": ["role"], "member": {"role": "member"}}),
            {"role": "member"},
        ),
    ],
)
def test_member_actions(request, moderate, team, moderator, action, who, before, after, event, details):
    user = request.getfixturevalue(who)
    if before[1]:
        Mute.objects.create(group=team, user=user, until=timezone.now() + timedelta(hours=1))
    assert standing(team, user) == before
    out = moderate(GroupMember, action, [member(team, user)])
    done = {"unmute": "Unmuted", "kick": "Kicked", "promote": "Promoted", "demote": "Demoted"}[action]
    assert out.messages == [("success", f"{done}: 1.")]
    assert standing(team, user) == after
    name, data = event
    expected = [(name, {"group_id": team.pk, "user_id": user.pk, "operator_id": moderator.pk, **data})]
    for person in PEOPLE:  # the kicked member hears of it too
        assert seen(out.events[person], expected) == expected
    audit_action = {"unmute": "group.unban", "kick": "member.kick"}.get(action, "member.update")
    assert out.audit == [("mod", audit_action, "user", user.pk, team.pk, "admin", details)]


@pytest.mark.parametrize(
    ("action", "other", "done", "refusal"),
    [
        ("kick", "bob", "Kicked", "The owner cannot be kicked; dissolve the group instead."),
        ("promote", "bob", "Promoted", "The owner's role cannot change."),
        ("demote", "carol", "Demoted", "The owner's role cannot change."),
    ],
)
def test_refused_row_changes_nothing_and_others_go_through(
    request, moderate, team, alice, action, other, done, refusal
):
    user = request.getfixturevalue(other)
    out = moderate(GroupMember, action, [member(team, alice), member(team, user)])
    assert out.messages == [
        ("error", f"alice in group chat {team.pk}: {refusal} (PERMISSION_DENIED)"),
        ("success", f"{done}: 1."),
    ]
    assert standing(team, alice) == ("owner", False)
    assert [(action_name, target) for _, action_name, _, target, *_ in out.audit] == [
        ("member.kick" if action == "kick" else "member.update", user.pk)
    ]


def test_staff_without_moderator_rights_is_refused_by_the_service(moderate, team, bob, make_user):
    clerk = make_user("clerk")
    User.objects.filter(pk=clerk.pk).update(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_groupmember"))
    out = moderate(GroupMember, "kick", [member(team, bob)], by=clerk)
    assert out.messages == [("error", f"bob in group chat {team.pk}: Group not found. (NOT_FOUND)")]
    assert (standing(team, bob), out.audit) == (("member", False), [])


DURATION_MISSING = "Give a duration in seconds."
NOTICE_MISSING = "Write the notice's text."


@pytest.mark.parametrize(
    ("model", "action", "form", "error"),
    [
        (GroupMember, "mute", {}, DURATION_MISSING),
        (GroupMember, "mute", {"duration": ""}, DURATION_MISSING),
        (GroupMember, "mute", {"duration": "0"}, DURATION_MISSING),
        (GroupMember, "mute", {"duration": "soon"}, DURATION_MISSING),
        (GroupMember, "mute", {"duration": str(MAX_MUTE_SECONDS + 1)}, DURATION_MISSING),
        (Group, "mute_everyone", {"duration": ""}, DURATION_MISSING),
        (Group, "send_notice", {}, NOTICE_MISSING),
        (Group, "send_notice", {"notice": "   "}, NOTICE_MISSING),
    ],
)
def test_missing_input_changes_nothing(moderate, team, bob, model, action, form, error):
    out = moderate(model, action, [member(team, bob) if model is GroupMember else team], **form)
    assert out.messages == [("error", error)]
    assert (Mute.objects.count(), Notice.objects.count(), out.audit) == (0, 0, [])
    assert out.events == {name: [] for name in PEOPLE}


def test_member_changelist_lists_group_memberships_only(staff, team, other):
    assert ChatMember.objects.filter(chat__type=Chat.Type.PRIVATE).exists()
    response = staff.get(admin_url(GroupMember))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(
        GroupMember.objects.filter(chat_id__in=[team.pk, other.pk])
    )


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("BOB", {("Team", "bob")}),
        ("carol", {("Team", "carol"), ("Other", "carol")}),
        ("other", {("Other", "carol"), ("Other", "alice")}),
        ("team", {("Team", "alice"), ("Team", "bob"), ("Team", "carol")}),
        ("nobody", set()),
    ],
)
def test_member_search_by_username_and_group_name(staff, team, other, term, found):
    response = staff.get(admin_url(GroupMember), {"q": term})
    assert {(m.chat.group.name, m.user.username) for m in response.context["cl"].result_list} == found


# ---- groups --------------------------------------------------------------------------------------


def group_state(group: Group) -> tuple[bool, list[str], bool]:
    """Whether the whole group is muted, its notices, whether it is dissolved."""
    group.refresh_from_db()
    muted = Mute.objects.filter(group=group, user=None).exists()
    return (
        muted,
        list(Notice.objects.filter(group=group).values_list("content", flat=True)),
        bool(group.dissolved_at),
    )


@pytest.mark.parametrize(
    ("action", "form", "done", "after", "events", "audit"),
    [
        (
            "mute_everyone",
            {"duration": "3600"},
            "Muted",
            (True, [], False),
            [("group.ban", {"user_id": None, "duration": 3600})],
            ("group.ban", "group", {"duration": 3600}),
        ),
        (
            "unmute_everyone",
            {},
            "Unmuted",
            (False, [], False),
            [("group.ban", {"user_id": None, "duration": 0, "until": None})],
            ("group.unban", "group", {"duration": 0}),
        ),
        (
            "send_notice",
            {"notice": " Be kind "},
            "Notice sent",
            (False, ["Be kind"], False),
            [("group.notice", {"notice": {"content": "Be kind"}})],
            ("notice.create", "notice", {}),
        ),
        (
            "dissolve",
            {},
            "Dissolved",
            (False, [], True),
            [("group.member_removed", {"reason": "dissolve"}), ("group.dissolved", {})],
            ("group.dissolve", "group", {}),
        ),
    ],
)
def test_group_actions(moderate, team, moderator, action, form, done, after, events, audit):
    if action == "unmute_everyone":
        Mute.objects.create(group=team, until=timezone.now() + timedelta(hours=1))
    out = moderate(Group, action, [team], **form)
    assert out.messages == [("success", f"{done}: 1.")]
    assert group_state(team) == after
    expected = [(name, {"group_id": team.pk, **data}) for name, data in events]
    for person in PEOPLE:
        assert seen(out.events[person], expected) == expected
        assert all(data.get("operator_id", moderator.pk) == moderator.pk for _, data in out.events[person])
    audit_action, target_type, details = audit
    target = Notice.objects.get().pk if target_type == "notice" else team.pk
    assert out.audit == [("mod", audit_action, target_type, target, team.pk, "admin", details)]


@pytest.mark.parametrize(
    ("action", "form", "done"),
    [("dissolve", {}, "Dissolved"), ("send_notice", {"notice": "hi"}, "Notice sent")],
)
def test_group_action_on_a_dissolved_group_is_refused(moderate, team, alice, bob, action, form, done):
    old = group_create(actor=alice, name="Old", member_ids=[bob.pk])
    group_dissolve(actor=alice, group_id=old.pk)
    out = moderate(Group, action, [old, team], **form)
    assert out.messages == [
        ("error", "Old: This group has been dissolved. (CONFLICT)"),
        ("success", f"{done}: 1."),
    ]
    assert not Notice.objects.filter(group=old).exists()
    assert [(entry[4], entry[5]) for entry in out.audit] == [(team.pk, "admin")]


# ---- messages and users --------------------------------------------------------------------------


def test_recall_group_message_by_a_moderator_outside_the_group(moderate, team, moderator, bob):
    message, _ = message_send(actor=bob, chat_id=team.pk, content="spam spam")
    assert not ChatMember.objects.filter(chat_id=team.pk, user=moderator).exists()
    out = moderate(Message, "recall", [message])
    assert out.messages == [("success", "Recalled: 1.")]
    message.refresh_from_db()
    assert (message.content, message.is_deleted, message.deleted_by) == ("", True, moderator)
    for person in PEOPLE:
        assert [name for name, _ in out.events[person]] == ["message.delete"]
    assert out.audit == [
        ("mod", "message.recall", "message", message.pk, team.pk, "admin", {"sender_id": bob.pk})
    ]


@pytest.mark.parametrize(
    ("action", "active", "done", "audit_action"),
    [
        ("deactivate", True, "Deactivated", "user.deactivate"),
        ("reactivate", False, "Reactivated", "user.activate"),
    ],
)
def test_user_actions_are_audited(moderate, carol, action, active, done, audit_action):
    User.objects.filter(pk=carol.pk).update(is_active=active)
    out = moderate(User, action, [carol])
    assert out.messages == [("success", f"{done}: 1.")]
    assert User.objects.get(pk=carol.pk).is_active is not active
    assert out.audit == [("mod", audit_action, "user", carol.pk, None, "admin", {})]


# ---- the audit log -------------------------------------------------------------------------------


def test_audit_changelist_shows_filters_and_searches(moderate, staff, team, alice, bob, carol, client_for):
    group_ban(actor=alice, group_id=team.pk, user_id=bob.pk, duration=60)  # no door: system
    rest = client_for(alice).post(f"/api/groups/{team.pk}/bans", {"duration": 0}, format="json")
    assert rest.status_code == 200
    moderate(GroupMember, "kick", [member(team, bob)])
    moderate(GroupMember, "mute", [member(team, carol)], duration="60")
    entries = {(e.actor.username, e.action, e.source): e for e in AuditEntry.objects.select_related("actor")}
    assert set(entries) == {
        ("alice", "group.ban", "system"),
        ("alice", "group.unban", "rest"),
        ("mod", "member.kick", "admin"),
        ("mod", "group.ban", "admin"),
    }

    def listed(**query: str) -> set[tuple[str, str, str]]:
        response = staff.get(admin_url(AuditEntry), query)
        assert response.status_code == 200
        return {key for key, entry in entries.items() if entry in response.context["cl"].result_list}

    assert listed() == set(entries)
    assert listed(source__exact="admin") == {("mod", "member.kick", "admin"), ("mod", "group.ban", "admin")}
    assert listed(source__exact="rest") == {("alice", "group.unban", "rest")}
    assert listed(action__exact="group.ban") == {
        ("alice", "group.ban", "system"),
        ("mod", "group.ban", "admin"),
    }
    assert listed(action__exact="group.ban", source__exact="admin") == {("mod", "group.ban", "admin")}
    assert listed(q="MOD") == {("mod", "member.kick", "admin"), ("mod", "group.ban", "admin")}
    assert listed(q="alice") == {("alice", "group.ban", "system"), ("alice", "group.unban", "rest")}


# ---- who may come in -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "alice"])
@pytest.mark.parametrize("model", [GroupMember, Group, Message, AuditEntry], ids=lambda m: m.__name__)
def test_non_staff_is_sent_to_login(request, client, team, bob, who, model):
    if who:
        client.force_login(request.getfixturevalue(who))
    url = admin_url(model)
    login = f"{reverse('admin:login')}?next={url}"
    response = client.get(url)
    assert (response.status_code, response.url) == (302, login)
    for target, action, row in ((GroupMember, "kick", member(team, bob)), (Group, "dissolve", team)):
        response = client.post(admin_url(target), {"action": action, "_selected_action": [row.pk]})
        assert (response.status_code, response.url) == (
            302,
            f"{reverse('admin:login')}?next={admin_url(target)}",
        )
    assert (standing(team, bob), group_state(team), AuditEntry.objects.filter(source="admin").exists()) == (
        ("member", False),
        (False, [], False),
        False,
    )


# ---- bans (issue 21) ------------------------------------------------------------------------------


def test_ban_member_for_good_and_lift_it_from_the_bans_list(moderate, team, moderator, bob):
    out = moderate(GroupMember, "ban", [member(team, bob)])
    assert out.messages == [("success", "Banned: 1.")]
    assert standing(team, bob) == (None, False)
    assert list(GroupBan.objects.values_list("group_id", "user_id", "until", "operator_id")) == [
        (team.pk, bob.pk, None, moderator.pk)
    ]
    removed = {"group_id": team.pk, "user_id": bob.pk, "operator_id": moderator.pk, "reason": "ban"}
    for name in PEOPLE:
        assert out.events[name] == [("group.member_removed", removed)]
    details = {"duration": None, "reason": ""}
    assert out.audit == [("mod", "member.ban", "user", bob.pk, team.pk, "admin", details)]

    out = moderate(GroupBan, "lift", list(GroupBan.objects.all()))
    assert out.messages == [("success", "Lifted: 1.")]
    assert not GroupBan.objects.exists()
    assert out.audit == [("mod", "member.unban", "user", bob.pk, team.pk, "admin", {})]


def test_an_expired_ban_cannot_be_lifted_again(moderate, team, alice, bob):
    member_ban(actor=alice, group_id=team.pk, user_id=bob.pk, duration=60)
    GroupBan.objects.update(until=timezone.now() - timedelta(seconds=1))
    out = moderate(GroupBan, "lift", list(GroupBan.objects.all()))
    assert [level for level, _text in out.messages] == ["error"]
    assert out.audit == []
