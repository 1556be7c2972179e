"""Forward mode: a bot backend connects to /ws/bot with its bot token (and `?dialect=`, the sandbox
document's by default: bots.dialects) and receives events, sending actions back (bots/protocol.py)."""

import asyncio
import contextlib
import math
import time
from typing import Any
from urllib.parse import parse_qs

from accounts import services as account_services
from accounts.models import User
from imsuite import audit, db_outage
from imsuite.errors import DomainError
from imsuite.hub import get_hub
from imsuite.models import AuditEntry
from imsuite.watchdog import watchdog
from imsuite.ws import FastWebsocketConsumer, db, dumps, header, host_allowed, weak_method

from . import dialects, services
from .protocol import (
    CLOSE_POLICY,
    CLOSING_EVENTS,
    EventOutbox,
    Peer,
    PeerUnusable,
    handle_frame,
    heartbeats,
    parse_since,
    render_delivered,
    render_event,
    replay,
    response,
)


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _address(scope: dict[str, Any]) -> str:
    """Where the connection came from, host:port (as the proxy headers give it, if trusted)."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else ""


def bot_token_from_scope(scope: dict[str, Any]) -> str | None:
    """The bot token from ?token=, ?access_token= or Authorization: Bearer."""
    auth = header(scope, b"authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = _query(scope)
    for name in ("token", "access_token"):
        if query.get(name):
            return query[name][0]
    return None


class BotConsumer(FastWebsocketConsumer):
    bot: User | None = None

    async def connect(self) -> None:
        if not host_allowed(self.scope):
            await self.close(code=CLOSE_POLICY)  # before accept: the handshake is refused (403)
            return
        token = bot_token_from_scope(self.scope)
        try:
            db_outage.fail_fast()
            self.bot = await db(account_services.bot_authenticate)(token)
            self.hub = await get_hub()  # SERVICE_UNAVAILABLE if this process's hub cannot start
            if self.bot is not None:
                await self.hub.route(self.bot.pk)  # attached below, with no await in between
        except db_outage.ServiceUnavailable as exc:
            self.bot = None
            await self.accept()  # a refused handshake could only say 403: the failed response says why
            await self._try_again_later(exc)
            return
        if self.bot is None:
            await self.close(code=CLOSE_POLICY)  # before accept: the handshake is refused (403)
            return
        query = _query(self.scope)
        try:
            dialect = dialects.get(query.get("dialect", [""])[0])
            since = parse_since(query["since"][0] if "since" in query else None)
        except DomainError as exc:  # a refused handshake could only say 403: the failed response says why
            self.bot = None
            await self.accept()
            await self.send(text_data=response(error=exc))
            await self.close(code=CLOSE_POLICY, reason=exc.details.get("reason", "invalid"))
            return
        audit.set_source(AuditEntry.Source.BOT)
        self.token_hash = account_services.hash_bot_token(token)
        where = f"forward connection {self.connection_id}"
        self.peer = Peer(self.bot, dialect, where, weak_method(self._complained))  # no cycle through self
        self.outbox = EventOutbox(weak_method(self._send_text))
        self.outbox.hold()  # what arrives before the handshake is accepted follows it
        self.hub.attach(self.bot.pk, self)
        await self.accept()
        for frame in dialect.opening(self.bot):
            await self._send_text(dumps(frame))
        try:
            await replay(self.peer, self.outbox, since)  # what it missed, before the held live events
        except db_outage.ServiceUnavailable as exc:
            self.hub.detach(self.bot.pk, self)
            self.bot = None
            await self._try_again_later(exc)
            return
        await self.outbox.release()
        if dialect.heartbeat_seconds:
            self.heartbeat_task = asyncio.create_task(heartbeats(self.peer, self.outbox.put))
        try:
            await db(services.forward_connection_opened)(
                bot=self.bot,
                connection=self.connection_id,
                dialect=dialect.name,
                address=_address(self.scope),
            )
        except db_outage.ServiceUnavailable as exc:
            self.hub.detach(self.bot.pk, self)
            self.bot = None  # never opened: nothing to clean up at disconnect
            await self._try_again_later(exc)
            return
        self.watch_key = watchdog().watch(self)

    async def _try_again_later(self, exc: db_outage.ServiceUnavailable) -> None:
        """The database is away: a failed response (retcode 1503) and close 1013."""
        await self.send(text_data=response(error=exc))
        await self.close(code=db_outage.CLOSE_TRY_AGAIN)

    # What the process's watchdog (imsuite.watchdog) sees: a bot's connection is never idle and
    # has no token expiry (a revoked bot token closes it), so the watchdog only renews its lease.
    expires = math.inf

    @property
    def last_activity(self) -> float:
        return time.monotonic()

    def lease(self) -> tuple[int, str]:
        return self.bot.pk, self.connection_id

    def credentials(self) -> tuple[int, None, str]:
        """What the watchdog re-checks in the database every few seconds (imsuite.watchdog)."""
        return self.bot.pk, None, self.token_hash

    async def disconnect(self, code: int) -> None:
        if self.bot is None:
            return
        self.hub.detach(self.bot.pk, self)
        if hasattr(self, "heartbeat_task"):
            self.heartbeat_task.cancel()
        if hasattr(self, "watch_key"):
            await watchdog().release(self.watch_key)  # no renewal of its lease is on its way after this
        with contextlib.suppress(db_outage.ServiceUnavailable):  # the lease (Redis) goes all the same
            await db(services.forward_connection_closed)(bot=self.bot, connection=self.connection_id)

    async def _complained(self, text: str) -> None:
        await db(services.forward_connection_complained)(connection=self.connection_id, text=text)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Answer the action first; events it caused (held meanwhile) follow its response."""
        if self.bot is None or self.ended:  # refused, or closed by the server: its late frames are ignored
            return
        self.outbox.hold()
        try:
            answer = await handle_frame(self.peer, text_data)
            if answer is not None:
                await self.send(text_data=answer)
        except PeerUnusable as exc:
            await self.close(code=exc.code, reason=exc.reason)
        finally:
            await self.outbox.release()

    async def _send_text(self, frame: str) -> None:
        await self.send(text_data=frame)

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        """An event other than a message change, from this process's hub."""
        if name in CLOSING_EVENTS:
            await self.close(code=CLOSE_POLICY)
            return
        await self.outbox.put(render_event(self.peer, name, data))

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, str]) -> None:
        """A message event (on_message, on_recall) or an event kept for bots, in seq order."""
        await self.outbox.put(render_delivered(self.peer, name, data, frames), data["seq"])
