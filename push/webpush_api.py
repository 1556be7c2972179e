"""Web Push's two doors for the web client: GET /api/push/vapid-key (the applicationServerKey a
browser subscribes with) and /sw.js, the service worker that shows a push as a notification."""

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import condition, require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imsuite.api_fields import ERROR_RESPONSES
from imsuite.errors import DomainError, ErrorCode

from . import vapid

SERVICE_WORKER = settings.BASE_DIR / "static" / "app" / "sw.js"


class VapidKeyOut(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The server's VAPID public key: urlsafe base64 (no padding) of the uncompressed "
        "P-256 point, PushManager.subscribe's applicationServerKey."
    )


class VapidKeyView(APIView):
    @extend_schema(responses={200: VapidKeyOut, **ERROR_RESPONSES}, tags=["push"])
    def get(self, request: Request) -> Response:
        """404 NOT_FOUND (reason webpush_not_configured) when Web Push is off: a state of the
        deployment, not a failure to retry (a 5xx would say the server broke)."""
        try:
            keys = vapid.keys()
        except vapid.WebPushDisabled:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                "Web Push is not configured on this server.",
                {"reason": vapid.DISABLED_REASON},
            ) from None
        return Response(VapidKeyOut({"public_key": keys.public_key}).data)


def _service_worker_etag(request: HttpRequest) -> str:
    return hashlib.sha256(SERVICE_WORKER.read_bytes()).hexdigest()[:32]


@require_safe
@condition(etag_func=_service_worker_etag)
def service_worker(request: HttpRequest) -> HttpResponse:
    """From the site's root, so that its scope may be the whole site; revalidated on every update
    check (no-cache, with an ETag), so a new version reaches browsers at once."""
    response = HttpResponse(SERVICE_WORKER.read_bytes(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
