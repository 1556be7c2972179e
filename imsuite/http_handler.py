"""Django's ASGI handler, with the middleware chain and the view run as ONE synchronous call.

Django's own ASGI handler builds an asynchronous chain: a synchronous-only middleware (ours and
WhiteNoise's callers) sends the request into a thread, back to the event loop for the next
layer, and into the thread again for the (synchronous) view: four hand-overs per request. None of
our views or middleware is asynchronous, so the chain is built as under WSGI and entered once;
the per-request thread, the request_finished signal and the database connection's return to the
pool are as before. A 50-message history page: about 2 ms less per request (docs/performance.md).
"""

from typing import IO, Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

from . import patches
from .daphne_tuning import StreamedBody


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        if not patches.active("sync_middleware_chain"):  # Django's handler changed: its own chain
            super().load_middleware(is_async=is_async)
            return
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def read_body(self, receive: Any) -> IO[bytes]:
        """The body as a file: twisted's own (a duplicate) when daphne's queue has it whole
        (imsuite.daphne_tuning.StreamedBody), where Django would copy it into a file of its own, a
        chunk at a time on the event loop (a third of the loop's time while uploads arrived)."""
        queue = getattr(receive, "__self__", None)
        if isinstance(queue, StreamedBody) and patches.active("body_file_handover"):
            body = queue.take_file()
            if body is not None:
                return body
        return await super().read_body(receive)
