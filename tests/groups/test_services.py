"""Group services: creating a group; the group.* events each change publishes, to whom and as
clients see them; the audit entries of moderation steps. Also the shared world of every kind of
actor that the permission, REST and timer tests use."""

from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from accounts.models import User
from accounts.services import bot_create, friendship_create
from chats.models import Chat, ChatMember
from chats.realtime import render_for
from groups import services
from groups.models import Group, JoinRequest, Mute, Notice
from groups.selectors import active_mute_until
from groups.services import group_create
from imsuite.errors import DomainError, ErrorCode
from imsuite.models import AuditEntry

pytestmark = pytest.mark.django_db

AVATAR = "https://example.com/new.png"
ACTORS = ("owner", "admin", "member", "muted", "outsider", "bot_member", "bot_admin")
MEMBERS = ("owner", "admin", "peer", "bot_admin", "member", "muted", "target", "bot_member")
MANAGERS = ("owner", "admin", "peer", "bot_admin")
PEOPLE = ("owner", "admin", "member", "muted", "outsider", "target", "peer", "candidate", "requester")


# --- the shared world ------------------------------------------------------------------------


def build_world(make_user: Callable[..., User]) -> SimpleNamespace:
    """One group "Team" with every kind of actor. Owner: owner. Admins: admin, peer, bot_admin.
    Plain members: member, muted (muted for an hour by the owner), target, bot_member. Not in it:
    outsider; candidate (a friend of every actor), requester (a pending join request). Both bots
    belong to the owner. No event of the set-up is delivered (its commit callbacks never run)."""
    users = {name: make_user(name, nickname=name.title()) for name in PEOPLE}
    owner = users["owner"]
    for name in ("bot_member", "bot_admin"):
        users[name], _token = bot_create(actor=owner, username=name, nickname=name.title())
    for name in ACTORS:
        friendship_create(user_a=users["candidate"], user_b=users[name])
    for name in ("admin", "member", "muted", "target", "peer"):
        friendship_create(user_a=owner, user_b=users[name])
    group = group_create(actor=owner, name="Team", member_ids=[users[n].pk for n in MEMBERS[1:]])
    for name in ("admin", "peer", "bot_admin"):
        services.member_update(actor=owner, group_id=group.pk, user_id=users[name].pk, role="admin")
    services.group_ban(actor=owner, group_id=group.pk, user_id=users["muted"].pk, duration=3600)
    request = services.join_request_create(actor=users["requester"], group_id=group.pk, comment="hi")
    return SimpleNamespace(**users, group=group, gid=group.pk, request_id=request.pk)


@pytest.fixture
def world(make_user: Callable[..., User]) -> SimpleNamespace:
    return build_world(make_user)


def snapshot(gid: int) -> dict[str, Any]:
    """Every row a group operation may change, in comparable form."""
    return {
        "group": Group.objects.filter(pk=gid).values("name", "avatar_url", "owner_id", "dissolved_at").get(),
        "members": {
            user_id: (role, card, level)
            for user_id, role, card, level in ChatMember.objects.filter(chat_id=gid).values_list(
                "user_id", "role", "card", "level"
            )
        },
        "mutes": {
            user_id: (operator_id, until)
            for user_id, operator_id, until in Mute.objects.filter(group_id=gid).values_list(
                "user_id", "operator_id", "until"
            )
        },
        "notices": list(
            Notice.objects.filter(group_id=gid)
            .order_by("pk")
            .values_list("author_id", "content", "image_url")
        ),
        "requests": {
            user_id: (operator_id, status, decided_by)
            for user_id, operator_id, status, decided_by in JoinRequest.objects.filter(
                group_id=gid
            ).values_list("user_id", "operator_id", "status", "decided_by_id")
        },
        "audit": list(
            AuditEntry.objects.order_by("pk").values_list(
                "actor_id", "action", "target_type", "target_id", "group_id", "source"
            )
        ),
    }


def iso(value: datetime | None) -> str | None:
    """A datetime as REST and events carry it (ISO 8601, UTC as Z)."""
    return value and value.isoformat().replace("+00:00", "Z")


def member_json(gid: int, user_id: int) -> dict[str, Any]:
    """A member exactly as the members list and group.* events show them, from the stored rows."""
    row = ChatMember.objects.select_related("user").get(chat_id=gid, user_id=user_id)
    user = row.user
    return {
        "user_id": user.pk,
        "user": {"id": user.pk, "nickname": user.nickname, "avatar_url": user.avatar_url},
        "username": user.username,
        "role": row.role,
        "level": row.level,
        "card": row.card,
        "title": row.card or user.nickname,
        "muted_until": iso(active_mute_until(row)),
        "joined_at": iso(row.joined_at),
    }


def request_json(request: JoinRequest) -> dict[str, Any]:
    request.refresh_from_db()
    user = request.user
    return {
        "id": request.pk,
        "group_id": request.group_id,
        "user_id": user.pk,
        "user": {"id": user.pk, "nickname": user.nickname, "avatar_url": user.avatar_url},
        "operator_id": request.operator_id,
        "comment": request.comment,
        "status": request.status,
        "created_at": iso(request.created_at),
        "decided_by": request.decided_by_id,
        "decided_at": iso(request.decided_at),
    }


def frames(inbox, user: User) -> list[tuple[str, dict[str, Any]]]:
    """The client frames (type, payload) this user's connections would get, oldest first. Events are
    in the channel layer once the publishing commit's callbacks have run, so a short wait will do."""
    return [render_for(*unwrapped(message), user.pk) for message in inbox.drain(user, wait=0.05)]


def unwrapped(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A domain event's name and data; a bot's (kept for its stream, bots.stream) comes wrapped in
    `bot.event` {seq, name, data}: the same event under its own seq."""
    if message["event"] == "bot.event":
        assert message["data"]["seq"] > 0
        return message["data"]["name"], message["data"]["data"]
    return message["event"], message["data"]


def refused_create(code: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        group_create(**kwargs)
    assert info.value.code == code
    assert not Group.objects.exists()
    assert not Chat.objects.filter(type=Chat.Type.GROUP).exists()
    return info.value


def test_create_with_friends_and_own_bots(alice, bob, carol, inbox, django_capture_on_commit_callbacks):
    friendship_create(user_a=alice, user_b=bob)
    bot, _token = bot_create(actor=alice, username="alicebot")
    inbox.listen(alice, bob, bot, carol)
    with django_capture_on_commit_callbacks(execute=True):
        group = group_create(actor=alice, name="  Team  ", member_ids=[bot.pk, bob.pk, alice.pk, bob.pk])
    row = Group.objects.select_related("chat").get()
    assert (row.pk, row.chat_id, row.chat.type, row.name, row.owner_id, row.avatar_url) == (
        group.pk,
        group.pk,
        "group",
        "Team",
        alice.pk,
        "",
    )
    assert sorted(ChatMember.objects.filter(chat_id=group.pk).values_list("user_id", "role")) == [
        (alice.pk, "owner"),
        (bob.pk, "member"),
        (bot.pk, "member"),
    ]
    expected = {
        "type": "domain.event",
        "event": "group.created",
        "data": {
            "group_id": group.pk,
            "name": "Team",
            "owner_id": alice.pk,
            "member_ids": sorted([alice.pk, bob.pk, bot.pk]),
        },
    }
    for member in (alice, bob):
        assert inbox.drain(member) == [expected]
    # A bot protocol has no group.created: its bots hear of each member added (themselves too),
    # each kept for the bot's stream under a seq of its own (bots.stream: `bot.event`).
    received = inbox.drain(bot)
    joined = [
        {
            "type": "domain.event",
            "event": "bot.event",
            "data": {
                "seq": event["data"]["seq"],
                "name": "group.member_added",
                "data": {
                    "group_id": group.pk,
                    "user_id": user.pk,
                    "operator_id": alice.pk,
                    "member": member_json(group.pk, user.pk),
                },
            },
        }
        for user, event in zip((bob, bot), received[1:], strict=True)
    ]
    assert received == [expected, *joined]
    assert 0 < joined[0]["data"]["seq"] < joined[1]["data"]["seq"]
    assert inbox.drain(carol) == []


def test_create_alone(alice):
    group = group_create(actor=alice, name="Solo", avatar_url="https://example.com/g.png")
    assert group.avatar_url == "https://example.com/g.png"
    assert list(ChatMember.objects.filter(chat_id=group.pk).values_list("user_id", "role")) == [
        (alice.pk, "owner")
    ]


def test_create_refuses_strangers_and_others_bots(alice, bob, carol):
    friendship_create(user_a=alice, user_b=bob)
    bobs_bot, _token = bot_create(actor=bob, username="bobbot")
    strangers = sorted([carol.pk, bobs_bot.pk, 987654])
    error = refused_create(
        ErrorCode.PERMISSION_DENIED, actor=alice, name="Team", member_ids=[bob.pk, *strangers]
    )
    assert error.details == {"reason": "not_friends", "user_ids": strangers}


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "empty"), ("   ", "empty"), (None, "empty"), (7, "empty"), ("x" * 65, "too_long")],
)
def test_create_refuses_bad_name(alice, name, reason):
    error = refused_create(ErrorCode.VALIDATION_ERROR, actor=alice, name=name)
    assert error.details == {"field": "name", "reason": reason}


def test_name_of_64_characters_after_trimming_is_accepted(alice):
    assert group_create(actor=alice, name=f"  {'x' * 64}  ").name == "x" * 64


# --- events ----------------------------------------------------------------------------------


def to(names: tuple[str, ...], *expected: tuple[str, dict]) -> dict[str, list]:
    return {name: list(expected) for name in names}


def removed(w: SimpleNamespace, user: User, operator: User, reason: str) -> tuple[str, dict]:
    data = {"group_id": w.gid, "user_id": user.pk, "operator_id": operator.pk, "reason": reason}
    return ("group.member_removed", data)


def updated(w: SimpleNamespace, user: User, operator: User, changed: list[str]) -> tuple[str, dict]:
    data = {"group_id": w.gid, "user_id": user.pk, "operator_id": operator.pk, "changed": changed}
    return ("group.member_updated", {**data, "member": member_json(w.gid, user.pk)})


def ban(w: SimpleNamespace, user: User | None, operator: User, duration: int) -> tuple[str, dict]:
    mute = Mute.objects.filter(group_id=w.gid, user=user).first()
    data = {"group_id": w.gid, "user_id": user and user.pk, "operator_id": operator.pk}
    return ("group.ban", {**data, "duration": duration, "until": iso(mute and mute.until)})


def join_request(w: SimpleNamespace, user: User) -> tuple[str, dict]:
    return (
        "group.join_request",
        {"group_id": w.gid, "request": request_json(JoinRequest.objects.get(user=user))},
    )


def added(w: SimpleNamespace, user: User, operator: User) -> tuple[str, dict]:
    data = {"group_id": w.gid, "user_id": user.pk, "operator_id": operator.pk}
    return ("group.member_added", {**data, "member": member_json(w.gid, user.pk)})


def approved(w: SimpleNamespace) -> dict[str, list]:
    """Managers and the requester learn of the decision; every member (the new one too) of the join."""
    decided, joined = join_request(w, w.requester), added(w, w.requester, w.requester)
    return {**to(MEMBERS, joined), **to((*MANAGERS, "requester"), decided, joined)}


def notice(w: SimpleNamespace) -> tuple[str, dict]:
    row = Notice.objects.get(group_id=w.gid)
    body = {"id": row.pk, "group_id": w.gid, "author_id": w.admin.pk, "content": "Read me"}
    return (
        "group.notice",
        {"group_id": w.gid, "notice": {**body, "image": AVATAR, "created_at": iso(row.created_at)}},
    )


def dissolved(w: SimpleNamespace) -> dict[str, list]:
    """Each member: their own member_removed (reason dissolve), then group.dissolved; nobody hears
    of anyone else's removal."""
    end = ("group.dissolved", {"group_id": w.gid, "operator_id": w.owner.pk})
    return {name: [removed(w, getattr(w, name), w.owner, "dissolve"), end] for name in MEMBERS}


# case: (the change, {viewer: the frames they get}); everyone else in the world gets nothing.
EVENT_CASES: dict[str, tuple[Callable, Callable]] = {
    "updated": (
        lambda w: services.group_update(actor=w.admin, group_id=w.gid, name="Renamed", avatar_url=AVATAR),
        lambda w: to(
            MEMBERS,
            (
                "group.updated",
                {
                    "group_id": w.gid,
                    "name": "Renamed",
                    "avatar_url": AVATAR,
                    "owner_id": w.owner.pk,
                    "members_mention_all": False,
                    "operator_id": w.admin.pk,
                },
            ),
        ),
    ),
    "member_added": (
        lambda w: services.member_add(actor=w.bot_admin, group_id=w.gid, user_id=w.candidate.pk),
        lambda w: to((*MEMBERS, "candidate"), added(w, w.candidate, w.bot_admin)),
    ),
    "kick": (
        lambda w: services.member_kick(actor=w.admin, group_id=w.gid, user_id=w.target.pk),
        lambda w: to(MEMBERS, removed(w, w.target, w.admin, "kick")),
    ),
    "leave": (
        lambda w: services.group_leave(actor=w.muted, group_id=w.gid),
        lambda w: to(MEMBERS, removed(w, w.muted, w.muted, "leave")),
    ),
    "card_and_level": (
        lambda w: services.member_update(
            actor=w.owner, group_id=w.gid, user_id=w.muted.pk, card="Quiet", level="5"
        ),
        lambda w: to(MEMBERS, updated(w, w.muted, w.owner, ["card", "level"])),
    ),
    "demote": (
        lambda w: services.member_update(actor=w.owner, group_id=w.gid, user_id=w.admin.pk, role="member"),
        lambda w: to(MEMBERS, updated(w, w.admin, w.owner, ["role"])),
    ),
    "mute": (
        lambda w: services.group_ban(actor=w.admin, group_id=w.gid, user_id=w.target.pk, duration=60),
        lambda w: to(MEMBERS, ban(w, w.target, w.admin, 60)),
    ),
    "mute_everyone": (
        lambda w: services.group_ban(actor=w.owner, group_id=w.gid, duration=600),
        lambda w: to(MEMBERS, ban(w, None, w.owner, 600)),
    ),
    "lift": (
        lambda w: services.group_ban(actor=w.admin, group_id=w.gid, user_id=w.muted.pk, duration=0),
        lambda w: to(MEMBERS, ban(w, w.muted, w.admin, 0)),
    ),
    "notice": (
        lambda w: services.notice_create(actor=w.admin, group_id=w.gid, content=" Read me ", image=AVATAR),
        lambda w: to(MEMBERS, notice(w)),
    ),
    "join_request": (
        lambda w: services.join_request_create(actor=w.outsider, group_id=w.gid),
        lambda w: to((*MANAGERS, "outsider"), join_request(w, w.outsider)),
    ),
    "invitation": (
        lambda w: services.member_add(actor=w.member, group_id=w.gid, user_id=w.candidate.pk),
        lambda w: to((*MANAGERS, "member", "candidate"), join_request(w, w.candidate)),
    ),
    "approve": (
        lambda w: services.join_request_decide(
            actor=w.owner, group_id=w.gid, request_id=w.request_id, approve=True
        ),
        approved,
    ),
    "reject": (
        lambda w: services.join_request_decide(
            actor=w.admin, group_id=w.gid, request_id=w.request_id, approve=False
        ),
        lambda w: to((*MANAGERS, "requester"), join_request(w, w.requester)),
    ),
    "dissolve": (lambda w: services.group_dissolve(actor=w.owner, group_id=w.gid), dissolved),
    "owner_leaves": (lambda w: services.group_leave(actor=w.owner, group_id=w.gid), dissolved),
}


@pytest.mark.parametrize("case", EVENT_CASES)
def test_events_reach_members_and_the_affected_user_only(
    world, inbox, django_capture_on_commit_callbacks, case
):
    act, expect = EVENT_CASES[case]
    everyone = {name: getattr(world, name) for name in (*PEOPLE, "bot_member", "bot_admin")}
    inbox.listen(*everyone.values())
    with django_capture_on_commit_callbacks(execute=True):
        act(world)
    expected = expect(world)
    got = {name: frames(inbox, user) for name, user in everyone.items()}
    assert got == {name: expected.get(name, []) for name in everyone}


def test_dissolving_a_group_of_21_costs_two_events_per_member(
    make_user, inbox, django_capture_on_commit_callbacks
):
    """Each member hears of their own removal and of the dissolution: 42 deliveries for 21 members
    (it was 21 removals told to all 21, plus the dissolution: 462)."""
    owner = make_user("owner")
    others = [make_user(f"member{i}") for i in range(20)]
    for other in others:
        friendship_create(user_a=owner, user_b=other)
    group = group_create(actor=owner, name="Big", member_ids=[other.pk for other in others])
    inbox.listen(owner, *others)
    with django_capture_on_commit_callbacks(execute=True):
        services.group_dissolve(actor=owner, group_id=group.pk)
    got = {user.pk: inbox.drain(user, wait=0.05) for user in (owner, *others)}
    for user_id, events in got.items():
        removal = {"group_id": group.pk, "user_id": user_id, "operator_id": owner.pk, "reason": "dissolve"}
        assert events == [
            {"type": "domain.event", "event": "group.member_removed", "data": removal},
            {
                "type": "domain.event",
                "event": "group.dissolved",
                "data": {"group_id": group.pk, "operator_id": owner.pk},
            },
        ]
    assert sum(len(events) for events in got.values()) == 42


# --- audit log -------------------------------------------------------------------------------


# case: (a step through the services, its audit entry: actor, action, target_type, target, details)
AUDIT_CASES: dict[str, tuple[Callable, Callable]] = {
    "rename": (
        lambda w: services.group_update(actor=w.admin, group_id=w.gid, name="Renamed"),
        lambda w: (w.admin, "group.update", "group", w.gid, {"name": "Renamed"}),
    ),
    "add": (
        lambda w: services.member_add(actor=w.bot_admin, group_id=w.gid, user_id=w.candidate.pk),
        lambda w: (w.bot_admin, "member.add", "user", w.candidate.pk, {}),
    ),
    "kick": (
        lambda w: services.member_kick(actor=w.owner, group_id=w.gid, user_id=w.peer.pk),
        lambda w: (w.owner, "member.kick", "user", w.peer.pk, {}),
    ),
    "promote": (
        lambda w: services.member_update(actor=w.owner, group_id=w.gid, user_id=w.target.pk, role="admin"),
        lambda w: (w.owner, "member.update", "user", w.target.pk, {"role": "admin"}),
    ),
    "card": (
        lambda w: services.member_update(actor=w.admin, group_id=w.gid, user_id=w.target.pk, card="T"),
        lambda w: (w.admin, "member.update", "user", w.target.pk, {"card": "T"}),
    ),
    "level": (
        lambda w: services.member_update(actor=w.admin, group_id=w.gid, user_id=w.target.pk, level="9"),
        lambda w: (w.admin, "member.update", "user", w.target.pk, {"level": "9"}),
    ),
    "mute": (
        lambda w: services.group_ban(actor=w.admin, group_id=w.gid, user_id=w.target.pk, duration=60),
        lambda w: (w.admin, "group.ban", "user", w.target.pk, {"duration": 60}),
    ),
    "mute_everyone": (
        lambda w: services.group_ban(actor=w.admin, group_id=w.gid, duration=60),
        lambda w: (w.admin, "group.ban", "group", w.gid, {"duration": 60}),
    ),
    "lift": (
        lambda w: services.group_ban(actor=w.admin, group_id=w.gid, user_id=w.muted.pk, duration=0),
        lambda w: (w.admin, "group.unban", "user", w.muted.pk, {"duration": 0}),
    ),
    "notice": (
        lambda w: services.notice_create(actor=w.admin, group_id=w.gid, content="Read me"),
        lambda w: (w.admin, "notice.create", "notice", Notice.objects.get().pk, {}),
    ),
    "approve": (
        lambda w: services.join_request_decide(
            actor=w.admin, group_id=w.gid, request_id=w.request_id, approve=True
        ),
        lambda w: (w.admin, "join_request.approve", "user", w.requester.pk, {}),
    ),
    "reject": (
        lambda w: services.join_request_decide(
            actor=w.admin, group_id=w.gid, request_id=w.request_id, approve=False
        ),
        lambda w: (w.admin, "join_request.reject", "user", w.requester.pk, {}),
    ),
    "dissolve": (
        lambda w: services.group_dissolve(actor=w.owner, group_id=w.gid),
        lambda w: (w.owner, "group.dissolve", "group", w.gid, {}),
    ),
}


def audit_entries(after_pk: int) -> list[tuple]:
    return [
        (e.actor, e.action, e.target_type, e.target_id, e.group_id, e.details, e.source)
        for e in AuditEntry.objects.filter(pk__gt=after_pk).order_by("pk")
    ]


def last_audit_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("case", AUDIT_CASES)
def test_each_moderation_step_writes_one_system_audit_entry(world, case):
    act, expect = AUDIT_CASES[case]
    start = last_audit_pk()
    act(world)
    actor, action, target_type, target_id, details = expect(world)
    assert audit_entries(start) == [(actor, action, target_type, target_id, world.gid, details, "system")]


@pytest.mark.parametrize(
    "act",
    [
        lambda w: services.member_update(actor=w.member, group_id=w.gid, user_id=w.member.pk, card="Me"),
        lambda w: services.member_update(actor=w.admin, group_id=w.gid, user_id=w.admin.pk, level="3"),
        lambda w: services.group_leave(actor=w.member, group_id=w.gid),
        lambda w: services.member_add(actor=w.member, group_id=w.gid, user_id=w.candidate.pk),
        lambda w: services.join_request_create(actor=w.outsider, group_id=w.gid),
    ],
    ids=["own_card", "own_level", "leave", "invitation", "join_request"],
)
def test_steps_on_oneself_and_requests_are_not_moderation(world, act):
    start = last_audit_pk()
    act(world)
    assert audit_entries(start) == []


def test_a_refused_or_failed_step_writes_no_audit_entry(world):
    start = last_audit_pk()
    for act in (
        lambda: services.member_kick(actor=world.admin, group_id=world.gid, user_id=world.owner.pk),
        lambda: services.group_ban(actor=world.member, group_id=world.gid, duration=60),
        lambda: services.notice_create(actor=world.admin, group_id=world.gid, content=" "),
        lambda: services.member_add(actor=world.owner, group_id=world.gid, user_id=world.admin.pk),
    ):
        with pytest.raises(DomainError):
            act()
    assert audit_entries(start) == []
