"""At most UPLOAD_CONCURRENCY uploads of a process are worked on at once; the others wait, as
suspended coroutines on the event loop (no thread, no database connection held), for a slot.

An upload's work (the multipart parse, the type from the bytes, Pillow, the storage) runs in its
request's own thread, and every such thread competes for the GIL with the event loop that sends
every frame (each of a group message's thousand socket writes gives the GIL up, and may wait to get
it back). Twenty at once: the loop's lag while twenty 10 MB uploads were handled had a p99 of
62-223 ms, against 18-33 ms with two at a time and 12-37 with one, for the same MB/s; beside the
1,000-member group (make bench), its p99 was 124 and 99 ms with one at a time, 237 and 154 with two
(docs/performance.md). CPU-bound Python gains nothing from running two at once anyway. twisted has
the whole body on disk before the request reaches the application, so a waiting upload holds
nothing but its temporary file.
"""

import asyncio
from typing import Any

from django.conf import settings

from .body_limit import UPLOAD_PATHS, ASGIApp
from .per_loop import PerLoop

_slots: PerLoop[asyncio.Semaphore] = PerLoop(
    lambda loop: asyncio.Semaphore(settings.IMSUITE["UPLOAD_CONCURRENCY"])
)


class UploadSlots:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["method"] == "POST" and UPLOAD_PATHS.fullmatch(scope["path"]):
            async with _slots.get():
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)
