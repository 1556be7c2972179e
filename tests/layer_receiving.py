"""Reading a channel-layer channel in tests without ever cancelling a receive."""

import asyncio
from typing import Any

from channels.layers import BaseChannelLayer

Receives = dict[str, "asyncio.Future[dict[str, Any]]"]


async def receive_within(
    layer: BaseChannelLayer, channel: str, waiting: Receives, wait: float
) -> list[dict[str, Any]]:
    """What has reached the channel, waiting up to `wait` for each next message. A receive still
    waiting when the time is up is kept in `waiting` for the next call, never cancelled: redis-py
    can swallow a cancellation mid-BRPOP (the receive then runs on until the next message, and
    the caller hangs), and channels-redis drops the channel's buffer on a cancel."""
    got = []
    while True:
        receive = waiting.pop(channel, None) or asyncio.ensure_future(layer.receive(channel))
        done, _ = await asyncio.wait({receive}, timeout=wait)
        if not done:
            waiting[channel] = receive
            return got
        got.append(receive.result())


async def stop_receiving(waiting: Receives) -> None:
    """Cancel the receives still waiting, giving them a bounded moment to end."""
    for receive in waiting.values():
        receive.cancel()
    if waiting:
        await asyncio.wait(waiting.values(), timeout=1)
    waiting.clear()
