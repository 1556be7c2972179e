"""REST adapter for reports: thin views over reports.services."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import services
from .selectors import report_data
from .serializers import ReportInput, ReportOut, ResolveInput

TAGS = ["reports"]


def _out(report) -> dict:
    return ReportOut(report_data(report)).data


class ReportsView(APIView):
    @extend_schema(responses={200: ReportOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        """Your own reports, newest first, with their status and outcome."""
        return Response([_out(report) for report in services.my_reports(actor=request.user)])

    @extend_schema(request=ReportInput, responses={201: ReportOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Report a message (of a chat you are in), a user or a group you are in."""
        data = validate(ReportInput, request.data)
        report = services.report_create(actor=request.user, **data)
        return Response(_out(report), status=status.HTTP_201_CREATED)


class GroupReportsView(APIView):
    @extend_schema(responses={200: ReportOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, group_id: int) -> Response:
        """Owner and admins: the open reports of the group's messages (who reported is not shown)."""
        reports = services.group_reports(actor=request.user, group_id=group_id)
        return Response([_out(report) for report in reports])


class GroupReportResolveView(APIView):
    @extend_schema(request=ResolveInput, responses={200: ReportOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, group_id: int, report_id: int) -> Response:
        """Owner and admins: recall the message, mute or kick its sender, or dismiss the report."""
        data = validate(ResolveInput, request.data)
        report = services.report_resolve(actor=request.user, group_id=group_id, report_id=report_id, **data)
        return Response(_out(report))
