"""Content-Security-Policy on every answer (Django 5.2 has none built in; the other security headers
come from Django's SecurityMiddleware and XFrameOptionsMiddleware, configured in settings).

Pages and scripts (the web client, its service worker, the admin, the API docs) get the page policy:
scripts only from this origin, never inline, no plug-ins, no framing. Everything else (JSON, static
files, redirects) gets the API policy, which lets nothing load at all: a JSON answer opened as a
document cannot run anything. An answer that already has a policy keeps it (media.serving's
sandbox for uploaded files)."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_TYPES = ("text/html", "application/javascript", "text/javascript")
AWS_ORIGIN = "https://*.amazonaws.com"


def media_origins() -> list[str]:
    """Where the browser fetches uploaded files from besides this origin: the object store a
    /media/ link redirects to (its presigned link's host), none for files on this server's disk."""
    options = settings.STORAGES["media"].get("OPTIONS", {})
    if "bucket_name" not in options:
        return []
    endpoint = options.get("public_endpoint_url") or options.get("endpoint_url")
    if not endpoint:  # AWS itself: the host names the bucket and the region
        return [AWS_ORIGIN]
    url = urlsplit(endpoint)
    origins = [f"{url.scheme}://{url.netloc}"]
    if options.get("addressing_style") != "path":  # the bucket may come first in the host name
        origins.append(f"{url.scheme}://*.{url.netloc}")
    return origins


def page_policy(websocket_origin: str | None, inline_styles: bool = False) -> str:
    """The web client's policy. Images may come from any http(s) host, since image messages,
    avatars and group notices by URL are part of the protocol (an image cannot run script);
    voice and video attachments come from here or the object store; the WebSocket is this host's."""
    media = " ".join(["'self'", "blob:", *media_origins()])
    styles = "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'"
    connect = " ".join(filter(None, ["'self'", websocket_origin]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            styles,
            "img-src 'self' data: blob: https: http:",
            f"media-src {media}",
            f"connect-src {connect}",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _websocket_origin(request: HttpRequest) -> str | None:
    """ws(s)://this host: 'self' covers it only in browsers that follow CSP level 3."""
    try:
        host = request.get_host()
    except DisallowedHost:  # answered 400 by CommonMiddleware; no page runs from it
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


def with_inline_styles(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The page policy allowing inline styles, for a page that cannot do without (Swagger UI sets
    style attributes from its scripts); scripts stay as strict."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response[HEADER] = page_policy(_websocket_origin(request), inline_styles=True)
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER in response:
            return response
        content_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type in PAGE_TYPES:
            response[HEADER] = page_policy(_websocket_origin(request))
        else:
            response[HEADER] = API_POLICY
        return response


@register(Tags.security)
def check_tls_proxy_is_trusted(**_: object) -> list[CheckMessage]:
    """BEHIND_TLS_PROXY without TRUSTED_PROXIES: the proxy's X-Forwarded-Proto is dropped
    (imsuite.proxy_headers), every request looks like plain HTTP and is redirected for ever."""
    if settings.SECURE_SSL_REDIRECT and settings.SECURE_PROXY_SSL_HEADER and not settings.TRUSTED_PROXIES:
        return [
            Error(
                "BEHIND_TLS_PROXY is set but TRUSTED_PROXIES is empty.",
                hint="Name the TLS proxy's address in TRUSTED_PROXIES: its X-Forwarded-Proto is "
                "believed from nobody else, so every request would be redirected to HTTPS again.",
                id="imsuite.E001",
            )
        ]
    return []
