"""Reporting abuse and acting on a report. A person reports only what they can see; acting goes
through the services that own the step (chats recall, groups mute and kick, accounts
deactivation), so their permission checks, events and audit entries apply, and the report's own
audit entry is written in the same transaction."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import access_user, require_active, require_moderator
from accounts.models import Notification, User
from accounts.services import user_set_active
from chats.access import access_message
from chats.models import Chat
from chats.services import message_delete
from groups.access import access_group, require_manager
from groups.models import Group
from groups.services import MAX_MUTE_SECONDS, group_ban, member_kick
from imsuite import audit
from imsuite.errors import DomainError, ErrorCode, not_found, permission_denied, validation_error
from imsuite.events import publish
from imsuite.ratelimit import rate_limit_named

from .evidence import group_evidence, message_evidence, user_evidence
from .models import Report
from .selectors import open_group_reports, report_summary, reports_of, watcher_ids

MAX_COMMENT = 1000
Outcome = Report.Outcome
# What each kind of report can lead to; mute and kick need the group the message was sent in.
ACTIONS = {
    Report.Kind.MESSAGE: {Outcome.RECALL, Outcome.MUTE, Outcome.KICK, Outcome.DEACTIVATE, Outcome.DISMISS},
    Report.Kind.USER: {Outcome.DEACTIVATE, Outcome.DISMISS},
    Report.Kind.GROUP: {Outcome.DISMISS},
}
IN_GROUP_ONLY = {Outcome.MUTE, Outcome.KICK}


def _target(actor: User, kind: str, target_id: int) -> tuple[Group | None, User | None, dict[str, Any]]:
    """(group, offender, evidence) of what the actor reports, if they can see it: a message of a
    chat they are in, an active user, a group they are in. Anything else is NOT_FOUND."""
    if kind == Report.Kind.MESSAGE:
        message, member = access_message(actor, target_id)
        if member is None:  # a moderator outside the chat acts on it instead of reporting it
            raise not_found("Message")
        if message.is_deleted:
            raise DomainError(ErrorCode.CONFLICT, "This message was deleted.", {"reason": "deleted"})
        if message.sender_id == actor.pk:
            raise permission_denied("self", "You cannot report yourself.")
        in_group = message.chat.type == Chat.Type.GROUP
        group = Group.objects.filter(pk=message.chat_id).first() if in_group else None
        return group, message.sender, message_evidence(message, group)
    if kind == Report.Kind.USER:
        user = access_user(actor, target_id)
        if user.pk == actor.pk:
            raise permission_denied("self", "You cannot report yourself.")
        return None, user, user_evidence(user)
    group, member = access_group(actor, target_id)
    if member is None:
        raise not_found("Group")
    return group, None, group_evidence(group)


def report_create(*, actor: User, kind: str, target_id: int, reason: str, comment: str = "") -> Report:
    """Report a message, a user or a group. Every attempt of a person counts against
    RATE_LIMIT_REPORTS; a second open report of the same thing by the same person is a CONFLICT
    (the first one stands; nothing is merged into it). Bots do not report."""
    require_active(actor)
    if actor.is_bot:
        raise permission_denied("bot", "Bots cannot report; their owner can.")
    rate_limit_named("REPORTS", actor.pk)
    if kind not in Report.Kind.values:
        raise validation_error("kind", "invalid_choice", "kind is message, user or group.")
    if reason not in Report.Reason.values:
        raise validation_error("reason", "invalid_choice", "reason is spam, harassment, illegal or other.")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise validation_error("comment", "too_long", f"A comment is at most {MAX_COMMENT} characters.")
    group, offender, evidence = _target(actor, kind, target_id)
    try:
        with transaction.atomic():
            report = Report.objects.create(
                reporter=actor,
                kind=kind,
                target_id=target_id,
                group=group,
                offender=offender,
                reason=reason,
                comment=comment.strip(),
                evidence=evidence,
            )
            publish("report.created", watcher_ids(report), {"report": report_summary(report)})
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.CONFLICT, "You have already reported this.", {"reason": "already_reported"}
        ) from exc
    return report


def my_reports(*, actor: User) -> list[Report]:
    require_active(actor)
    return list(reports_of(actor))


def group_reports(*, actor: User, group_id: int) -> list[Report]:
    """The open reports of a group's messages: its owner and admins (and site moderators)."""
    group, member = access_group(actor, group_id)
    require_manager(member)
    return list(open_group_reports(group.pk))


def _access_report(actor: User, report_id: int, group_id: int | None) -> Report:
    """Moderators reach every report (group_id None: the admin door); a group's owner and admins
    the message reports of their group, through it."""
    if group_id is None:
        require_moderator(actor)
        rows = Report.objects.all()
    else:
        group, member = access_group(actor, group_id)
        require_manager(member)
        rows = Report.objects.filter(group_id=group.pk, kind=Report.Kind.MESSAGE)
    report = rows.filter(pk=report_id).first()
    if report is None:
        raise not_found("Report")
    return report


def _check_action(report: Report, action: str, duration: int | None) -> None:
    if action not in Outcome.values:
        choices = ", ".join(Outcome.values)
        raise validation_error("action", "invalid_choice", f"action is one of {choices}.")
    if action not in ACTIONS[report.kind] or (action in IN_GROUP_ONLY and report.group_id is None):
        raise validation_error("action", "not_applicable", f"A {report.kind} report cannot lead to {action}.")
    if action == Outcome.MUTE and (
        isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= MAX_MUTE_SECONDS
    ):
        raise validation_error("duration", "range", f"duration is 1 to {MAX_MUTE_SECONDS} seconds.")


def _offender_id(report: Report) -> int:
    if report.offender_id is None:
        raise not_found("User")
    return report.offender_id


def _act(actor: User, report: Report, action: str, duration: int | None) -> None:
    """The step itself, by the service that owns it (its own checks, events and audit entry)."""
    if action == Outcome.RECALL:
        message_delete(actor=actor, message_id=report.target_id)
    elif action == Outcome.MUTE:
        group_ban(actor=actor, group_id=report.group_id, duration=duration, user_id=_offender_id(report))
    elif action == Outcome.KICK:
        member_kick(actor=actor, group_id=report.group_id, user_id=_offender_id(report))
    elif action == Outcome.DEACTIVATE:
        user_set_active(actor=actor, user_id=_offender_id(report), active=False)


def report_resolve(
    *, actor: User, report_id: int, action: str, duration: int | None = None, group_id: int | None = None
) -> Report:
    """Act on a report in one step and close it with who, when and the outcome. Every other open
    report of the same thing closes with it (the step answered them all), and each reporter is
    told: a `report.resolved` event and a system notification."""
    report = _access_report(actor, report_id, group_id)
    _check_action(report, action, duration)
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        if report.status != Report.Status.OPEN:
            raise DomainError(
                ErrorCode.CONFLICT, f"This report was already {report.status}.", {"reason": report.status}
            )
        _act(actor, report, action, duration)
        same = Report.objects.select_for_update().filter(
            kind=report.kind, target_id=report.target_id, status=Report.Status.OPEN
        )
        closing = list(same.order_by("pk"))
        status = Report.Status.DISMISSED if action == Outcome.DISMISS else Report.Status.ACTIONED
        now = timezone.now()
        for closed in closing:
            closed.status, closed.outcome, closed.handled_by, closed.handled_at = status, action, actor, now
            closed.save(update_fields=["status", "outcome", "handled_by", "handled_at"])
            audit.record(actor, "report.resolve", "report", closed.pk, closed.group_id, outcome=action)
            _announce_resolved(closed, actor)
    report.refresh_from_db()
    return report


def _announce_resolved(report: Report, actor: User) -> None:
    """The live event to the watchers (their queues drop the report) and the reporter, who also
    gets a kept system notification; a reporter whose account is gone is told nothing."""
    audience = watcher_ids(report)
    if report.reporter_id is not None:
        dismissed = report.status == Report.Status.DISMISSED
        outcome = "dismissed" if dismissed else f"actioned ({report.outcome})"
        note = Notification.objects.create(
            title="Your report was handled",
            message=f"Your report of a {report.kind} was {outcome}.",
            type=Notification.Level.INFO if dismissed else Notification.Level.SUCCESS,
            sent_by=actor,
        )
        note.recipients.set([report.reporter_id])
        audience.add(report.reporter_id)
    data = {"report": report_summary(report), "reporter_id": report.reporter_id}
    publish("report.resolved", audience, data)
