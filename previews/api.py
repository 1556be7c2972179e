"""REST for link previews: a moderator clears one (DELETE /api/link-previews/{id})."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES

from . import services


class LinkPreviewDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=["chats"])
    def delete(self, request: Request, preview_id: int) -> Response:
        """Moderators only: the preview leaves every message that shows it (message.preview to each
        chat) and its URL is never previewed again."""
        services.preview_clear(actor=request.user, preview_id=preview_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
