"""REST adapter for single sign-on: the page (or app) trades the one-time code from the callback's
URL fragment for its session (docs/protocol.md, "Single sign-on")."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import TokenPair
from imsuite.api_fields import ERROR_RESPONSES, InputSerializer, StrictCharField

from . import services


class ExchangeInput(InputSerializer):
    code = StrictCharField(max_length=128)
    verifier = StrictCharField(min_length=43, max_length=128, required=False)


class ExchangeView(APIView):
    """Anonymous by nature: the code is the credential, and the browser session that went to the
    provider (its Django session cookie) must be the one that asks, or for an app, the one that
    holds the PKCE verifier it started with."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=ExchangeInput, responses={200: TokenPair, **ERROR_RESPONSES}, tags=["auth"], auth=[]
    )
    def post(self, request: Request) -> Response:
        data = ExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = services.exchange_code_redeem(
            code=data.validated_data["code"],
            holder=services.code_holder(
                session_key=request.session.session_key,
                app_challenge=services.pkce_challenge(data.validated_data["verifier"])
                if "verifier" in data.validated_data
                else None,
            ),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            address=request.META.get("REMOTE_ADDR", ""),
        )
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})
