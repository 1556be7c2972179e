"""Where the tests' inbox reads the deployment's events, the way a process's hub does: the
channel layer's hub group (the embedded mode), or a stream of its own in Redis with its users
routed to it (imsuite.event_routes)."""

import json
import secrets
from typing import Any

from channels.layers import get_channel_layer

from imsuite import event_routes, redis_nodes
from imsuite.events import HUB_GROUP
from tests.layer_receiving import Receives, receive_until_mark, receive_within, stop_receiving

MARK_TIMEOUT = 10.0  # seconds for the inbox's own mark to come back


class LayerSource:
    """A member of the channel layer's group HUB_GROUP: it gets every event once."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.waiting: Receives = {}

    async def listen(self, user_ids: list[int]) -> None:
        if self.channel is None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(HUB_GROUP, self.channel)

    async def until_mark(self) -> list[dict[str, Any]]:
        messages = await receive_until_mark(self.layer, self.channel, self.waiting, MARK_TIMEOUT)
        return [event for message in messages for event in message["events"]]

    async def within(self, wait: float) -> list[dict[str, Any]]:
        messages = await receive_within(self.layer, self.channel, self.waiting, wait)
        return [event for message in messages for event in message["events"]]

    async def close(self) -> None:
        await stop_receiving(self.waiting)


class RouteSource:
    """A process of its own in Redis: the listened users' events are routed to its stream."""

    def __init__(self) -> None:
        self.process = "inbox-" + secrets.token_hex(4)
        self.last_entry = "0-0"

    async def listen(self, user_ids: list[int]) -> None:
        await event_routes.set_routes(self.process, user_ids, [])  # also its heartbeat

    async def until_mark(self) -> list[dict[str, Any]]:
        """Everything published before a mark appended to the stream now (a script's entries
        are appended as it runs: what was published before is in)."""
        await event_routes.set_routes(self.process, [], [])  # alive, however long the test ran
        mark = secrets.token_hex(8)
        entry = json.dumps([{"event": "test.mark", "mark": mark}])
        await redis_nodes.async_client().xadd(event_routes.stream_key(self.process), {"e": entry})
        got: list[dict[str, Any]] = []
        for _ in range(int(MARK_TIMEOUT * 10)):
            self.last_entry, events = await event_routes.read(self.process, self.last_entry, 100)
            for event in events:
                if event["event"] != "test.mark":
                    got.append(event)
                elif event["mark"] == mark:
                    return got
        raise AssertionError(f"the mark sent to {self.process} did not come back within {MARK_TIMEOUT} s")

    async def within(self, wait: float) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while True:
            self.last_entry, events = await event_routes.read(self.process, self.last_entry, int(wait * 1000))
            if not events:
                return got
            got.extend(event for event in events if event["event"] != "test.mark")

    async def close(self) -> None:
        await event_routes.clear(self.process)
        await redis_nodes.async_client().aclose()
