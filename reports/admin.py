"""The moderators' report queue: read the evidence, then act from the report in one click; the
action goes through reports.services.report_resolve (and from there through the service that owns
the step), so the audit log holds both the step and the report's closing."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from groups.models import Group
from groups.services import MAX_MUTE_SECONDS
from imsuite.admin_services import ViewOnlyAdminMixin, run_for_each
from imsuite.errors import DomainError

from . import services
from .models import Report

ACTION_LABELS = {
    Report.Outcome.RECALL: "Recall the message",
    Report.Outcome.MUTE: "Mute the sender in the group",
    Report.Outcome.KICK: "Kick the sender from the group",
    Report.Outcome.DEACTIVATE: "Deactivate the account",
    Report.Outcome.DISMISS: "Dismiss",
}


class GroupFilter(admin.SimpleListFilter):
    """By the group it happened in, among the groups that have reports (`?group=<id>`). Django's
    related-field filter would offer `group__chat__exact`, which admin then refuses: a group's
    primary key is its chat."""

    title = parameter_name = "group"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[int, str]]:
        reported = Report.objects.filter(group__isnull=False).values("group_id")
        return [(group.pk, str(group)) for group in Group.objects.filter(pk__in=reported).order_by("name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Report]) -> QuerySet[Report]:
        value = self.value()
        return queryset.filter(group_id=int(value)) if value and value.isdigit() else queryset


@admin.register(Report)
class ReportAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    actions = ["dismiss"]
    list_display = [
        "id",
        "kind",
        "reason",
        "status",
        "outcome",
        "group",
        "reporter",
        "offender",
        "created_at",
        "handled_by",
        "handled_at",
    ]
    list_filter = ["status", "kind", "reason", GroupFilter]
    list_select_related = ["group", "reporter", "offender", "handled_by"]
    search_fields = ["=id", "=target_id", "reporter__username", "offender__username", "comment"]
    readonly_fields = [
        "kind",
        "target_id",
        "group",
        "reporter",
        "offender",
        "reason",
        "comment",
        "evidence_table",
        "status",
        "outcome",
        "handled_by",
        "handled_at",
        "created_at",
        "act",
    ]
    fields = readonly_fields

    def get_urls(self) -> list:
        act = self.admin_site.admin_view(self.act_view)
        return [path("<int:report_id>/act/", act, name="reports_report_act"), *super().get_urls()]

    @admin.display(description="evidence")
    def evidence_table(self, report: Report) -> str:
        """The copy taken when it was reported, field by field (attachments by id, name and type)."""
        evidence = dict(report.evidence)
        files = evidence.pop("attachments", None) or []
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", evidence.items())
        names = ((f["id"], f["name"], f["mime"]) for f in files)
        listed = format_html_join("", "<li>#{} {} ({})</li>", names)
        return format_html("<table>{}</table>{}", rows, format_html("<ul>{}</ul>", listed) if files else "")

    @admin.display(description="act on it")
    def act(self, report: Report) -> str:
        """One button per step this report can lead to, each posting to the act view."""
        if report.status != Report.Status.OPEN:
            return "Handled."
        url = reverse("admin:reports_report_act", args=[report.pk])
        allowed = [
            action
            for action in ACTION_LABELS
            if action in services.ACTIONS[report.kind]
            and not (action in services.IN_GROUP_ONLY and report.group_id is None)
        ]
        buttons = format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" name="action" value="{}">{}</button>',
            ((url, action, ACTION_LABELS[action]) for action in allowed),
        )
        duration = (
            format_html(
                "<p><label>Mute for (seconds) "
                '<input type="number" name="duration" value="86400" min="1" max="{}"></label></p>',
                MAX_MUTE_SECONDS,
            )
            if Report.Outcome.MUTE in allowed
            else ""
        )
        return format_html("{}<p>{}</p>", duration, buttons)

    def act_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        action = request.POST.get("action", "")
        raw = request.POST.get("duration", "")
        duration = int(raw) if raw.isdigit() and action == Report.Outcome.MUTE else None
        try:
            services.report_resolve(actor=request.user, report_id=report_id, action=action, duration=duration)
            messages.success(request, f"Report {report_id}: {ACTION_LABELS.get(action, action)} done.")
        except DomainError as exc:
            messages.error(request, f"Report {report_id}: {exc.message} ({exc.code})")
        return HttpResponseRedirect(reverse("admin:reports_report_change", args=[report_id]))

    @admin.action(description="Dismiss selected reports")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        run_for_each(
            request,
            queryset,
            lambda r: services.report_resolve(actor=request.user, report_id=r.pk, action="dismiss"),
            "Dismissed",
        )
