"""REST adapter for two-factor sign-in: the settings of one's own second factor, and the second
step of a sign-in (docs/protocol.md, "Two-factor sign-in")."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import TokenPair
from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import services
from .serializers import CodeInput, DisableInput, EnrolmentOut, RecoveryCodesOut, SecondStepInput, StatusOut

TAGS = ["two-factor"]


class StatusView(APIView):
    @extend_schema(responses={200: StatusOut, **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response(StatusOut(services.two_factor_status(actor=request.user)).data)


class EnrolView(APIView):
    @extend_schema(request=None, responses={200: EnrolmentOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Start an enrolment (again): a new secret, pending until confirmed with a first code."""
        return Response(EnrolmentOut(services.two_factor_enrol(actor=request.user)).data)


class ConfirmView(APIView):
    @extend_schema(request=CodeInput, responses={200: RecoveryCodesOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """The first code turns two-factor sign-in on; the answer's recovery codes are shown once."""
        codes = services.two_factor_confirm(actor=request.user, **validate(CodeInput, request.data))
        return Response({"recovery_codes": codes})


class RecoveryCodesView(APIView):
    @extend_schema(request=CodeInput, responses={200: RecoveryCodesOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """New recovery codes for a current code; the old ones stop working."""
        codes = services.two_factor_recovery_regenerate(
            actor=request.user, **validate(CodeInput, request.data)
        )
        return Response({"recovery_codes": codes})


class DisableView(APIView):
    @extend_schema(request=DisableInput, responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        """Turn two-factor sign-in off, proven with a current code, a recovery code or the password."""
        services.two_factor_disable(actor=request.user, **validate(DisableInput, request.data))
        return Response(status=204)


class SecondStepView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=SecondStepInput, responses={200: TokenPair, **ERROR_RESPONSES}, tags=["auth"], auth=[]
    )
    def post(self, request: Request) -> Response:
        """The second step of a sign-in: POST /api/auth/token answered 401 with details.reason
        two_factor_required and details.challenge; send that challenge with a code (or a recovery
        code) within details.expires_in seconds to get the tokens."""
        data = validate(SecondStepInput, request.data)
        refresh = services.signin_second_factor(
            **data,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            address=request.META.get("REMOTE_ADDR", ""),
        )
        return Response({"refresh": str(refresh), "access": str(refresh.access_token)})
