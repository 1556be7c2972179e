"""The authorization matrix: every group operation by every kind of actor, the answer it gets, and
exactly which rows change (nothing at all on a refusal, the audit log included).

People act over REST; bots have no REST token, so a bot actor calls the service directly (the bot
protocol's actions have tests of their own). Dissolving has no REST door of its own (the owner's
leave is one), so it is called on the service for everyone."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import pytest

from accounts.models import User
from groups import services
from groups.access import access_group, require_manager
from imsuite.errors import DomainError
from tests.accounts.test_api import assert_error, check
from tests.groups.test_services import ACTORS, AVATAR, build_world, snapshot

pytestmark = pytest.mark.django_db

# A number is the success status over REST ("ok": a success without a REST door); 404 is NOT_FOUND;
# a word is the details.reason of a 403 PERMISSION_DENIED.
MATRIX = """
operation     owner     admin     member    muted     outsider  bot_member bot_admin
update        200       200       not_admin not_admin 404       not_admin  200
add           201       201       202       202       404       202        201
kick          204       204       not_admin not_admin 404       not_admin  204
kick_admin    204       rank      not_admin not_admin 404       not_admin  rank
kick_owner    rank      rank      not_admin not_admin 404       not_admin  rank
set_role      200       not_owner not_owner not_owner 404       not_owner  not_owner
demote_owner  rank      not_owner not_owner not_owner 404       not_owner  not_owner
own_card      200       200       200       200       404       200        200
card          200       200       not_admin not_admin 404       not_admin  200
owner_card    200       rank      not_admin not_admin 404       not_admin  rank
level         200       200       not_admin not_admin 404       not_admin  200
mute          200       200       not_admin not_admin 404       not_admin  200
mute_admin    200       rank      not_admin not_admin 404       not_admin  rank
mute_owner    self      rank      not_admin not_admin 404       not_admin  rank
mute_self     self      self      not_admin not_admin 404       not_admin  self
mute_all      200       200       not_admin not_admin 404       not_admin  200
lift          200       200       not_admin not_admin 404       not_admin  200
notice        201       201       not_admin not_admin 404       not_admin  201
requests      200       200       not_admin not_admin 404       not_admin  200
approve       200       200       not_admin not_admin 404       not_admin  200
reject        200       200       not_admin not_admin 404       not_admin  200
leave         204       204       204       204       404       204        204
dissolve      ok        not_owner not_owner not_owner 404       not_owner  not_owner
"""


def _outcome(token: str) -> int | str | None:
    return None if token == "ok" else int(token) if token.isdigit() else token


@pytest.fixture
def world(make_user) -> SimpleNamespace:
    return build_world(make_user)


_header, *_rows = (line.split() for line in MATRIX.strip().splitlines())
assert tuple(_header[1:]) == ACTORS
CASES = [
    (row[0], actor, _outcome(token)) for row in _rows for actor, token in zip(ACTORS, row[1:], strict=True)
]


# --- operations: how to call them, and what they change ------------------------------------------

W = SimpleNamespace
State = dict[str, Any]


def pick(w: W, a: User, name: str | None) -> User | None:
    """A user named in an operation: "a" is the actor, None nobody (everyone), else one of the world."""
    return a if name == "a" else name and getattr(w, name)


def rest(method: str, suffix: Callable | str = "", body: Callable | dict | None = None) -> Callable:
    """A REST call on /api/groups/{id}{suffix}; suffix and body may be functions of (world, actor)."""

    def send(client, w: W, a: User):
        url = f"/api/groups/{w.gid}{suffix(w, a) if callable(suffix) else suffix}"
        data = body(w, a) if callable(body) else body
        return getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)

    return send


def audited(s: State, w: W, a: User, src: str, action: str, target_type: str, target_id: Any) -> None:
    s["audit"].append((a.pk, action, target_type, target_id, w.gid, src))


@dataclass
class Op:
    rest: Callable | None  # (client, world, actor) -> response
    call: Callable  # (world, actor) -> the service's result
    effect: Callable  # (expected state, world, actor, audit source, outcome) -> None, in place


def member_update_op(name: str, field: int, value: str) -> Op:
    """Set role/card/level (field 0/1/2) of a member; audited unless it is one's own card or level."""
    key = ("role", "card", "level")[field]

    def effect(s: State, w: W, a: User, src: str, outcome: Any) -> None:
        user = pick(w, a, name)
        row = list(s["members"][user.pk])
        row[field] = value
        s["members"][user.pk] = tuple(row)
        if user != a:
            audited(s, w, a, src, "member.update", "user", user.pk)

    return Op(
        rest("patch", lambda w, a: f"/members/{pick(w, a, name).pk}", {key: value}),
        lambda w, a: services.member_update(
            actor=a, group_id=w.gid, user_id=pick(w, a, name).pk, **{key: value}
        ),
        effect,
    )


def kick_op(name: str) -> Op:
    def effect(s: State, w: W, a: User, src: str, outcome: Any) -> None:
        del s["members"][pick(w, a, name).pk]
        audited(s, w, a, src, "member.kick", "user", pick(w, a, name).pk)

    return Op(
        rest("delete", lambda w, a: f"/members/{pick(w, a, name).pk}"),
        lambda w, a: services.member_kick(actor=a, group_id=w.gid, user_id=pick(w, a, name).pk),
        effect,
    )


def ban_op(name: str | None, duration: int) -> Op:
    """Mute a member (None: everyone) for `duration` seconds, 0 lifts."""

    def user_id(w: W, a: User) -> int | None:
        return getattr(pick(w, a, name), "pk", None)

    def effect(s: State, w: W, a: User, src: str, outcome: Any) -> None:
        if duration:
            s["mutes"][user_id(w, a)] = (a.pk, ANY)
        else:
            del s["mutes"][user_id(w, a)]
        target = ("user", user_id(w, a)) if name else ("group", w.gid)
        audited(s, w, a, src, "group.ban" if duration else "group.unban", *target)

    return Op(
        rest("post", "/bans", lambda w, a: {"user_id": user_id(w, a), "duration": duration}),
        lambda w, a: services.group_ban(actor=a, group_id=w.gid, user_id=user_id(w, a), duration=duration),
        effect,
    )


def decide_op(approve: bool) -> Op:
    def effect(s: State, w: W, a: User, src: str, outcome: Any) -> None:
        s["requests"][w.requester.pk] = (w.requester.pk, "approved" if approve else "rejected", a.pk)
        if approve:
            s["members"][w.requester.pk] = ("member", "", "0")
        action = "join_request.approve" if approve else "join_request.reject"
        audited(s, w, a, src, action, "user", w.requester.pk)

    return Op(
        rest("post", lambda w, a: f"/join-requests/{w.request_id}/{'approve' if approve else 'reject'}"),
        lambda w, a: services.join_request_decide(
            actor=a, group_id=w.gid, request_id=w.request_id, approve=approve
        ),
        effect,
    )


def updated(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    s["group"].update(name="Renamed", avatar_url=AVATAR)
    audited(s, w, a, src, "group.update", "group", w.gid)


def added(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    if outcome == 202:  # a plain member's invitation: a pending request with them as operator
        s["requests"][w.candidate.pk] = (a.pk, "pending", None)
    else:
        s["members"][w.candidate.pk] = ("member", "", "0")
        audited(s, w, a, src, "member.add", "user", w.candidate.pk)


def noticed(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    s["notices"].append((a.pk, "Hello", ""))
    audited(s, w, a, src, "notice.create", "notice", ANY)


def dissolved(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    """Members' rows stay (history stays readable); mutes go; pending requests are rejected."""
    s["group"]["dissolved_at"] = ANY
    s["mutes"] = {}
    s["requests"] = {
        uid: (op, "rejected", a.pk) if status == "pending" else (op, status, by)
        for uid, (op, status, by) in s["requests"].items()
    }
    audited(s, w, a, src, "group.dissolve", "group", w.gid)


def left(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    if a == w.owner:
        dissolved(s, w, a, src, outcome)
        return
    del s["members"][a.pk]
    s["mutes"].pop(a.pk, None)


def nothing(s: State, w: W, a: User, src: str, outcome: Any) -> None:
    pass


OPS = {
    "update": Op(
        rest("patch", "", {"name": "Renamed", "avatar_url": AVATAR}),
        lambda w, a: services.group_update(actor=a, group_id=w.gid, name="Renamed", avatar_url=AVATAR),
        updated,
    ),
    "add": Op(
        rest("post", "/members", lambda w, a: {"user_id": w.candidate.pk}),
        lambda w, a: services.member_add(actor=a, group_id=w.gid, user_id=w.candidate.pk),
        added,
    ),
    "kick": kick_op("target"),
    "kick_admin": kick_op("peer"),
    "kick_owner": kick_op("owner"),
    "set_role": member_update_op("target", 0, "admin"),
    "demote_owner": member_update_op("owner", 0, "member"),
    "own_card": member_update_op("a", 1, "Me"),
    "card": member_update_op("target", 1, "Card"),
    "owner_card": member_update_op("owner", 1, "Boss"),
    "level": member_update_op("target", 2, "7"),
    "mute": ban_op("target", 60),
    "mute_admin": ban_op("peer", 60),
    "mute_owner": ban_op("owner", 60),
    "mute_self": ban_op("a", 60),
    "mute_all": ban_op(None, 60),
    "lift": ban_op("muted", 0),
    "notice": Op(
        rest("post", "/notices", {"content": "Hello"}),
        lambda w, a: services.notice_create(actor=a, group_id=w.gid, content="Hello"),
        noticed,
    ),
    "requests": Op(
        rest("get", "/join-requests"),
        lambda w, a: require_manager(access_group(a, w.gid)[1]),  # what the view checks
        nothing,
    ),
    "approve": decide_op(True),
    "reject": decide_op(False),
    "leave": Op(rest("post", "/leave"), lambda w, a: services.group_leave(actor=a, group_id=w.gid), left),
    "dissolve": Op(None, lambda w, a: services.group_dissolve(actor=a, group_id=w.gid), dissolved),
}
assert set(OPS) == {row[0] for row in _rows}


# --- the matrix ------------------------------------------------------------------------------


def expect_refusal(outcome: str) -> tuple[str, dict]:
    return ("NOT_FOUND", {}) if outcome == 404 else ("PERMISSION_DENIED", {"reason": outcome})


@pytest.mark.parametrize(("operation", "actor", "outcome"), CASES, ids=[f"{o}-{a}" for o, a, _ in CASES])
def test_matrix(world, client_for, operation, actor, outcome):
    op, user = OPS[operation], getattr(world, actor)
    refused = isinstance(outcome, str) or outcome == 404
    before = snapshot(world.gid)
    by_rest = op.rest is not None and not user.is_bot
    if by_rest:
        response = op.rest(client_for(user), world, user)
        if refused:
            code, details = expect_refusal(outcome)
            assert assert_error(response, 403 if details else 404, code)["details"] == details
        else:
            check(response, outcome)
    elif refused:
        with pytest.raises(DomainError) as info:
            op.call(world, user)
        assert (info.value.code, info.value.details) == expect_refusal(outcome)
    else:
        op.call(world, user)
    expected = copy.deepcopy(before)
    if not refused:
        op.effect(expected, world, user, "rest" if by_rest else "system", outcome)
    assert snapshot(world.gid) == expected
