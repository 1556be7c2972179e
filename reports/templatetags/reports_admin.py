"""The open-report badge of the admin index: moderators see at once how much waits."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

from reports.models import Report
from reports.selectors import open_report_count

register = template.Library()


@register.simple_tag(takes_context=True)
def open_reports_link(context: template.Context) -> str:
    user = context["request"].user
    if not user.has_perm("reports.view_report"):
        return ""
    url = reverse("admin:reports_report_changelist") + f"?status__exact={Report.Status.OPEN}"
    return format_html(
        '<p class="open-reports"><a href="{}" data-testid="open-reports">Reports ({} open)</a></p>',
        url,
        open_report_count(),
    )
