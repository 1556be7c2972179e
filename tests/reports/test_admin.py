"""The moderators' queue in Django admin: the open-report badge, the evidence on a report's page,
and each step one click (a POST from the report's page) through the services, audited as the step
and as the report's closing, both from the "admin" door; a refusal shows and changes nothing."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chats.models import ChatMember, Message
from chats.services import message_delete
from groups.models import Mute
from imsuite.models import AuditEntry
from reports.models import Report
from reports.services import report_create
from tests.db_state import assert_unchanged, whole_database

pytestmark = pytest.mark.django_db


def act(staff: Client, report: Report, action: str, **extra: str) -> list[str]:
    url = reverse("admin:reports_report_act", args=[report.pk])
    response = staff.post(url, {"action": action, **extra})
    assert (response.status_code, response["Location"]) == (
        302,
        reverse("admin:reports_report_change", args=[report.pk]),
    )
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_since(last: int) -> list[tuple]:
    rows = AuditEntry.objects.filter(pk__gt=last).order_by("pk")
    return list(rows.values_list("actor_id", "action", "target_type", "target_id", "group_id", "source"))


def last_audit() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def handled(report: Report) -> tuple:
    report.refresh_from_db()
    return report.status, report.outcome, report.handled_by_id


def test_index_badge_counts_open_reports(world: SimpleNamespace, staff: Client) -> None:
    page = staff.get(reverse("admin:index")).content.decode()
    link = reverse("admin:reports_report_changelist") + "?status__exact=open"
    assert f'<a href="{link}" data-testid="open-reports">Reports (2 open)</a>' in page


def test_report_page_shows_the_evidence_after_the_recall(world: SimpleNamespace, staff: Client) -> None:
    w = world
    message_delete(actor=w.bob, message_id=w.message.pk)
    page = staff.get(reverse("admin:reports_report_change", args=[w.report.pk])).content.decode()
    assert "<tr><th>content</th><td>Buy cheap watches at spam.example</td></tr>" in page
    assert "<tr><th>sender_username</th><td>bob</td></tr>" in page
    for action in ("recall", "mute", "kick", "deactivate", "dismiss"):
        assert f'name="action" value="{action}"' in page
    assert 'name="duration"' in page


@pytest.mark.parametrize(
    ("action", "extra", "step"),
    [
        ("recall", {}, ("message.recall", "message")),
        ("mute", {"duration": "600"}, ("group.ban", "user")),
        ("kick", {}, ("member.kick", "user")),
        ("deactivate", {}, ("user.deactivate", "user")),
        ("dismiss", {}, None),
    ],
)
def test_one_click_actions(world: SimpleNamespace, staff: Client, action: str, extra: dict, step) -> None:
    w = world
    mod = w.moderator.pk
    last = last_audit()
    start = timezone.now()
    assert act(staff, w.report, action, **extra) == [f"Report {w.report.pk}: {_label(action)} done."]
    status = "dismissed" if action == "dismiss" else "actioned"
    assert handled(w.report) == (status, action, mod)
    target = {"message": w.message.pk, "user": w.bob.pk}
    group = None if action == "deactivate" else w.gid
    steps = [(mod, step[0], step[1], target[step[1]], group, "admin")] if step else []
    assert audit_since(last) == [*steps, (mod, "report.resolve", "report", w.report.pk, w.gid, "admin")]
    assert (Message.objects.get(pk=w.message.pk).deleted_by_id == mod) == (action == "recall")
    mute = Mute.objects.filter(group_id=w.gid, user=w.bob).first()
    if action == "mute":
        assert start + timedelta(seconds=600) <= mute.until <= timezone.now() + timedelta(seconds=600)
    else:
        assert mute is None
    assert ChatMember.objects.filter(chat_id=w.gid, user=w.bob).exists() == (action != "kick")
    assert User.objects.get(pk=w.bob.pk).is_active == (action != "deactivate")
    page = staff.get(reverse("admin:reports_report_change", args=[w.report.pk])).content.decode()
    assert "Handled." in page and 'name="action"' not in page


def _label(action: str) -> str:
    from reports.admin import ACTION_LABELS

    return ACTION_LABELS[action]


def test_a_refused_click_changes_nothing(world: SimpleNamespace, staff: Client) -> None:
    """Nobody kicks a group's owner, not even a moderator (groups.services.member_kick)."""
    w = world
    staff.get(reverse("admin:index"))  # the session row exists before the snapshot
    before = whole_database()
    said = act(staff, w.owner_report, "kick")
    assert said == [
        f"Report {w.owner_report.pk}: The owner cannot be kicked; dissolve the group instead."
        " (PERMISSION_DENIED)"
    ]
    assert_unchanged(before)


def test_queue_filters_and_bulk_dismiss(world: SimpleNamespace, staff: Client, make_user) -> None:
    w = world
    of_user = report_create(actor=w.dave, kind="user", target_id=w.bob.pk, reason="spam")
    changelist = reverse("admin:reports_report_changelist")

    def listed(query: str) -> list[int]:
        return sorted(r.pk for r in staff.get(f"{changelist}?{query}").context["cl"].result_list)

    assert listed("kind__exact=user") == [of_user.pk]
    assert listed(f"group={w.gid}") == [w.report.pk, w.owner_report.pk]
    last = last_audit()
    response = staff.post(changelist, {"action": "dismiss", "_selected_action": [w.report.pk, of_user.pk]})
    assert response.status_code == 302
    assert [handled(r) for r in (w.report, of_user, w.owner_report)] == [
        ("dismissed", "dismiss", w.moderator.pk),
        ("dismissed", "dismiss", w.moderator.pk),
        ("open", "", None),
    ]
    assert listed("status__exact=open") == [w.owner_report.pk]
    assert listed("status__exact=dismissed") == [w.report.pk, of_user.pk]
    page = staff.get(f"{changelist}?status__exact=dismissed").content.decode()
    assert page.count('<td class="field-handled_by nowrap">mod</td>') == 2
    assert sorted(audit_since(last), key=lambda entry: entry[3]) == [
        (w.moderator.pk, "report.resolve", "report", w.report.pk, w.gid, "admin"),
        (w.moderator.pk, "report.resolve", "report", of_user.pk, None, "admin"),
    ]
