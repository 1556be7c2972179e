"""The authorization matrix of bans, ownership transfer, invite links and asking to join: every
operation by every kind of actor, the answer it gets, exactly which rows change on success, and
the whole database unchanged on every refusal.

People act over REST (anonymous: no token); bots have no REST token, so a bot calls the service.
`banned` was banned by the owner (not a member); `moderator` is site staff, not in the group;
`blocked` is an outsider whom the owner and an admin blocked: a block keeps two people apart in
private, never out of a group, so they are answered as any outsider."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.blocking import block_create
from accounts.models import User
from groups import invites, services
from groups.access import access_group, require_manager
from groups.models import GroupBan, InviteLink
from imsuite.errors import DomainError
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database
from tests.groups.test_services import build_world, snapshot

pytestmark = pytest.mark.django_db

# A number is the success status over REST; 401 no token; 404 NOT_FOUND; 409 a CONFLICT (reason
# already_member); a word is the details.reason of a 403 PERMISSION_DENIED.
MATRIX = """
operation     anonymous outsider member    admin     owner moderator bot_member banned blocked
ban           401       404      not_admin 201       201   201       not_admin  404    404
ban_admin     401       404      not_admin rank      201   201       not_admin  404    404
ban_owner     401       404      not_admin rank      self  rank      not_admin  404    404
ban_outsider  401       404      not_admin 201       201   201       not_admin  404    404
banned_list   401       404      not_admin 200       200   200       not_admin  404    404
lift          401       404      not_admin 204       204   204       not_admin  404    404
transfer      401       404      not_owner not_owner 200   not_owner not_owner  404    404
transfer_bot  401       404      not_owner not_owner bot   not_owner not_owner  404    404
invite_create 401       404      not_admin 201       201   201       not_admin  404    404
invite_list   401       404      not_admin 200       200   200       not_admin  404    404
invite_revoke 401       404      not_admin 204       204   204       not_admin  404    404
preview       401       200      200       200       200   200       bot        banned 200
join          401       201      409       409       409   201       bot        banned 201
join_approval 401       202      409       409       409   202       bot        banned 202
ask           401       201      409       409       409   201       409        banned 201
"""
ACTORS = ("anonymous", "outsider", "member", "admin", "owner", "moderator", "bot_member", "banned", "blocked")


def _outcome(token: str) -> int | str:
    return int(token) if token.isdigit() else token


_header, *_rows = (line.split() for line in MATRIX.strip().splitlines())
assert tuple(_header[1:]) == ACTORS
CASES = [(row[0], actor, _outcome(t)) for row in _rows for actor, t in zip(ACTORS, row[1:], strict=True)]


@pytest.fixture
def world(make_user, moderator) -> SimpleNamespace:
    w = build_world(make_user)
    w.moderator, w.banned, w.anonymous = moderator, make_user("banned", nickname="Banned"), None
    services.member_ban(actor=w.owner, group_id=w.gid, user_id=w.banned.pk)
    w.blocked = make_user("blocked", nickname="Blocked")  # an outsider whom the owner and an admin blocked
    for blocker in (w.owner, w.admin):
        block_create(actor=blocker, user_id=w.blocked.pk)
    w.link = invites.invite_create(actor=w.owner, group_id=w.gid, max_uses=5)
    w.approval = invites.invite_create(actor=w.owner, group_id=w.gid, needs_approval=True)
    return w


def full_snapshot(w: SimpleNamespace) -> dict[str, Any]:
    """snapshot() of the group's rows, with its bans and invite links."""
    return {
        **snapshot(w.gid),
        "bans": {
            user_id: (operator_id, until is None, reason)
            for user_id, operator_id, until, reason in GroupBan.objects.filter(group_id=w.gid).values_list(
                "user_id", "operator_id", "until", "reason"
            )
        },
        "invites": [
            (creator_id, approval, max_uses, uses, revoked is not None)
            for creator_id, approval, max_uses, uses, revoked in InviteLink.objects.filter(group_id=w.gid)
            .order_by("pk")
            .values_list("creator_id", "needs_approval", "max_uses", "uses", "revoked_at")
        ],
    }


W = SimpleNamespace
State = dict[str, Any]


def audited(s: State, w: W, a: User, src: str, action: str, target_type: str, target_id: Any) -> None:
    s["audit"].append((a.pk, action, target_type, target_id, w.gid, src))


@dataclass
class Op:
    method: str
    url: Callable[[W, User], str]
    body: Callable[[W, User], dict] | None
    call: Callable[[W, User], Any]  # the service (bots), or what the view checks
    effect: Callable[[State, W, User, str], None]


def group_url(suffix: str) -> Callable[[W, User], str]:
    return lambda w, a: f"/api/groups/{w.gid}{suffix}"


def ban_op(name: str, duration: int | None = None) -> Op:
    def effect(s: State, w: W, a: User, src: str) -> None:
        target = getattr(w, name)
        s["members"].pop(target.pk, None)
        s["mutes"].pop(target.pk, None)
        if target.pk in s["requests"]:
            s["requests"][target.pk] = (target.pk, "rejected", a.pk)
        s["bans"][target.pk] = (a.pk, duration is None, "spam")
        audited(s, w, a, src, "member.ban", "user", target.pk)

    return Op(
        "post",
        group_url("/banned"),
        lambda w, a: {"user_id": getattr(w, name).pk, "duration": duration, "reason": "spam"},
        lambda w, a: services.member_ban(
            actor=a, group_id=w.gid, user_id=getattr(w, name).pk, duration=duration, reason="spam"
        ),
        effect,
    )


def lifted(s: State, w: W, a: User, src: str) -> None:
    del s["bans"][w.banned.pk]
    audited(s, w, a, src, "member.unban", "user", w.banned.pk)


def transfer_op(name: str) -> Op:
    def effect(s: State, w: W, a: User, src: str) -> None:
        s["group"]["owner_id"] = w.target.pk
        s["members"][w.target.pk] = ("owner", "", "0")
        s["members"][a.pk] = ("admin", "", "0")
        audited(s, w, a, src, "group.transfer", "user", w.target.pk)

    return Op(
        "post",
        group_url("/transfer"),
        lambda w, a: {"user_id": getattr(w, name).pk},
        lambda w, a: services.group_transfer(actor=a, group_id=w.gid, user_id=getattr(w, name).pk),
        effect,
    )


def invite_created(s: State, w: W, a: User, src: str) -> None:
    s["invites"].append((a.pk, True, 3, 0, False))
    audited(s, w, a, src, "invite.create", "invite", ANY)


def invite_revoked(s: State, w: W, a: User, src: str) -> None:
    s["invites"][0] = (*s["invites"][0][:4], True)
    audited(s, w, a, src, "invite.revoke", "invite", w.link.pk)


def joined(s: State, w: W, a: User, src: str) -> None:
    s["members"][a.pk] = ("member", "", "0")
    s["invites"][0] = (w.owner.pk, False, 5, 1, False)


def asked_by_link(s: State, w: W, a: User, src: str) -> None:
    s["requests"][a.pk] = (a.pk, "pending", None)
    s["invites"][1] = (w.owner.pk, True, None, 1, False)


def asked(s: State, w: W, a: User, src: str) -> None:
    s["requests"][a.pk] = (a.pk, "pending", None)


def join_op(link: str, effect: Callable[[State, W, User, str], None]) -> Op:
    """Join through the world's link (or approval link) by its token."""
    return Op(
        "post",
        lambda w, a: f"/api/invites/{getattr(w, link).token}/join",
        lambda w, a: {},
        lambda w, a: invites.invite_join(actor=a, token=getattr(w, link).token),
        effect,
    )


def nothing(s: State, w: W, a: User, src: str) -> None:
    pass


def managed(w: W, a: User) -> None:
    require_manager(access_group(a, w.gid)[1])


OPS = {
    "ban": ban_op("target"),
    "ban_admin": ban_op("peer"),
    "ban_owner": ban_op("owner"),
    "ban_outsider": ban_op("requester", 3600),
    "banned_list": Op("get", group_url("/banned"), None, managed, nothing),
    "lift": Op(
        "delete",
        lambda w, a: f"/api/groups/{w.gid}/banned/{w.banned.pk}",
        None,
        lambda w, a: services.ban_lift(actor=a, group_id=w.gid, user_id=w.banned.pk),
        lifted,
    ),
    "transfer": transfer_op("target"),
    "transfer_bot": transfer_op("bot_member"),
    "invite_create": Op(
        "post",
        group_url("/invites"),
        lambda w, a: {"needs_approval": True, "max_uses": 3},
        lambda w, a: invites.invite_create(actor=a, group_id=w.gid, needs_approval=True, max_uses=3),
        invite_created,
    ),
    "invite_list": Op("get", group_url("/invites"), None, managed, nothing),
    "invite_revoke": Op(
        "delete",
        lambda w, a: f"/api/groups/{w.gid}/invites/{w.link.pk}",
        None,
        lambda w, a: invites.invite_revoke(actor=a, group_id=w.gid, invite_id=w.link.pk),
        invite_revoked,
    ),
    "preview": Op(
        "get",
        lambda w, a: f"/api/invites/{w.link.token}",
        None,
        lambda w, a: invites.invite_preview(actor=a, token=w.link.token),
        nothing,
    ),
    "join": join_op("link", joined),
    "join_approval": join_op("approval", asked_by_link),
    "ask": Op(
        "post",
        group_url("/join-requests"),
        lambda w, a: {},
        lambda w, a: services.join_request_create(actor=a, group_id=w.gid),
        asked,
    ),
}
assert set(OPS) == {row[0] for row in _rows}


def expected_error(outcome: int | str) -> tuple[int, str, dict]:
    if outcome == 401:
        return 401, "AUTHENTICATION_FAILED", {"reason": "not_authenticated"}
    if outcome == 404:
        return 404, "NOT_FOUND", {}
    if outcome == 409:
        return 409, "CONFLICT", {"reason": "already_member"}
    return 403, "PERMISSION_DENIED", {"reason": outcome}


def client_of(user: User | None) -> APIClient:
    """A REST client for the actor (signing in writes a token row, so it is made before any snapshot)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.mark.parametrize(("operation", "actor", "outcome"), CASES, ids=[f"{o}-{a}" for o, a, _ in CASES])
def test_matrix(world, operation, actor, outcome):
    op, user = OPS[operation], getattr(world, actor)
    refused = isinstance(outcome, str) or outcome >= 400
    by_rest = user is None or not user.is_bot
    client = client_of(user) if by_rest else None
    before, everything = full_snapshot(world), whole_database()
    if by_rest:
        body = op.body(world, user) if op.body else None
        response = getattr(client, op.method)(op.url(world, user), body, format="json")
        if refused:
            status, code, details = expected_error(outcome)
            assert assert_error(response, status, code)["details"] == details
        else:
            check(response, outcome)
    elif refused:
        with pytest.raises(DomainError) as info:
            op.call(world, user)
        _status, code, details = expected_error(outcome)
        assert (info.value.code, info.value.details) == (code, details)
    else:
        op.call(world, user)
    if refused:
        assert_unchanged(everything)
        return
    expected = copy.deepcopy(before)
    op.effect(expected, world, user, "rest" if by_rest else "system")
    assert full_snapshot(world) == expected
