"""REST adapter for drafts (chats.drafts): list them, keep one, clear one."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import drafts
from .schemas import DraftInput

TAGS = ["chats"]


class DraftOut(serializers.Serializer):
    chat_id = serializers.IntegerField()
    text = serializers.CharField(help_text="Empty when the draft was cleared (draft.updated only).")
    reply_to_id = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()


class DraftListView(APIView):
    @extend_schema(responses={200: DraftOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        """Your drafts, one per chat, by chat id."""
        return Response(DraftOut(drafts.draft_list(actor=request.user), many=True).data)


class DraftView(APIView):
    @extend_schema(request=DraftInput, responses={200: DraftOut, **ERROR_RESPONSES}, tags=TAGS)
    def put(self, request: Request, chat_id: int) -> Response:
        """Keep your draft of the chat (blank text clears it); your other devices hear draft.updated."""
        data = validate(DraftInput, request.data)
        return Response(DraftOut(drafts.draft_save(actor=request.user, chat_id=chat_id, **data)).data)

    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, chat_id: int) -> Response:
        """Clear your draft of the chat; your other devices hear draft.updated with empty text."""
        drafts.draft_clear(actor=request.user, chat_id=chat_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
