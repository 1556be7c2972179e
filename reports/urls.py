"""The reports' REST routes, taken into /api/ by imsuite.urls."""

from django.urls import path

from . import api as reports_api

api = [
    path("reports", reports_api.ReportsView.as_view(), name="reports"),
    path("groups/<int:group_id>/reports", reports_api.GroupReportsView.as_view(), name="group-reports"),
    path(
        "groups/<int:group_id>/reports/<int:report_id>/resolve",
        reports_api.GroupReportResolveView.as_view(),
        name="group-report-resolve",
    ),
]
