"""REST for the signed-in user's call history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_ref
from accounts.serializers import UserRef
from imsuite.api_fields import ERROR_RESPONSES, InputSerializer, StrictIntegerField, query_input

from . import selectors
from .models import Call


class CallQuery(InputSerializer):
    before = StrictIntegerField(required=False, min_value=1)
    limit = StrictIntegerField(required=False, min_value=1, max_value=100, default=50)


class CallOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Cursor for ?before=.")
    call_id = serializers.CharField()
    peer = UserRef()
    call_type = serializers.ChoiceField(choices=["audio", "video"])
    direction = serializers.ChoiceField(choices=["outgoing", "incoming"])
    status = serializers.ChoiceField(choices=["answered", "missed", "rejected", "busy"])
    started_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField()
    duration = serializers.IntegerField(help_text="Seconds from the answer to the end; 0 if never answered.")
    end_reason = serializers.CharField()


class CallPage(serializers.Serializer):
    results = CallOut(many=True)
    next_before = serializers.IntegerField(allow_null=True)


def call_data(call: Call, viewer_id: int) -> dict:
    outgoing = call.caller_id == viewer_id
    return {
        "id": call.pk,
        "call_id": call.call_id,
        "peer": user_ref(call.callee if outgoing else call.caller),
        "call_type": call.call_type,
        "direction": "outgoing" if outgoing else "incoming",
        "status": call.outcome,
        "started_at": call.created_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration": call.duration,
        "end_reason": call.end_reason,
    }


class CallHistoryView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="Only calls with a smaller id (the cursor)."),
            OpenApiParameter("limit", int, description="1-100, default 50."),
        ],
        responses={200: CallPage, **ERROR_RESPONSES},
        tags=["calls"],
    )
    def get(self, request: Request) -> Response:
        """Your finished calls, newest first."""
        query = query_input(CallQuery, request, ("before", "limit"))
        page, next_before = selectors.call_history_page(request.user, query.get("before"), query["limit"])
        body = {"results": [call_data(c, request.user.pk) for c in page], "next_before": next_before}
        return Response(CallPage(body).data)
