"""REST for a bot's reverse endpoints (/api/bots/{id}/reverse-endpoints)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES, InputSerializer, StrictCharField
from imsuite.validation import validate

from . import dialects, selectors, services
from .models import ReverseEndpoint

TAGS = ["bots"]


class EndpointInput(InputSerializer):
    url = StrictCharField(max_length=500, help_text="ws:// or wss:// address of the bot backend.")
    access_token = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Sent as Authorization: Bearer.",
    )
    dialect = serializers.ChoiceField(
        choices=list(dialects.DIALECTS),
        required=False,
        default=dialects.DEFAULT,
        help_text="The wire form the backend speaks (docs/bots.md).",
    )


class EndpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    bot_id = serializers.IntegerField()
    url = serializers.CharField()
    has_access_token = serializers.BooleanField(help_text="The token itself is never shown again.")
    created_at = serializers.DateTimeField()
    last_error = serializers.CharField(
        help_text='Why the last connection attempt failed ("address_not_allowed: ..."); "" once one opened.'
    )
    last_error_at = serializers.DateTimeField(allow_null=True, help_text="When it failed; null if not.")
    dialect = serializers.CharField()
    last_complaint = serializers.CharField(
        help_text='The last frame of the backend\'s that IM-Suite could not use (never answered); "" if none.'
    )
    last_complaint_at = serializers.DateTimeField(allow_null=True)
    connected = serializers.BooleanField(help_text="Whether IM-Suite is connected to the backend now.")
    connected_at = serializers.DateTimeField(allow_null=True, help_text="Since when; null if not connected.")
    events_waiting = serializers.IntegerField(
        help_text="Events kept since the last one the backend acknowledged: its next connection gets them."
    )


def _out(endpoint: ReverseEndpoint) -> dict:
    connected = selectors.endpoint_connected(endpoint)
    return EndpointOut(
        {
            "id": endpoint.pk,
            "bot_id": endpoint.bot_id,
            "url": endpoint.url,
            "has_access_token": bool(endpoint.access_token),
            "created_at": endpoint.created_at,
            "last_error": endpoint.last_error,
            "last_error_at": endpoint.last_error_at,
            "dialect": endpoint.dialect,
            "last_complaint": endpoint.last_complaint,
            "last_complaint_at": endpoint.last_complaint_at,
            "connected": connected,
            "connected_at": endpoint.connected_at if connected else None,
            "events_waiting": getattr(endpoint, "events_waiting", 0),
        }
    ).data


class EndpointsView(APIView):
    @extend_schema(responses={200: EndpointOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request, bot_id: int) -> Response:
        bot = services.access_bot(request.user, bot_id)
        return Response([_out(e) for e in selectors.reverse_endpoints_of(bot)])

    @extend_schema(request=EndpointInput, responses={201: EndpointOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request, bot_id: int) -> Response:
        data = validate(EndpointInput, request.data)
        endpoint = services.reverse_endpoint_create(actor=request.user, bot_id=bot_id, **data)
        return Response(_out(endpoint), status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, bot_id: int, endpoint_id: int) -> Response:
        services.reverse_endpoint_delete(actor=request.user, bot_id=bot_id, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
