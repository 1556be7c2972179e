"""REST adapter for receipts and edit history (issue 22): who of a group read a message, the
private chat's delivery acknowledgement, and a message's earlier texts."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import UserRef
from imsuite.api_fields import ERROR_RESPONSES, InputSerializer, StrictIntegerField, query_input
from imsuite.validation import validate

from . import edit_history, receipts
from .schemas import DeliveredInput

TAGS = ["chats"]


class ReadersQuery(InputSerializer):
    after = StrictIntegerField(required=False, min_value=0, default=0)
    limit = StrictIntegerField(required=False, min_value=1, max_value=receipts.READERS_MAX_LIMIT, default=50)


class ReaderOut(serializers.Serializer):
    user_id = serializers.IntegerField()
    user = UserRef()


class ReadersOut(serializers.Serializer):
    message_id = serializers.IntegerField()
    read_count = serializers.IntegerField(
        help_text="Members (the sender aside) whose read position is at or past it."
    )
    unread_count = serializers.IntegerField(help_text="Members (the sender aside) who have not read it.")
    results = ReaderOut(many=True, help_text="Readers by user id.")
    next_after = serializers.IntegerField(
        allow_null=True, help_text="The next page's ?after=, null at the end."
    )


class EditOut(serializers.Serializer):
    content = serializers.CharField(help_text="The text this edit replaced.")
    edited_at = serializers.DateTimeField()
    editor_id = serializers.IntegerField(allow_null=True)


class EditsOut(serializers.Serializer):
    message_id = serializers.IntegerField()
    results = EditOut(many=True, help_text="Earlier texts, oldest first; [] when never edited or recalled.")


class DeliveredOut(serializers.Serializer):
    chat_id = serializers.IntegerField()
    up_to_message_id = serializers.IntegerField()
    moved = serializers.BooleanField(help_text="False when your position was already there or past it.")


class MessageReadersView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="Only readers with a greater user id (the cursor)."),
            OpenApiParameter("limit", int, description=f"1-{receipts.READERS_MAX_LIMIT}, default 50."),
        ],
        responses={200: ReadersOut, **ERROR_RESPONSES},
        tags=TAGS,
    )
    def get(self, request: Request, message_id: int) -> Response:
        """Who of the chat's members has read the message ("seen by"), for its members."""
        query = query_input(ReadersQuery, request, ("after", "limit"))
        return Response(
            ReadersOut(receipts.message_readers(actor=request.user, message_id=message_id, **query)).data
        )


class MessageEditsView(APIView):
    @extend_schema(responses={200: EditsOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, message_id: int) -> Response:
        """The message's earlier texts, for the members of its chat."""
        return Response(EditsOut(edit_history.message_edits(actor=request.user, message_id=message_id)).data)


class ChatDeliveredView(APIView):
    @extend_schema(request=DeliveredInput, responses={200: DeliveredOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, chat_id: int) -> Response:
        """Your devices received this private chat up to this message (as the WebSocket's
        message.delivered); the other person hears message.delivered."""
        data = validate(DeliveredInput, request.data)
        moved = receipts.message_delivered(actor=request.user, chat_id=chat_id, **data)
        return Response(DeliveredOut({"chat_id": chat_id, "moved": moved, **data}).data)
