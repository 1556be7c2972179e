"""Reports as the services make them: evidence copied at creation and kept, one open report per
reporter and target, the rate limit, what each kind of report can lead to, closing every open
report of the same thing at once, and the events and notifications (as the client frames them)."""

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from accounts.models import Notification, User
from accounts.services import user_update
from chats.models import Message
from chats.services import message_delete
from groups.services import group_update
from imsuite.errors import DomainError
from reports.models import Report
from reports.services import report_create, report_resolve
from tests.accounts.test_api import assert_error, check
from tests.db_state import assert_unchanged, whole_database
from tests.groups.test_services import frames

pytestmark = pytest.mark.django_db


def iso(value: datetime | None) -> str | None:
    return value and value.isoformat().replace("+00:00", "Z")


def summary(report: Report) -> dict[str, Any]:
    report.refresh_from_db()
    return {
        "id": report.pk,
        "kind": report.kind,
        "target_id": report.target_id,
        "group_id": report.group_id,
        "reason": report.reason,
        "status": report.status,
        "outcome": report.outcome or None,
        "created_at": iso(report.created_at),
        "handled_at": iso(report.handled_at),
    }


def refused(code: str, why: str | None, call: Any, /, **kwargs: Any) -> None:
    before = whole_database()
    with pytest.raises(DomainError) as info:
        call(**kwargs)
    assert (info.value.code, info.value.details.get("reason")) == (code, why)
    assert_unchanged(before)


def test_message_evidence_is_kept_after_the_recall(world: SimpleNamespace, client_for) -> None:
    w = world
    files = [{"id": 7, "kind": "image", "name": "watch.png", "size": 10, "mime": "image/png", "width": 1}]
    Message.objects.filter(pk=w.message.pk).update(attachments=files)
    report = report_create(
        actor=w.dave, kind="message", target_id=w.message.pk, reason="spam", comment="  ads "
    )
    message_delete(actor=w.bob, message_id=w.message.pk)
    evidence = {
        "message_id": w.message.pk,
        "chat_id": w.gid,
        "chat_type": "group",
        "group_name": "Team",
        "sender_id": w.bob.pk,
        "sender_username": "bob",
        "sender_nickname": "Bob",
        "message_type": "text",
        "content": "Buy cheap watches at spam.example",
        "attachments": [{"id": 7, "name": "watch.png", "mime": "image/png"}],
        "created_at": iso(w.message.created_at),
    }
    report.refresh_from_db()
    assert (report.comment, report.evidence) == ("ads", evidence)
    assert Message.objects.get(pk=w.message.pk).content == ""
    listed = check(client_for(w.alice).get(f"/api/groups/{w.gid}/reports"), 200)
    assert [item["id"] for item in listed] == [report.pk, w.owner_report.pk, w.report.pk]
    assert listed[0] == {**summary(report), "comment": "ads", "evidence": evidence}
    assert "reporter" not in str(listed)  # the group's managers are not told who reported


def test_user_and_group_evidence_stay_as_they_were(world: SimpleNamespace) -> None:
    w = world
    of_user = report_create(actor=w.dave, kind="user", target_id=w.bob.pk, reason="harassment")
    of_group = report_create(actor=w.dave, kind="group", target_id=w.gid, reason="illegal", comment="")
    user_update(actor=w.bob, user_id=w.bob.pk, nickname="Innocent", bio="nothing to see")
    group_update(actor=w.alice, group_id=w.gid, name="Renamed")
    of_user.refresh_from_db()
    of_group.refresh_from_db()
    assert of_user.evidence == {
        "user_id": w.bob.pk,
        "username": "bob",
        "nickname": "Bob",
        "avatar_url": "",
        "bio": "",
        "sex": "unknown",
        "age": None,
        "is_bot": False,
    }
    assert (of_user.group_id, of_user.offender_id) == (None, w.bob.pk)
    assert of_group.evidence == {"group_id": w.gid, "name": "Team", "avatar_url": "", "owner_id": w.alice.pk}
    assert (of_group.group_id, of_group.offender_id) == (w.gid, None)


def test_one_open_report_per_reporter_and_target(world: SimpleNamespace) -> None:
    w = world
    refused(
        "CONFLICT",
        "already_reported",
        report_create,
        actor=w.grace,
        kind="message",
        target_id=w.message.pk,
        reason="other",
    )
    report_resolve(actor=w.moderator, report_id=w.report.pk, action="dismiss")
    again = report_create(actor=w.grace, kind="message", target_id=w.message.pk, reason="other")
    assert (again.status, again.reason) == ("open", "other")


def test_refusals_of_bad_input_and_of_what_cannot_be_reported(world: SimpleNamespace) -> None:
    w = world
    base = {"actor": w.dave, "kind": "message", "target_id": w.message.pk, "reason": "spam"}
    refused("VALIDATION_ERROR", "invalid_choice", report_create, **{**base, "reason": "boring"})
    refused("VALIDATION_ERROR", "invalid_choice", report_create, **{**base, "kind": "call"})
    refused("VALIDATION_ERROR", "too_long", report_create, **base, comment="x" * 1001)
    message_delete(actor=w.bob, message_id=w.message.pk)
    refused("CONFLICT", "deleted", report_create, **base)
    refused("PERMISSION_DENIED", "self", report_create, **{**base, "kind": "user", "target_id": w.dave.pk})


def test_actions_that_do_not_fit_the_report(world: SimpleNamespace) -> None:
    w = world
    of_user = report_create(actor=w.dave, kind="user", target_id=w.bob.pk, reason="spam")
    of_group = report_create(actor=w.dave, kind="group", target_id=w.gid, reason="spam")
    mod = w.moderator
    for report, action in [
        (of_user, "recall"),
        (of_user, "kick"),
        (of_group, "deactivate"),
        (of_group, "mute"),
    ]:
        refused(
            "VALIDATION_ERROR",
            "not_applicable",
            report_resolve,
            actor=mod,
            report_id=report.pk,
            action=action,
        )
    refused(
        "VALIDATION_ERROR", "invalid_choice", report_resolve, actor=mod, report_id=w.report.pk, action="ban"
    )
    refused("VALIDATION_ERROR", "range", report_resolve, actor=mod, report_id=w.report.pk, action="mute")
    # A group's managers reach only the message reports of their group, and never deactivate.
    refused(
        "NOT_FOUND",
        None,
        report_resolve,
        actor=w.alice,
        group_id=w.gid,
        report_id=of_group.pk,
        action="dismiss",
    )
    refused(
        "PERMISSION_DENIED",
        "not_moderator",
        report_resolve,
        actor=w.alice,
        group_id=w.gid,
        report_id=w.report.pk,
        action="deactivate",
    )
    refused(
        "PERMISSION_DENIED",
        "not_moderator",
        report_resolve,
        actor=w.alice,
        report_id=w.report.pk,
        action="dismiss",
    )


def test_a_moderator_deactivates_a_reported_user(world: SimpleNamespace) -> None:
    w = world
    report = report_create(actor=w.dave, kind="user", target_id=w.bob.pk, reason="harassment")
    report_resolve(actor=w.moderator, report_id=report.pk, action="deactivate")
    w.bob.refresh_from_db()
    report.refresh_from_db()
    assert (w.bob.is_active, report.status, report.outcome, report.handled_by_id) == (
        False,
        "actioned",
        "deactivate",
        w.moderator.pk,
    )
    refused("CONFLICT", "actioned", report_resolve, actor=w.moderator, report_id=report.pk, action="dismiss")


def test_rate_limited(world: SimpleNamespace, settings, client_for) -> None:
    w = world
    settings.IMSUITE = {
        **settings.IMSUITE,
        "RATE_LIMIT_REPORTS": 2,
        "RATE_LIMIT_REPORTS_WINDOW_SECONDS": 3600,
    }
    client = client_for(w.dave)
    for kind, target in [("user", w.bob.pk), ("group", w.gid)]:
        check(
            client.post("/api/reports", {"kind": kind, "target_id": target, "reason": "spam"}, format="json"),
            201,
        )
    before = whole_database()
    body = {"kind": "message", "target_id": w.message.pk, "reason": "spam"}
    response = client.post("/api/reports", body, format="json")
    assert_error(response, 429, "RATE_LIMITED", limit=2, window_seconds=3600)
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert_unchanged(before)


def test_events_notifications_and_closing_every_open_report(
    world: SimpleNamespace, inbox, django_capture_on_commit_callbacks
) -> None:
    """dave reports bob's message (grace already did): the moderator and the group's owner and admin
    hear of it, nobody else. carol recalls it: both reports close, both reporters are told (a kept
    notification and the live event, `mine` for them only), the watchers' queues hear it too."""
    w = world
    people = [w.alice, w.bob, w.carol, w.dave, w.erin, w.grace, w.moderator]
    inbox.listen(*people)
    with django_capture_on_commit_callbacks(execute=True):
        report = report_create(actor=w.dave, kind="message", target_id=w.message.pk, reason="harassment")
    created = ("report.created", {"report": summary(report)})
    watchers = {w.alice.pk, w.carol.pk, w.moderator.pk}
    assert {p.username: frames(inbox, p) for p in people} == {
        p.username: [created] if p.pk in watchers else [] for p in people
    }
    with django_capture_on_commit_callbacks(execute=True):
        report_resolve(actor=w.carol, group_id=w.gid, report_id=report.pk, action="recall")
    for closed in (w.report, report):
        closed.refresh_from_db()
        assert (closed.status, closed.outcome, closed.handled_by_id) == ("actioned", "recall", w.carol.pk)
        assert closed.handled_at is not None
    got = {p.username: frames(inbox, p) for p in people}
    deleted = [frame for frame in got["carol"] if frame[0] == "message.delete"]
    assert len(deleted) == 1

    def resolved(closed: Report, mine: bool) -> tuple[str, dict[str, Any]]:
        return ("report.resolved", {"report": summary(closed), "mine": mine})

    def told(user: Any) -> list:
        in_group = user.pk != w.erin.pk and user.pk != w.moderator.pk
        return [
            *(deleted if in_group else []),
            *(
                resolved(closed, closed.reporter_id == user.pk)
                for closed in (w.report, report)
                if user.pk in watchers or closed.reporter_id == user.pk
            ),
        ]

    assert got == {p.username: told(p) for p in people}
    notes = Notification.objects.order_by("pk")
    assert [
        (n.title, n.message, n.type, n.sent_by_id, list(n.recipients.values_list("pk", flat=True)))
        for n in notes
    ] == [
        (
            "Your report was handled",
            "Your report of a message was actioned (recall).",
            "success",
            w.carol.pk,
            [reporter],
        )
        for reporter in (w.grace.pk, w.dave.pk)
    ]


def test_a_user_report_is_heard_by_moderators_only(
    world: SimpleNamespace, inbox, django_capture_on_commit_callbacks
) -> None:
    w = world
    inbox.listen(w.alice, w.carol, w.bob, w.moderator)
    with django_capture_on_commit_callbacks(execute=True):
        report = report_create(actor=w.dave, kind="user", target_id=w.bob.pk, reason="spam")
    assert [frames(inbox, p) for p in (w.alice, w.carol, w.bob)] == [[], [], []]
    assert frames(inbox, w.moderator) == [("report.created", {"report": summary(report)})]


def test_a_report_outlives_its_reporter(
    world: SimpleNamespace, inbox, django_capture_on_commit_callbacks
) -> None:
    """The reporter's row gone (not something the app does today, deactivating keeps it): the report
    stays in the queue and is handled like any other; only the watchers hear of it."""
    w = world
    inbox.listen(w.moderator)
    User.objects.filter(pk=w.grace.pk).delete()
    w.report.refresh_from_db()
    assert (w.report.reporter_id, w.report.status) == (None, "open")
    with django_capture_on_commit_callbacks(execute=True):
        report_resolve(actor=w.moderator, report_id=w.report.pk, action="recall")
    w.report.refresh_from_db()
    assert (w.report.status, w.report.outcome) == ("actioned", "recall")
    assert not Notification.objects.exists()
    assert frames(inbox, w.moderator) == [("report.resolved", {"report": summary(w.report), "mine": False})]
