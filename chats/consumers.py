"""The client WebSocket adapter (/ws): authenticates, decodes frames, calls services, and renders
domain events as client-protocol frames. See docs/protocol.md."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from accounts import services as account_services
from accounts.sessions import AccessClaims, Session, read_access_token
from calls import services as call_services
from imsuite import audit, db_outage, safe_json
from imsuite.errors import DomainError, ErrorCode
from imsuite.hub import get_hub
from imsuite.models import AuditEntry
from imsuite.validation import validate
from imsuite.watchdog import watchdog
from imsuite.ws import (
    FastWebsocketConsumer,
    SharedFrame,
    client_frame,
    db,
    header,
    host_allowed,
    setup_gate,
    utc_now_iso,
)

from . import drafts, forwarding, pins, reactions, receipts, schemas, selectors, services
from .connection_queues import get_closing_queue, get_opening_queue
from .realtime import render_for
from .send_queue import get_send_queue
from .sending import SendRequest

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = settings.IMSUITE["WS_MAX_FRAME_BYTES"]
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
SUBPROTOCOL_PREFIX = "bearer."
# At a graceful stop, how long a connection waits for the acknowledgements of its last sends to come
# back from Redis (milliseconds, normally) before it closes; the client resends what it missed.
ACK_WAIT_SECONDS = 2.0


def token_from_scope(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """The access token and, if it came as a subprotocol, the subprotocol to select."""
    for proto in scope.get("subprotocols") or []:
        if proto.startswith(SUBPROTOCOL_PREFIX):
            return proto[len(SUBPROTOCOL_PREFIX) :], proto
    auth = header(scope, b"authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip(), None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    for name in ("token", "access_token"):
        if query.get(name):
            return query[name][0], None
    return None, None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Browsers send Origin and must match ALLOWED_HOSTS; native clients and bots send none."""
    origin = header(scope, b"origin")
    if origin is None:
        return True
    host = origin.split("://", 1)[-1].split("/", 1)[0]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class ClientConsumer(FastWebsocketConsumer):
    session: Session | None = None
    # (where the next page starts, where the sync began) while a paged sync is unfinished: live
    # message frames are not sent meanwhile, the following pages bring them in seq order.
    paging: tuple[int, int] | None = None
    # At a graceful stop: the seq of this connection's last stored send, whose message.new (its
    # acknowledgement) may still be on its way back through Redis, and the wait for it.
    ack_due = 0
    ack_arrived: asyncio.Future | None = None
    # Seqs at or below live_from this connection has sent outside a sync (a retried send's answer,
    # the stored message): a later sync does not send them again.
    answered_again: set[int] | None = None

    async def connect(self) -> None:
        if not origin_allowed(self.scope) or not host_allowed(self.scope):
            await self.close(code=CLOSE_POLICY)  # before accept: the handshake is refused (403)
            return
        token, subprotocol = token_from_scope(self.scope)
        # Accepted at once: daphne refuses a handshake the application has not accepted within its
        # connect timeout, and in a burst of reconnections a client waits its turn (setup_gate)
        # with the handshake done. It hears "connect" when it is set up, or an error and a close.
        await self.accept(subprotocol)
        try:
            claims = read_access_token(token)
        except DomainError as exc:
            await self._refuse(exc)
            return
        async with setup_gate():
            await self._set_up(claims)

    async def _set_up(self, claims: AccessClaims) -> None:
        """Join the hub first, then read the state the client starts from: nothing
        published in between is missed (what arrives meanwhile is held until `connect`)."""
        audit.set_source(AuditEntry.Source.WEBSOCKET)
        self.typing: dict[int, asyncio.Task] = {}
        self.sending: set[asyncio.Future] = set()  # sends being stored or answered (on_message_send)
        self.in_flight = asyncio.Semaphore(settings.IMSUITE["WS_MAX_IN_FLIGHT"])
        # Events held until `connect` is out (and, for message changes, until a sync's replay is):
        # (name, data, frames), frames None for an event other than a message change.
        self.deferred: list[tuple[str, dict[str, Any], dict[Any, str] | None]] | None = []
        try:
            self.hub = await get_hub()
            await self.hub.route(claims.user_id)
        except DomainError as exc:  # a process started while the database (or Redis) is away
            await self._refuse(exc)
            return
        self.hub.attach(claims.user_id, self)
        try:
            opened = await get_opening_queue().submit((claims, self.connection_id))
            if isinstance(opened, DomainError):
                raise opened
            self.session, self.last_sent = opened
            self.live_from = self.last_sent  # every change after it reaches this connection live
        except Exception as exc:  # nothing of a connection that never opened may stay behind
            self.hub.detach(claims.user_id, self)
            if not isinstance(exc, DomainError):
                raise
            await self._refuse(exc)
            return
        self.user = self.session.user
        self.viewer, self.viewer_key = self.user.pk, str(self.user.pk)  # read per delivery
        self.last_activity = time.monotonic()
        payload = {
            "status": "connected",
            "user_id": self.user.pk,
            "server_time": utc_now_iso(),
            "last_seq": self.last_sent,
        }
        await self.send(text_data=client_frame("connect", payload))
        await self._release()
        self.expires = self.session.expires_at.timestamp()
        self.watch_key = watchdog().watch(self)

    async def _refuse(self, exc: DomainError) -> None:
        """The error, then the close: 1013 (try again later) while the database is away, else 1008."""
        await self.send(text_data=client_frame("error", exc.as_dict()))
        unavailable = exc.code == ErrorCode.SERVICE_UNAVAILABLE
        await self.close(code=db_outage.CLOSE_TRY_AGAIN if unavailable else CLOSE_POLICY)

    async def disconnect(self, code: int) -> None:
        if self.session is None:
            return
        if getattr(self, "hub", None) is not None:
            self.hub.detach(self.user.pk, self)
        if hasattr(self, "watch_key"):
            await watchdog().release(self.watch_key)  # no renewal of its lease is on its way after this
        for task in self.typing.values():
            task.cancel()
        for chat_id in list(self.typing):
            with contextlib.suppress(DomainError):
                await self._relay_typing(chat_id, False)
        async with setup_gate():
            # With the database away the lease still goes (Redis); the offline announcement is lost.
            await get_closing_queue().submit((self.user, self.connection_id))

    # ---- the connection's life ------------------------------------------------------------

    def lease(self) -> tuple[int, str]:
        """Its presence lease, which the process's watchdog renews (imsuite.watchdog)."""
        return self.user.pk, self.connection_id

    def credentials(self) -> tuple[int, str | None, None]:
        """What the watchdog re-checks in the database every few seconds (imsuite.watchdog)."""
        return self.user.pk, self.session.sid, None

    async def end(self, reason: str, code: int) -> None:
        """Tell the client why, and close (the watchdog's "timeout" and "token_expired", and a
        shutdown's "server_restart", too)."""
        self.ended = True
        await self.send(text_data=client_frame("disconnect", {"status": "disconnected", "reason": reason}))
        await self.close(code=code)

    async def drain(self) -> None:
        """At shutdown: the sends being stored are let finish, and answered (the acknowledgement of
        each, its message.new, goes out through this process's hub) before the connection closes."""
        if self.session is None:
            return
        await asyncio.gather(*self.sending, return_exceptions=True)
        await get_send_queue().delivered()
        if self.ack_due > self.last_sent:  # published; its way back through Redis takes a moment
            self.ack_arrived = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ack_arrived, ACK_WAIT_SECONDS)

    # ---- frames from the client ---------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None or self.ended:
            return
        if text_data is None:
            self.ended = True
            await self.close(code=CLOSE_UNSUPPORTED)
            return
        if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode()) > MAX_FRAME_BYTES:
            self.ended = True
            await self.close(code=CLOSE_TOO_BIG)
            return
        self.last_activity = time.monotonic()
        event_type = None
        payload: Any = None
        try:
            event_type, payload = self._decode(text_data)
            if not isinstance(payload, dict):  # checked here so that the error names the event
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    "payload is a JSON object.",
                    {"field": "payload", "reason": "invalid"},
                )
            handler = self.handlers.get(event_type)
            if handler is None:
                raise DomainError(
                    ErrorCode.VALIDATION_ERROR,
                    f"Unknown event type {event_type!r}.",
                    {"reason": "unknown_type"},
                )
            await handler(self, payload)
        except DomainError as exc:
            await self._send_error(exc, event_type, payload)
        except Exception:
            logger.exception("client frame %s failed", event_type)
            await self._send_error(
                DomainError(ErrorCode.INTERNAL_ERROR, "Internal server error."), event_type, payload
            )

    @staticmethod
    def _decode(text_data: str) -> tuple[str, Any]:
        frame = safe_json.loads(text_data, MAX_FRAME_BYTES, "frame")
        if not isinstance(frame, dict):
            raise DomainError(
                ErrorCode.VALIDATION_ERROR, "A frame is a JSON object.", {"reason": "not_object"}
            )
        event_type = frame.get("type")
        if not isinstance(event_type, str):
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                "A frame needs a string type.",
                {"field": "type", "reason": "required"},
            )
        return event_type, frame.get("payload", {})

    async def _send_error(self, exc: DomainError, event_type: str | None, payload: Any) -> None:
        details = {**exc.details, "event": event_type}
        if isinstance(payload, dict) and isinstance(payload.get("client_msg_id"), str):
            details["client_msg_id"] = payload["client_msg_id"]
        body = {"error_code": exc.code, "message": exc.message, "details": details}
        await self.send(text_data=client_frame("error", body))

    async def on_message_send(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.MessageSendInput, payload)
        # At most WS_MAX_IN_FLIGHT sends of a connection are being stored; the next waits here, and
        # with it the reading of the connection's frames (a flood held a task and a frame for each).
        await self.in_flight.acquire()
        sent = get_send_queue().submit(SendRequest(actor=self.user, **data))
        # Not awaited here: the connection reads its next frame while this one is stored, so a
        # fast sender is not held to one database round trip per message. Order is kept by the queue.
        self.sending.add(sent)
        sent.add_done_callback(partial(self._sent, payload))

    def _sent(self, payload: dict[str, Any], sent: asyncio.Future) -> None:
        """A send stored or refused. A new message needs nothing more (its message.new frame
        follows from the hub), so it is settled here, in a callback: a task per send was 3 % of the
        event loop's time at 4,000 messages/s (docs/performance.md, step 40). A retry or a refusal
        is answered by a task, which holds the send's place in WS_MAX_IN_FLIGHT until it is done."""
        self.sending.discard(sent)
        if not sent.cancelled() and sent.exception() is None:
            result = sent.result()
            if isinstance(result, tuple) and result[1]:
                self.ack_due = max(self.ack_due, result[0].created_seq)
                self.in_flight.release()
                return
        answer = asyncio.create_task(self._settle_send(sent, payload))
        self.sending.add(answer)
        answer.add_done_callback(self.sending.discard)
        answer.add_done_callback(lambda _task: self.in_flight.release())

    async def _settle_send(self, sent: asyncio.Future, payload: dict[str, Any]) -> None:
        """Answer a send that did not store a new message: the original message to this connection
        on a retry, the error on refusal."""
        try:
            result = await sent
            if isinstance(result, DomainError):
                raise result
            message, created = result
            self.ack_due = max(self.ack_due, message.created_seq)
            if not created:  # a retry: acknowledge it to this connection only
                data = await db(selectors.message_event_data)(message)
                # A change after what this connection has sent reaches it live, in seq order: an
                # answer now would put a seq ahead of changes still on their way (and a client's
                # cursor past them), so only one already behind the live order is answered here.
                if data["seq"] <= self.last_sent:
                    if data["seq"] <= self.live_from:
                        self.answered_again = (self.answered_again or set()) | {data["seq"]}
                    await self._deliver("message.new", data)
        except DomainError as exc:
            await self._send_error(exc, "message.send", payload)
        except Exception:
            logger.exception("client frame message.send failed")
            await self._send_error(
                DomainError(ErrorCode.INTERNAL_ERROR, "Internal server error."), "message.send", payload
            )

    async def on_message_edit(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.MessageEditEvent, payload)
        await db(services.message_edit)(actor=self.user, **data)

    async def on_message_delete(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.MessageRef, payload)
        await db(services.message_delete)(actor=self.user, **data)

    async def on_message_reaction(self, payload: dict[str, Any]) -> None:
        """Answered by the message.reaction event (nothing when it changed nothing)."""
        data = validate(schemas.ReactionEvent, payload)
        await db(reactions.reaction_set)(actor=self.user, **data)

    async def on_message_forward(self, payload: dict[str, Any]) -> None:
        """Each target's new message arrives as message.new from the hub; a retry's is sent here,
        and each refused chat answers with its own error frame (details.chat_id)."""
        data = validate(schemas.ForwardEvent, payload)
        for chat_id, result in await db(forwarding.message_forward)(actor=self.user, **data):
            if isinstance(result, DomainError):
                refusal = DomainError(result.code, result.message, {**result.details, "chat_id": chat_id})
                await self._send_error(refusal, "message.forward", payload)
            elif not result[1]:
                await self._deliver("message.new", await db(selectors.message_event_data)(result[0]))

    async def on_message_pin(self, payload: dict[str, Any]) -> None:
        await db(pins.message_pin)(actor=self.user, **validate(schemas.MessageRef, payload))

    async def on_message_unpin(self, payload: dict[str, Any]) -> None:
        await db(pins.message_unpin)(actor=self.user, **validate(schemas.MessageRef, payload))

    async def on_message_read(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.MessageRef, payload)
        await db(services.message_read)(actor=self.user, origin=self.connection_id, **data)

    async def on_message_delivered(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.DeliveredEvent, payload)
        await db(receipts.message_delivered)(actor=self.user, **data)

    async def on_typing(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.TypingInput, payload)
        chat_id, is_typing = data["chat_id"], data["is_typing"]
        await self._relay_typing(chat_id, is_typing)  # checks membership first: NOT_FOUND for others
        previous = self.typing.pop(chat_id, None)
        if previous is not None:
            previous.cancel()
        if is_typing:  # a start that is not renewed ends by itself
            self.typing[chat_id] = asyncio.create_task(self._typing_expires(chat_id))

    async def _typing_expires(self, chat_id: int) -> None:
        await asyncio.sleep(settings.IMSUITE["TYPING_EXPIRY_SECONDS"])
        self.typing.pop(chat_id, None)
        with contextlib.suppress(DomainError):  # e.g. the user left the chat meanwhile
            await self._relay_typing(chat_id, False)

    async def _relay_typing(self, chat_id: int, is_typing: bool) -> None:
        await db(services.typing_relay)(actor=self.user, chat_id=chat_id, is_typing=is_typing)

    async def on_chat_notify(self, payload: dict[str, Any]) -> None:
        """Answered by the chat.notify event, which reaches this connection like the user's others."""
        data = validate(schemas.NotifyEvent, payload)
        await db(services.chat_notify_set)(actor=self.user, **data)

    async def on_draft_update(self, payload: dict[str, Any]) -> None:
        """Answered by nothing on success: the user's other connections hear draft.updated."""
        data = validate(schemas.DraftEvent, payload)
        await db(drafts.draft_save)(actor=self.user, origin=self.connection_id, **data)

    async def on_presence(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.PresenceInput, payload)
        await db(account_services.presence_announce)(actor=self.user, **data)

    async def on_ping(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.PingInput, payload)
        await self.send(text_data=client_frame("pong", {"timestamp": data.get("timestamp", utc_now_iso())}))

    async def on_sync(self, payload: dict[str, Any]) -> None:
        """One page of the replay (at most SYNC_BATCH changes, one query); `has_more` asks the
        client to sync again from `last_seq`, the seq of the page's last change."""
        since = validate(schemas.SyncInput, payload)["since_seq"]
        origin = self.paging[1] if self.paging is not None and self.paging[0] == since else since
        self.deferred = []  # live message frames wait until the page is out
        sent_live = self.last_sent  # this connection's changes after live_from up to here are out
        try:
            page = await db(services.sync_page)(actor=self.user, after=since, since=origin)
            for name, data in page:
                if not self._was_sent(data["seq"], sent_live):
                    await self._deliver(name, data)
            has_more = len(page) == selectors.SYNC_BATCH
            last_seq = page[-1][1]["seq"] if has_more else max(self.last_sent, since)
            self.paging = (last_seq, origin) if has_more else None
            done = {"last_seq": last_seq, "has_more": has_more}
            await self.send(text_data=client_frame("sync.done", done))
        finally:
            await self._release()

    async def on_call_offer(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.CallOfferInput, payload)
        await db(call_services.call_offer)(actor=self.user, channel=self.connection_id, **data)

    async def on_call_answer(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.CallAnswerInput, payload)
        await db(call_services.call_answer)(actor=self.user, channel=self.connection_id, **data)

    async def on_call_ice(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.CallIceInput, payload)
        await db(call_services.call_ice)(actor=self.user, channel=self.connection_id, **data)

    async def on_call_end(self, payload: dict[str, Any]) -> None:
        data = validate(schemas.CallEndInput, payload)
        await db(call_services.call_end)(actor=self.user, channel=self.connection_id, **data)

    handlers: dict[str, Callable[["ClientConsumer", dict[str, Any]], Awaitable[None]]] = {
        "message.send": on_message_send,
        "message.edit": on_message_edit,
        "message.delete": on_message_delete,
        "message.read": on_message_read,
        "message.delivered": on_message_delivered,
        "message.reaction": on_message_reaction,
        "message.forward": on_message_forward,
        "message.pin": on_message_pin,
        "message.unpin": on_message_unpin,
        "typing": on_typing,
        "chat.notify": on_chat_notify,
        "draft.update": on_draft_update,
        "presence": on_presence,
        "ping": on_ping,
        "sync": on_sync,
        "call.offer": on_call_offer,
        "call.answer": on_call_answer,
        "call.ice": on_call_ice,
        "call.end": on_call_end,
    }

    # ---- events for this user ------------------------------------------------------------------

    async def hub_notify(self, name: str, data: dict[str, Any]) -> None:
        """An event other than a message change, from this process's hub."""
        if self.deferred is not None:
            self.deferred.append((name, data, None))
        else:
            await self._notify(name, data)

    async def _notify(self, name: str, data: dict[str, Any]) -> None:
        if name == "user.logged_out" and data.get("sid") == self.session.sid and self.session.sid:
            await self.end("logged_out", CLOSE_POLICY)
        elif name == "user.deactivated":
            await self.end("deactivated", CLOSE_POLICY)
        elif data.get("only_channels") is not None and self.connection_id not in data["only_channels"]:
            return  # signalling meant for another device of this user
        elif data.get("origin") == self.connection_id:
            return  # this connection caused it and needs no echo (e.g. its own read receipt)
        else:
            rendered = render_for(name, data, self.user.pk)
            if rendered is not None:
                await self.send(text_data=client_frame(*rendered))

    async def _deliver(self, name: str, data: dict[str, Any]) -> None:
        event_type, payload = render_for(name, data, self.user.pk)
        self._sent_upto(max(self.last_sent, data["seq"]))
        await self.send(text_data=client_frame(event_type, payload, seq=data["seq"]))

    async def hub_deliver(self, name: str, data: dict[str, Any], frames: dict[Any, Any]) -> None:
        """A message event from this process's hub, which hands them out in seq order. This runs
        once per recipient of every message (a thousand times for a group's), so the frame is
        chosen here without a coroutine of its own (docs/performance.md, step 32)."""
        if self.deferred is not None:
            self.deferred.append((name, data, frames))
            return
        frame = self._seq_frame(name, data, frames)
        if frame is not None:
            await self.send_shared(frame)

    def _was_sent(self, seq: int, sent_live: int) -> bool:
        """Whether this connection has already sent the change: every one after live_from up to
        sent_live went out live, and a retried send's answer may have gone out below it."""
        return self.live_from < seq <= sent_live or (
            self.answered_again is not None and seq in self.answered_again
        )

    def _sent_upto(self, seq: int) -> None:
        self.last_sent = seq
        if self.ack_arrived is not None and seq >= self.ack_due and not self.ack_arrived.done():
            self.ack_arrived.set_result(None)  # a stopping connection may close now (drain)

    def _seq_frame(self, name: str, data: dict[str, Any], frames: dict[Any, Any]) -> SharedFrame | None:
        """The frame of one message event, or None if it was already sent (by a sync). Each
        rendering is encoded once and shared through `frames` by every local viewer who sees it
        alike."""
        seq = data["seq"]
        if seq <= self.last_sent or self.paging is not None:
            return None
        self._sent_upto(seq)
        message = data.get("message") or {}
        titles = (data.get("chat") or {}).get("titles") or {}
        viewer = self.viewer
        variant = (name, message.get("sender_id") == viewer, titles.get(self.viewer_key))
        frame = frames.get(variant)
        if frame is None:
            event_type, payload = render_for(name, data, viewer)
            frame = frames[variant] = SharedFrame(client_frame(event_type, payload, seq=seq))
        return frame

    async def _release(self) -> None:
        """Send the frames held back meanwhile, in order, then stop holding them."""
        while self.deferred:
            held, self.deferred = self.deferred, []
            for name, data, frames in held:
                if frames is None:
                    await self._notify(name, data)
                elif (frame := self._seq_frame(name, data, frames)) is not None:
                    await self.send_shared(frame)
        self.deferred = None
