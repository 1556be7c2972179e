"""The straightforward reference: the Channels chat most tutorials build. A stock
AsyncWebsocketConsumer (Channels' own dispatch), one ORM create and one group_send per message,
a group per chat, the same database and Redis as IM-Suite, and an OFFSET-paginated history view.
Served by daphne as bench.ref_channels:application."""

import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imsuite.settings")
get_asgi_application()  # sets Django up

from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from chats.models import ChatMember, Message  # noqa: E402


class StockChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        query = dict(p.split("=", 1) for p in self.scope["query_string"].decode().split("&") if "=" in p)
        self.user_id = int(query["user"])
        self.chats = await database_sync_to_async(
            lambda: list(ChatMember.objects.filter(user_id=self.user_id).values_list("chat_id", flat=True))
        )()
        for chat in self.chats:
            await self.channel_layer.group_add(f"chat_{chat}", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for chat in getattr(self, "chats", []):
            await self.channel_layer.group_discard(f"chat_{chat}", self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data)
        message = await database_sync_to_async(Message.objects.create)(
            chat_id=frame["chat_id"], sender_id=self.user_id, content=frame["content"]
        )
        await self.channel_layer.group_send(
            f"chat_{frame['chat_id']}",
            {
                "type": "chat.message",
                "id": message.pk,
                "chat_id": frame["chat_id"],
                "content": frame["content"],
            },
        )

    async def chat_message(self, event: dict) -> None:
        await self.send(
            text_data=json.dumps(
                {"id": event["id"], "chat_id": event["chat_id"], "content": event["content"]}
            )
        )


def _history_page(chat_id: int, page: int) -> list[dict]:
    """Page by page with OFFSET, as a first version usually does."""
    rows = Message.objects.filter(chat_id=chat_id).order_by("-id")[page * 50 : page * 50 + 50]
    return list(rows.values("id", "sender_id", "content", "created_at"))


async def history(scope: dict, receive: object, send: object) -> None:
    """GET /history/<chat_id>?page=N as a bare ASGI app (the reference has no REST framework)."""
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    rows = await database_sync_to_async(_history_page)(
        scope["url_route"]["kwargs"]["chat_id"], int(query.get("page", 0))
    )
    body = json.dumps({"results": rows}, default=str).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": URLRouter([path("history/<int:chat_id>", history)]),
        "websocket": URLRouter([path("", StockChatConsumer.as_asgi())]),
    }
)
