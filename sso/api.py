"""REST adapter for single sign-on: the page (or app) trades the one-time code from the callback's
URL fragment for its session (docs/protocol.md, "Single sign-on")."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import TokenPair
from imsuite.api_fields import ERROR_RESPONSES, InputSerializer, StrictCharField

from . import provider, services


class ExchangeInput(InputSerializer):
    code = StrictCharField(max_length=128)
    verifier = StrictCharField(min_length=43, max_length=128, required=False)


class ProviderOut(serializers.Serializer):
    enabled = serializers.BooleanField()
    name = serializers.CharField(allow_blank=True)
    start_url = serializers.CharField(allow_blank=True)


class ProviderView(APIView):
    """Whether single sign-on is on, for clients that draw their own sign-in screen (mobile apps)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: ProviderOut}, tags=["auth"], auth=[])
    def get(self, request: Request) -> Response:
        on = provider.enabled()
        return Response(
            {
                "enabled": on,
                "name": settings.OIDC_PROVIDER_NAME if on else "",
                "start_url": reverse("oidc-start") if on else "",
            }
        )


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
