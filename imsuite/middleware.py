"""Tells the audit log which door an HTTP request came through: the REST API or Django admin."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import audit
from .models import AuditEntry


class AuditSourceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        door = AuditEntry.Source.ADMIN if request.path.startswith("/admin/") else AuditEntry.Source.REST
        with audit.source(door):
            return self.get_response(request)
