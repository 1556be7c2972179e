"""GET /api/chats/<id>/messages answered without Django's request machinery, in the common case.

A client scrolling back fetches page after page, so the history page is the REST API's hottest
read. Through Django it cost about 9 ms of CPU here for one statement of 1 ms: the middleware, DRF
and the hand-over to a fresh thread per request. This ASGI layer answers a plain request itself —
an allowed Host, a Bearer access token of a live session of an active user, `before`/`limit` as
the schema allows (no `after` or `around`), no body, and a non-empty page of a chat the user
belongs to — with the same
status, body and headers as Django (tests/chats/test_history_fast.py compares them), using the same
token check, session check, page statement and rendering, and it answers an unreachable database
(503 SERVICE_UNAVAILABLE) as Django would. Anything else — every other error, an empty
page (where Django tells NOT_FOUND from the start of the history), other methods and paths, a
plain-HTTP request where the deployment redirects to HTTPS — goes to Django untouched.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.translation import get_language_from_request
from rest_framework.renderers import JSONRenderer

from accounts.sessions import AccessClaims, read_access_token, session_revoked
from imsuite import db_outage, security_headers
from imsuite.api_fields import query_values
from imsuite.errors import DomainError
from imsuite.ws import db

from . import selectors
from .api import ChatMessagesView, history_body
from .serializers import HistoryQuery

log = logging.getLogger(__name__)

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

_PATH = re.compile(r"/api/chats/([1-9][0-9]{0,17})/messages")


class _LanguageQuestion:
    """What Django's get_language_from_request reads of a request."""

    def __init__(self, cookies: dict[str, str], accept_language: str) -> None:
        self.COOKIES = cookies
        self.META = {"HTTP_ACCEPT_LANGUAGE": accept_language}


def _headers(scope: dict) -> dict[bytes, bytes] | None:
    """The request's headers, or None if one that matters is repeated."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in headers and name in (b"host", b"authorization", b"accept-language", b"x-forwarded-proto"):
            return None
        headers[name] = headers[name] + b"; " + value if name == b"cookie" and name in headers else value
    return headers


def _deployment_allows_it() -> bool:
    """Django would add per-request behaviour this layer does not reproduce: leave it all to Django."""
    return not settings.USE_X_FORWARDED_HOST


def _is_secure(scope: dict, headers: dict[bytes, bytes]) -> bool:
    """HTTPS as Django's request.is_secure() sees it: SECURE_PROXY_SSL_HEADER's value when the
    request has that header (imsuite.proxy_headers left it only from a trusted proxy), else the scheme."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if value is not None:
            return value.decode("latin-1").split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") == "https"


def _hsts_header() -> tuple[tuple[bytes, bytes], ...]:
    """SecurityMiddleware's Strict-Transport-Security for a secure request, if the deployment sends it."""
    if not settings.SECURE_HSTS_SECONDS:
        return ()
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return ((b"Strict-Transport-Security", value.encode()),)


def _static_headers() -> list[tuple[bytes, bytes]]:
    """The headers Django's middleware and DRF put on every such answer (besides the length and
    the language): DRF's content type and Allow, XFrameOptions, Locale's Vary, Security's three, the
    API's Content-Security-Policy."""
    view = ChatMessagesView()
    view.setup(None)  # as as_view() does per request: HEAD answers as GET
    headers = [
        ("Content-Type", "application/json"),
        ("Allow", ", ".join(view.allowed_methods)),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS.upper()),
        ("Vary", "Accept-Language"),
        (security_headers.HEADER, security_headers.API_POLICY),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        values = [v.strip() for v in policy.split(",")] if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return [(name.encode(), value.encode()) for name, value in headers]


def _page_body(claims: AccessClaims, chat_id: int, query: dict[str, Any]) -> bytes | None:
    """In a database thread: the page's JSON, or None wherever Django should answer instead. The
    page statement checks that the user is active and a member (open_session's user check)."""
    if session_revoked(claims.sid):
        return None
    page, next_before = selectors.history_page(
        chat_id, query.get("before"), query["limit"], member_id=claims.user_id
    )
    if not page:
        return None
    return JSONRenderer().render(history_body(page, next_before, claims.user_id))


class HistoryFastPath:
    """ASGI middleware in front of Django's HTTP handler."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app
        self.enabled = _deployment_allows_it()
        self.static_headers = _static_headers()
        self.hsts = _hsts_header()
        self.page_body = db(_page_body)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        answered = False
        if self.enabled and scope["type"] == "http" and scope["method"] == "GET":
            match = None if scope.get("root_path") else _PATH.fullmatch(scope["path"])
            if match:
                answered = await self._answer(scope, int(match[1]), send)
        if not answered:
            await self.django_app(scope, receive, send)

    async def _answer(self, scope: dict, chat_id: int, send: Any) -> bool:
        headers = _headers(scope)
        if headers is None or headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            return False
        host = headers.get(b"host", b"").decode("latin-1")
        domain, _port = split_domain_port(host)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return False
        secure = _is_secure(scope, headers)
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False  # Django's redirect to HTTPS
        tls = self.hsts if secure else ()
        kind, _, token = headers.get(b"authorization", b"").partition(b" ")
        if kind != b"Bearer" or not token or b" " in token:
            return False
        try:
            claims = read_access_token(token.decode("ascii"))
            params = dict(
                parse_qsl(scope["query_string"].decode("ascii"), keep_blank_values=True, max_num_fields=50)
            )
            if "after" in params or "around" in params:
                return False  # a window page (another shape, more checks): Django's
            query = query_values(HistoryQuery, params, ("before", "limit"))
            language = get_language_from_request(
                _LanguageQuestion(
                    parse_cookie(headers.get(b"cookie", b"").decode("latin-1")),
                    headers.get(b"accept-language", b"").decode("latin-1"),
                )
            )
        except (DomainError, ValueError):
            return False
        try:
            body = await self.page_body(claims, chat_id, query)
        except db_outage.ServiceUnavailable as refusal:  # Django would only wait for the database again
            retry = ((b"Retry-After", str(refusal.retry_after).encode()), *tls)
            await self._respond(send, 503, JSONRenderer().render(refusal.as_dict()), language, retry)
            return True
        except Exception:  # Django will answer it, and log it if it fails there too
            log.exception("history fast path: handing the request to Django")
            return False
        if body is None:
            return False
        await self._respond(send, 200, body, language, tls)
        return True

    async def _respond(
        self, send: Any, status: int, body: bytes, language: str, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        headers = [
            *self.static_headers,
            (b"Content-Length", str(len(body)).encode()),
            (b"Content-Language", language.encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
