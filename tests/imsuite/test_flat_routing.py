"""imsuite.flat_routing: a connection's application is the consumer's own coroutine (no router's
coroutine waits on it for the connection's life), with channels' scope and channels' errors."""

from typing import Any

import pytest

from imsuite.asgi import application
from imsuite.ws import FastWebsocketConsumer


def scope(path: str, kind: str = "websocket") -> dict[str, Any]:
    return {"type": kind, "path": path, "headers": [], "query_string": b"", "subprotocols": []}


async def receive() -> dict[str, Any]:
    raise AssertionError("not called")


async def send(message: dict[str, Any]) -> None:
    raise AssertionError("not called")


def test_a_websocket_runs_the_consumers_own_coroutine() -> None:
    started = application(scope("/ws"), receive, send)
    try:
        assert started.cr_code is FastWebsocketConsumer.__call__.__code__
        consumer = started.cr_frame.f_locals["self"]
        assert type(consumer).__name__ == "ClientConsumer"
        routed = started.cr_frame.f_locals["scope"]
        assert (routed["path_remaining"], routed["url_route"]) == ("", {"args": (), "kwargs": {}})
    finally:
        started.close()


def test_the_bot_path_runs_the_bot_consumer() -> None:
    started = application(scope("/ws/bot"), receive, send)
    try:
        assert type(started.cr_frame.f_locals["self"]).__name__ == "BotConsumer"
    finally:
        started.close()


async def test_an_unknown_path_raises_channels_error_when_awaited() -> None:
    started = application(scope("/nowhere"), receive, send)
    with pytest.raises(ValueError, match="No route found for path 'nowhere'"):
        await started


async def test_an_unknown_scope_type_raises_channels_error_when_awaited() -> None:
    started = application(scope("/ws", "carrier-pigeon"), receive, send)
    with pytest.raises(ValueError, match="No application configured for scope type 'carrier-pigeon'"):
        await started
