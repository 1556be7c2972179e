"""Maps every failure of the REST adapter to {"error_code", "message", "details"} with its status.

Nothing reaches a client as a stack trace: unexpected exceptions become INTERNAL_ERROR (logged)."""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import db_outage
from .errors import DomainError, ErrorCode
from .validation import validation_details

logger = logging.getLogger(__name__)

API_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, ErrorCode.VALIDATION_ERROR),
    (exceptions.ValidationError, ErrorCode.VALIDATION_ERROR),
    (exceptions.NotAuthenticated, ErrorCode.AUTHENTICATION_FAILED),
    (exceptions.AuthenticationFailed, ErrorCode.AUTHENTICATION_FAILED),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED),
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.NotAcceptable, ErrorCode.VALIDATION_ERROR),
    (exceptions.Throttled, ErrorCode.RATE_LIMITED),
]


def _api_exception_body(exc: exceptions.APIException) -> dict[str, Any]:
    code = next((code for cls, code in API_CODES if isinstance(exc, cls)), ErrorCode.VALIDATION_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        return {
            "error_code": code,
            "message": "The request is not valid.",
            "details": validation_details(exc),
        }
    detail = exc.detail
    details: dict[str, Any] = {}
    if isinstance(detail, dict):  # simplejwt: {"detail", "code", "messages"}
        details["reason"] = str(detail.get("code", "invalid"))
        message = str(detail.get("detail", ""))
    else:
        details["reason"] = getattr(detail, "code", None) or exc.default_code
        message = str(detail)
    if isinstance(exc, exceptions.ParseError):
        details["reason"] = "malformed_json"
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after"] = int(exc.wait)
    return {"error_code": code, "message": message, "details": details}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if db_outage.is_unavailable(exc):
        refusal = db_outage.failed(exc)
        return Response(refusal.as_dict(), status=503, headers={"Retry-After": str(refusal.retry_after)})
    if isinstance(exc, DomainError):
        retry = exc.details.get("retry_after") if exc.code == ErrorCode.RATE_LIMITED else None
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return Response(exc.as_dict(), status=exc.http_status, headers=headers)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            {"error_code": ErrorCode.INTERNAL_ERROR, "message": "Internal server error.", "details": {}},
            status=500,
        )
    response.data = _api_exception_body(exc)
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL that matches nothing: JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            {"error_code": ErrorCode.NOT_FOUND, "message": "No such endpoint.", "details": {}}, status=404
        )
    return page_not_found(request, exception)


def json_server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        body = {"error_code": ErrorCode.INTERNAL_ERROR, "message": "Internal server error.", "details": {}}
        return JsonResponse(body, status=500)
    return server_error(request)
