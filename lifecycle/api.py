"""REST adapter for leaving: deleting one's account and exporting one's data (docs/protocol.md,
"Account deletion and data export")."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import deletion, export
from .serializers import DeletionInput, DeletionOut, ExportOut

TAGS = ["account"]


class DeletionView(APIView):
    @extend_schema(request=DeletionInput, responses={202: DeletionOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Delete your account after ACCOUNT_DELETION_GRACE_DAYS: every session is signed out now;
        signing in again before due_at cancels it."""
        asked = deletion.deletion_request(actor=request.user, **validate(DeletionInput, request.data))
        return Response(DeletionOut(asked).data, status=202)


class ExportsView(APIView):
    @extend_schema(responses={200: ExportOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        """Your exports, newest first."""
        return Response(ExportOut(export.exports_of(actor=request.user), many=True).data)

    @extend_schema(request=None, responses={202: ExportOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Ask for an archive of your data; it is built in the background (status pending, then ready)."""
        return Response(ExportOut(export.export_request(actor=request.user)).data, status=202)


class ExportDetailView(APIView):
    @extend_schema(responses={200: ExportOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, export_id: int) -> Response:
        return Response(ExportOut(export.export_access(actor=request.user, export_id=export_id)).data)


class ExportDownloadView(APIView):
    @extend_schema(
        responses={
            200: OpenApiResponse(OpenApiTypes.BINARY, description="application/zip"),
            **ERROR_RESPONSES,
        },
        tags=TAGS,
    )
    def get(self, request: Request, export_id: int) -> FileResponse:
        """The archive (a zip), to its owner only, until expires_at."""
        ready, stream = export.export_open(actor=request.user, export_id=export_id)
        name = f"imsuite-export-{ready.created_at:%Y%m%d}.zip"
        return FileResponse(stream, as_attachment=True, filename=name, content_type="application/zip")
