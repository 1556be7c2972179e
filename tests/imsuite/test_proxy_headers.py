"""X-Forwarded-For/-Proto and X-Real-IP are believed only from TRUSTED_PROXIES
(imsuite/proxy_headers.py): the middleware with real ASGI scopes, and its place in front of
imsuite.asgi.application."""

from typing import Any

import pytest

from imsuite.proxy_headers import TrustedProxyHeaders

NGINX = "172.30.0.10"


class Inner:
    """The application behind the middleware: keeps the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)


async def seen(peer: str | None, headers: list[tuple[bytes, bytes]], kind: str = "http", trusted=(NGINX,)):
    inner = Inner()
    scheme = "http" if kind == "http" else "ws"
    scope = {
        "type": kind,
        "scheme": scheme,
        "client": [peer, 51000] if peer else None,
        "headers": [(b"host", b"chat.example.com"), *headers],
    }
    await TrustedProxyHeaders(inner, list(trusted))(scope, None, None)
    [scope] = inner.scopes
    return scope


SPOOF = [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"https"), (b"x-real-ip", b"5.6.7.8")]


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_a_spoof_from_an_untrusted_peer_is_ignored_and_removed(kind):
    scope = await seen("203.0.113.9", SPOOF, kind)
    assert scope["client"] == ["203.0.113.9", 51000]
    assert scope["scheme"] == ("http" if kind == "http" else "ws")
    assert scope["headers"] == [(b"host", b"chat.example.com")]  # nothing further in can be misled


async def test_with_no_trusted_proxies_nobody_is_believed():
    scope = await seen("127.0.0.1", SPOOF, trusted=())
    assert (scope["client"], scope["headers"]) == (["127.0.0.1", 51000], [(b"host", b"chat.example.com")])


@pytest.mark.parametrize(("kind", "secure"), [("http", "https"), ("websocket", "wss")])
async def test_a_trusted_proxy_is_believed(kind, secure):
    scope = await seen(
        NGINX, [(b"x-forwarded-for", b"198.51.100.20"), (b"x-forwarded-proto", b"https")], kind
    )
    assert (scope["client"], scope["scheme"]) == (["198.51.100.20", 0], secure)
    assert (b"x-forwarded-for", b"198.51.100.20") in scope["headers"]


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (b"1.2.3.4, 198.51.100.20", ["198.51.100.20", 0]),  # what the client wrote is left of its address
        (b"1.2.3.4, 198.51.100.20, 172.30.0.10", ["198.51.100.20", 0]),  # trusted hops are skipped
        (b"garbage, 198.51.100.20", ["198.51.100.20", 0]),
        (b"198.51.100.20, garbage", [NGINX, 51000]),  # a hop that is no address ends the walk
        (b"172.30.0.10", ["172.30.0.10", 0]),  # all trusted: the left-most
        (b"2001:db8::7", ["2001:db8::7", 0]),
    ],
)
async def test_the_client_is_the_right_most_untrusted_hop(forwarded_for, client):
    scope = await seen(NGINX, [(b"x-forwarded-for", forwarded_for)])
    assert scope["client"] == client


async def test_several_forwarded_for_headers_are_one_list():
    headers = [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"198.51.100.20")]
    assert (await seen(NGINX, headers))["client"] == ["198.51.100.20", 0]


async def test_x_real_ip_counts_only_without_x_forwarded_for():
    assert (await seen(NGINX, [(b"x-real-ip", b"198.51.100.20")]))["client"] == ["198.51.100.20", 0]
    both = [(b"x-real-ip", b"5.6.7.8"), (b"x-forwarded-for", b"198.51.100.20")]
    assert (await seen(NGINX, both))["client"] == ["198.51.100.20", 0]


async def test_a_trusted_proxy_saying_http_keeps_http_and_without_headers_nothing_changes():
    scope = await seen(NGINX, [(b"x-forwarded-proto", b"http")], "websocket")
    assert (scope["client"], scope["scheme"]) == ([NGINX, 51000], "ws")
    plain = await seen("203.0.113.9", [])
    assert (plain["client"], plain["scheme"]) == (["203.0.113.9", 51000], "http")


async def test_a_peer_without_an_address_is_not_trusted():
    scope = await seen(None, SPOOF)
    assert (scope["client"], scope["headers"]) == (None, [(b"host", b"chat.example.com")])


async def test_other_scopes_pass_through():
    inner, lifespan = Inner(), {"type": "lifespan"}
    await TrustedProxyHeaders(inner, [NGINX])(lifespan, None, None)
    assert inner.scopes == [lifespan]


def test_the_served_application_reads_proxy_headers_from_trusted_proxies_only():
    from imsuite.asgi import application

    assert isinstance(application, TrustedProxyHeaders)
    assert application.trusted == ()  # TRUSTED_PROXIES is unset in the tests: nobody is believed
