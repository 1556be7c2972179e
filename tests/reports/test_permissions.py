"""The authorization matrix of reports: every operation by every kind of actor, with its exact
answer; a refusal leaves the whole database as it was, a success changes exactly what it should.

People act over REST; a bot has no REST token, so the bot calls the service directly ("ok": a
success without a REST door). The blocked person (heidi, whom the offender blocked) reports like any
member: a block changes what its two people can do to each other privately, not what moderators
hear; the banned person (judy) is an outsider to the group, like the kicked one."""

from types import SimpleNamespace
from typing import Any

import pytest

from chats.models import ChatMember, Message
from groups.models import Mute
from imsuite.errors import DomainError
from imsuite.models import AuditEntry
from reports import services
from reports.models import Report
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db

# A number is the REST status of a success, 401/404 those errors; a word is details.reason of a 403.
MATRIX = """
operation      anonymous stranger member    admin owner moderator bot       kicked inactive offender  blocked   banned
report_message 401       404      201       201   201   404       bot       404    401      self      201       404
report_user    401       201      201       201   201   201       bot       201    401      self      201       201
report_group   401       404      201       201   201   404       bot       404    401      201       201       404
own_reports    401       200      200       200   200   200       ok        200    401      200       200       200
group_reports  401       404      not_admin 200   200   200       not_admin 404    401      not_admin not_admin 404
recall         401       404      not_admin 200   200   200       not_admin 404    401      not_admin not_admin 404
mute           401       404      not_admin 200   200   200       not_admin 404    401      not_admin not_admin 404
kick           401       404      not_admin 200   200   200       not_admin 404    401      not_admin not_admin 404
kick_owner     401       404      not_admin rank  rank  rank      not_admin 404    401      not_admin not_admin 404
dismiss        401       404      not_admin 200   200   200       not_admin 404    401      not_admin not_admin 404
"""  # noqa: E501  (a table reads best on one line a row)
WHO = {
    "stranger": "erin",
    "member": "dave",
    "admin": "carol",
    "owner": "alice",
    "moderator": "moderator",
    "bot": "bot",
    "kicked": "frank",
    "inactive": "ivan",
    "offender": "bob",
    "blocked": "heidi",
    "banned": "judy",
}
_header, *_rows = (line.split() for line in MATRIX.strip().splitlines())
CASES = [(row[0], actor, token) for row in _rows for actor, token in zip(_header[1:], row[1:], strict=True)]


def _report_body(w: SimpleNamespace, op: str) -> dict[str, Any]:
    kind = op.removeprefix("report_")
    target = {"message": w.message.pk, "user": w.bob.pk, "group": w.gid}[kind]
    return {"kind": kind, "target_id": target, "reason": "spam", "comment": "Look at this"}


def _resolve_body(op: str) -> tuple[str, dict[str, Any]]:
    """(which report, the body) of a resolve operation."""
    if op == "kick_owner":
        return "owner_report", {"action": "kick"}
    return "report", {"action": op, **({"duration": 3600} if op == "mute" else {})}


def via_rest(client: Any, w: SimpleNamespace, op: str) -> Any:
    if op.startswith("report_"):
        return client.post("/api/reports", _report_body(w, op), format="json")
    if op == "own_reports":
        return client.get("/api/reports")
    if op == "group_reports":
        return client.get(f"/api/groups/{w.gid}/reports")
    which, body = _resolve_body(op)
    return client.post(f"/api/groups/{w.gid}/reports/{getattr(w, which).pk}/resolve", body, format="json")


def via_service(actor: Any, w: SimpleNamespace, op: str) -> Any:
    if op.startswith("report_"):
        return services.report_create(actor=actor, **_report_body(w, op))
    if op == "own_reports":
        return services.my_reports(actor=actor)
    if op == "group_reports":
        return services.group_reports(actor=actor, group_id=w.gid)
    which, body = _resolve_body(op)
    return services.report_resolve(actor=actor, report_id=getattr(w, which).pk, group_id=w.gid, **body)


def audit_since(last: int) -> list[tuple]:
    rows = AuditEntry.objects.filter(pk__gt=last).order_by("pk")
    return list(rows.values_list("actor_id", "action", "target_type", "target_id", "group_id", "source"))


def reports_state() -> list[tuple]:
    return list(
        Report.objects.order_by("pk").values_list(
            "reporter_id",
            "kind",
            "target_id",
            "group_id",
            "offender_id",
            "status",
            "outcome",
            "handled_by_id",
        )
    )


@pytest.mark.parametrize(("op", "actor_kind", "expected"), CASES)
def test_matrix(world, api, client_for, op: str, actor_kind: str, expected: str) -> None:
    w = world
    actor = getattr(w, WHO[actor_kind]) if actor_kind != "anonymous" else None
    client = client_for(actor) if actor and actor_kind != "bot" else api  # its token is a row: before
    before = whole_database()
    reports_before = reports_state()
    last_audit = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if actor_kind == "bot":
        if expected == "ok":
            assert via_service(actor, w, op) == []
            assert_unchanged(before)
            return
        with pytest.raises(DomainError) as refused:
            via_service(actor, w, op)
        assert (refused.value.code, refused.value.details["reason"]) == ("PERMISSION_DENIED", expected)
        assert_unchanged(before)
        return
    response = via_rest(client, w, op)
    if expected == "401":
        assert_error(response, 401, "AUTHENTICATION_FAILED")
    elif expected == "404":
        assert_error(response, 404, "NOT_FOUND")
    elif not expected.isdigit():
        assert_error(response, 403, "PERMISSION_DENIED", reason=expected)
    if not expected.isdigit() or expected in ("401", "404"):
        assert_unchanged(before)
        return
    body = check(response, int(expected))
    src = "rest"
    if op.startswith("report_"):
        kind = op.removeprefix("report_")
        report = Report.objects.get(pk=body["id"])
        group = w.gid if kind in ("message", "group") else None
        offender = w.bob.pk if kind in ("message", "user") else None
        row = (actor.pk, kind, _report_body(w, op)["target_id"], group, offender, "open", "", None)
        assert reports_state() == [*reports_before, row]
        assert (body["status"], body["comment"], report.comment) == ("open", "Look at this", "Look at this")
        assert audit_since(last_audit) == []
    elif op == "own_reports":
        assert [item["id"] for item in body] == list(
            Report.objects.filter(reporter=actor).order_by("-pk").values_list("pk", flat=True)
        )
        assert_unchanged(before)
    elif op == "group_reports":
        assert [item["id"] for item in body] == [w.owner_report.pk, w.report.pk]
        assert_unchanged(before)
    else:
        outcome = op
        status = "dismissed" if op == "dismiss" else "actioned"
        assert (body["id"], body["status"], body["outcome"]) == (w.report.pk, status, outcome)
        expected_reports = list(reports_before)
        expected_reports[0] = (*reports_before[0][:5], status, outcome, actor.pk)
        assert reports_state() == expected_reports
        step = {
            "recall": [(actor.pk, "message.recall", "message", w.message.pk, w.gid, src)],
            "mute": [(actor.pk, "group.ban", "user", w.bob.pk, w.gid, src)],
            "kick": [(actor.pk, "member.kick", "user", w.bob.pk, w.gid, src)],
            "dismiss": [],
        }[op]
        assert audit_since(last_audit) == [
            *step,
            (actor.pk, "report.resolve", "report", w.report.pk, w.gid, src),
        ]
        message = Message.objects.get(pk=w.message.pk)
        assert (message.deleted_by_id, message.content == "") == (
            (actor.pk, True) if op == "recall" else (None, False)
        )
        muted = Mute.objects.filter(group_id=w.gid, user=w.bob).values_list("operator_id", flat=True)
        assert list(muted) == ([actor.pk] if op == "mute" else [])
        in_group = ChatMember.objects.filter(chat_id=w.gid, user=w.bob).exists()
        assert in_group == (op != "kick")
