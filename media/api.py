"""REST adapter for uploads: POST /api/uploads."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BOT_OR_PERSON
from imsuite.api_fields import ERROR_RESPONSES, ErrorSerializer
from imsuite.errors import validation_error

from . import services
from .rendering import attachment_view
from .serializers import AttachmentOut, UploadInput

TAGS = ["media"]


class UploadView(APIView):
    parser_classes = [MultiPartParser]
    authentication_classes = BOT_OR_PERSON  # bots upload what they send with their token

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={201: AttachmentOut, 413: ErrorSerializer, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        """Upload a file (multipart, field `file`) to send with a message's attachment_ids. Its type
        is read from the bytes; pictures lose their metadata and get a thumbnail."""
        upload = request.FILES.get("file")
        if upload is None:
            raise validation_error("file", "required", "Send the file as the multipart field `file`.")
        unknown = sorted(set(request.data) - {"file", "kind", "duration", "waveform"})
        if unknown:
            raise validation_error(unknown[0], "unknown_field", "Unknown field.")
        attachment = services.attachment_upload(
            actor=request.user,
            upload=upload,
            kind=request.data.get("kind"),
            duration=request.data.get("duration"),
            waveform=request.data.get("waveform"),
        )
        return Response(AttachmentOut(attachment_view(attachment)).data, status=status.HTTP_201_CREATED)
