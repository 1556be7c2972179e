"""Channels' routers, returning the routed application's coroutine instead of awaiting it.

daphne runs each connection's application as one task whose coroutines stay suspended, one inside
the other, for as long as the connection lasts. A router that only awaits the application it picked
is one of them: a frame (250-380 bytes) and one more object for the collector per idle connection.
Returned instead, the picked application's coroutine is the one the caller awaits. What the routers
do not route themselves (an unknown scope type, no matching path, a root path, nested routers)
still goes through channels' own coroutine, with its errors raised where they were.
"""

from collections.abc import Awaitable
from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls.exceptions import Resolver404


class TypeRouter(ProtocolTypeRouter):
    """By scope type ("http", "websocket")."""

    _asgi_single_callable = True  # __call__ is plain, but an ASGI 3 application (asgiref, daphne)

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        application = self.application_mapping.get(scope["type"])
        if application is None:
            return super().__call__(scope, receive, send)
        return application(scope, receive, send)


class PathRouter(URLRouter):
    """By path, for the outermost router without a root path: the scope the application gets is
    channels' (path_remaining, url_route)."""

    _asgi_single_callable = True

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        path = scope.get("path")
        if path is not None and "path_remaining" not in scope and not scope.get("root_path"):
            path = path.lstrip("/")
            for route in self.routes:
                try:
                    match = route.pattern.match(path)
                except Resolver404:
                    continue
                if match:
                    new_path, args, kwargs = match
                    kwargs.update(route.default_args)
                    routed = dict(scope, path_remaining=new_path, url_route={"args": args, "kwargs": kwargs})
                    return route.callback(routed, receive, send)
        return super().__call__(scope, receive, send)
