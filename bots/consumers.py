"""Forward mode: a bot backend connects to /ws/bot with its bot token and receives Events, sending
Actions back (see bots/protocol.py)."""

from typing import Any
from urllib.parse import parse_qs

from accounts import services as account_services
from accounts.models import User
from imsuite import audit
from imsuite.events import user_group
from imsuite.hub import get_hub
from imsuite.models import AuditEntry
from imsuite.ws import FastWebsocketConsumer, db, header

from .protocol import CLOSING_EVENTS, handle_frame, render_event, render_shared

CLOSE_POLICY = 1008


def bot_token_from_scope(scope: dict[str, Any]) -> str | None:
    """The bot token from ?token=, ?access_token= or Authorization: Bearer."""
    auth = header(scope, b"authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    for name in ("token", "access_token"):
        if query.get(name):
            return query[name][0]
    return None


class BotConsumer(FastWebsocketConsumer):
    bot: User | None = None
    held: list[str] | None = None  # event frames waiting for the response being prepared

    async def connect(self) -> None:
        self.bot = await db(account_services.bot_authenticate)(bot_token_from_scope(self.scope))
        if self.bot is None:
            await self.close(code=CLOSE_POLICY)  # before accept: the handshake is refused (403)
            return
        audit.set_source(AuditEntry.Source.BOT)
        self.hub = await get_hub()
        self.hub.attach(self.bot.pk, self)
        await self.channel_layer.group_add(user_group(self.bot.pk), self.channel_name)
        await self.accept()
        await db(account_services.connection_opened)(actor=self.bot, connection=self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.bot is None:
            return
        self.hub.detach(self.bot.pk, self)
        await self.channel_layer.group_discard(user_group(self.bot.pk), self.channel_name)
        await db(account_services.connection_closed)(actor=self.bot, connection=self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Answer the action first; events it caused (held meanwhile) follow its response."""
        self.held: list[str] | None = []
        try:
            await self.send(text_data=await handle_frame(self.bot, text_data))
        finally:
            held, self.held = self.held, None
            for frame in held:
                await self.send(text_data=frame)

    async def domain_event(self, message: dict[str, Any]) -> None:
        if message["event"] in CLOSING_EVENTS:
            await self.close(code=CLOSE_POLICY)
            return
        frame = render_event(message, self.bot.pk)
        if frame is not None:
            await self.send(text_data=frame)

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        """A message event (on_message, on_recall) from this process's hub."""
        frame = render_shared(name, data, self.bot.pk, frames)
        if frame is not None and self.held is not None:
            self.held.append(frame)
        elif frame is not None:
            await self.send(text_data=frame)
