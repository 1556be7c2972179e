"""Reading a channel-layer channel in tests without ever cancelling a receive."""

import asyncio
import secrets
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


MARK_TYPE = "test.mark"  # never a hub's message type: only the tests' own channel reads it


async def receive_until_mark(
    layer: BaseChannelLayer, channel: str, waiting: Receives, timeout: float
) -> list[dict[str, Any]]:
    """What reached the channel before a mark sent to it now: a channel hands its messages out in
    the order they were sent, so whatever was sent before this call is in, with no quiet time
    waited out. (Events still to be sent by a background thread are not: wait for those.)"""
    mark = secrets.token_hex(8)
    await layer.send(channel, {"type": MARK_TYPE, "mark": mark})
    deadline = asyncio.get_running_loop().time() + timeout
    got = []
    while True:
        receive = waiting.pop(channel, None) or asyncio.ensure_future(layer.receive(channel))
        done, _ = await asyncio.wait(
            {receive}, timeout=max(0.0, deadline - asyncio.get_running_loop().time())
        )
        if not done:
            waiting[channel] = receive
            raise AssertionError(f"the mark sent to {channel} did not come back within {timeout} s")
        message = receive.result()
        if message.get("type") != MARK_TYPE:
            got.append(message)
        elif message["mark"] == mark:
            return got


async def stop_receiving(waiting: Receives) -> None:
    """Cancel the receives still waiting, giving them a bounded moment to end."""
    for receive in waiting.values():
        receive.cancel()
    if waiting:
        await asyncio.wait(waiting.values(), timeout=1)
    waiting.clear()
