"""X-Forwarded-For, X-Forwarded-Proto and X-Real-IP, believed only from the proxies named in
TRUSTED_PROXIES. daphne's own --proxy-headers believes them from anyone, so a client with nothing in
front of the server could claim any address (and, with BEHIND_TLS_PROXY, claim HTTPS). Here the
direct peer must be a trusted proxy; the client is then the right-most address of X-Forwarded-For
that is not a trusted proxy itself (the left part is whatever the client wrote). From any other
peer the headers are removed, so nothing further in (Django's request.META) can be misled."""

from collections.abc import Awaitable, Sequence
from typing import Any

from .ip_networks import IPAddress, address, networks, within

PROXY_HEADERS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-port", b"x-forwarded-host", b"x-real-ip"}
)
SECURE_SCHEMES = {"http": "https", "websocket": "wss"}
PLAIN_SCHEMES = {"http": "http", "websocket": "ws"}

Scope = dict[str, Any]


class TrustedProxyHeaders:
    """ASGI middleware: rewrites scope["client"] and scope["scheme"] from a trusted proxy's headers."""

    _asgi_single_callable = True  # __call__ is plain, but an ASGI 3 application (asgiref, daphne)

    def __init__(self, app: Any, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = networks(trusted_proxies)

    def __call__(self, scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
        """The inner application's coroutine, returned rather than awaited: a coroutine that only
        awaited it would stay suspended for as long as the connection lasts (256 bytes and one more
        object for the collector per idle connection)."""
        if scope["type"] in SECURE_SCHEMES and any(
            name in PROXY_HEADERS for name, _ in scope.get("headers", ())
        ):
            scope = self.rewritten(scope)
        return self.app(scope, receive, send)

    def _is_trusted(self, ip: IPAddress | None) -> bool:
        return ip is not None and within(ip, self.trusted)

    def rewritten(self, scope: Scope) -> Scope:
        """The scope as the trusted proxy saw the request; without a trusted peer, minus the headers."""
        peer = scope.get("client")
        if not (peer and self._is_trusted(address(peer[0]))):
            return {**scope, "headers": [(n, v) for n, v in scope["headers"] if n not in PROXY_HEADERS]}
        values: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            if name in PROXY_HEADERS:
                values.setdefault(name, []).append(value.decode("latin-1"))
        scope = dict(scope)
        client = self._client(values)
        if client is not None:
            scope["client"] = [str(client), 0]
        proto = ",".join(values.get(b"x-forwarded-proto", [])).rsplit(",", 1)[-1].strip().lower()
        if proto in ("https", "http"):
            table = SECURE_SCHEMES if proto == "https" else PLAIN_SCHEMES
            scope["scheme"] = table[scope["type"]]
        return scope

    def _client(self, values: dict[bytes, list[str]]) -> IPAddress | None:
        """The right-most hop of X-Forwarded-For that is not a trusted proxy (the left-most if all
        are); a hop that is not an address ends the walk. X-Real-IP when there is no X-Forwarded-For."""
        hops = ",".join(values.get(b"x-forwarded-for", [])).split(",")
        client = None
        for hop in reversed(hops):
            ip = address(hop)
            if ip is None:
                break
            client = ip
            if not self._is_trusted(ip):
                break
        if client is None and b"x-forwarded-for" not in values:
            client = address(values.get(b"x-real-ip", [""])[-1])
        return client
