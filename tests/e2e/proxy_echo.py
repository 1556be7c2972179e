"""Served by a real daphne in test_proxy_headers.py: answers every HTTP request with the client
address and scheme the application was handed, behind the middleware imsuite.asgi puts in front
of everything, configured from the same setting. Nothing in IM-Suite itself shows the client's
address, so this is how a test sees what daphne (run as `serve` and the Dockerfile run it, without
--proxy-headers) and the middleware make of proxy headers."""

import json
from typing import Any

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402  (needs Django set up first)

from imsuite.proxy_headers import TrustedProxyHeaders  # noqa: E402


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


application = TrustedProxyHeaders(echo, settings.TRUSTED_PROXIES)
