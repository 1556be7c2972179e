"""REST for the devices that receive pushes (/api/push/subscriptions)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES
from imsuite.validation import validate

from . import selectors, services
from .serializers import SubscriptionInput, SubscriptionOut, subscription_out

TAGS = ["push"]


class SubscriptionsView(APIView):
    @extend_schema(responses={200: SubscriptionOut(many=True), **ERROR_RESPONSES}, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response([subscription_out(s) for s in selectors.subscriptions_of(request.user)])

    @extend_schema(request=SubscriptionInput, responses={201: SubscriptionOut, **ERROR_RESPONSES}, tags=TAGS)
    def post(self, request: Request) -> Response:
        data = validate(SubscriptionInput, request.data)
        subscription = services.subscription_register(actor=request.user, **data)
        return Response(subscription_out(subscription), status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    @extend_schema(responses={204: None, **ERROR_RESPONSES}, tags=TAGS)
    def delete(self, request: Request, subscription_id: int) -> Response:
        services.subscription_delete(actor=request.user, subscription_id=subscription_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
