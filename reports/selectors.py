"""Reads of reports shared by the services, REST and admin."""

from typing import Any

from django.db.models import QuerySet

from accounts.access import is_moderator
from accounts.models import User
from chats.models import ChatMember, Role

from .models import Report

LIST_LIMIT = 200  # the newest this many; a queue longer than that is worked in admin


def report_summary(report: Report) -> dict[str, Any]:
    """What events carry: enough to show and count a report, never who made it."""
    return {
        "id": report.pk,
        "kind": report.kind,
        "target_id": report.target_id,
        "group_id": report.group_id,
        "reason": report.reason,
        "status": report.status,
        "outcome": report.outcome or None,
        "created_at": report.created_at,
        "handled_at": report.handled_at,
    }


def report_data(report: Report) -> dict[str, Any]:
    """What REST shows the reporter and the group's managers: the summary, the comment and the evidence."""
    return {**report_summary(report), "comment": report.comment, "evidence": report.evidence}


def reports_of(user: User) -> QuerySet[Report]:
    return Report.objects.filter(reporter=user).order_by("-pk")[:LIST_LIMIT]


def open_group_reports(group_id: int) -> QuerySet[Report]:
    """The open reports of messages in a group, newest first: what its owner and admins work on."""
    rows = Report.objects.filter(group_id=group_id, kind=Report.Kind.MESSAGE, status=Report.Status.OPEN)
    return rows.order_by("-pk")[:LIST_LIMIT]


def open_report_count() -> int:
    return Report.objects.filter(status=Report.Status.OPEN).count()


def moderator_ids() -> set[int]:
    """Site moderators (accounts.access.is_moderator): few, so the permission is asked of each."""
    return {user.pk for user in User.objects.filter(is_active=True, is_staff=True) if is_moderator(user)}


def watcher_ids(report: Report) -> set[int]:
    """Who hears of a report: moderators, and for a message of a group its owner and admins."""
    watchers = moderator_ids()
    if report.kind == Report.Kind.MESSAGE and report.group_id:
        managers = ChatMember.objects.filter(chat_id=report.group_id, role__in=[Role.OWNER, Role.ADMIN])
        watchers |= set(managers.values_list("user_id", flat=True))
    return watchers
