"""One bot connection's side of the bot protocol, in its dialect (bots.dialects), shared by the
forward consumer (/ws/bot) and the reverse bridge (runbots): decode an action frame, carry it out
as the bot, answer with exactly one response frame; render domain events as the dialect's events.
A frame that is no action is never answered: it is logged, kept for the operator, and a peer that
keeps sending such frames is slowed down, then disconnected (Peer)."""

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from accounts.models import User
from imsuite import safe_json
from imsuite.errors import DomainError, ErrorCode
from imsuite.events import BOT_EVENT
from imsuite.validation import validate
from imsuite.ws import db, dumps

from . import stream
from .actions import ACTIONS
from .dialects import Call, Dialect

logger = logging.getLogger(__name__)

RETCODES = {
    ErrorCode.VALIDATION_ERROR: 1400,
    ErrorCode.PAYLOAD_TOO_LARGE: 1400,
    ErrorCode.AUTHENTICATION_FAILED: 1401,
    ErrorCode.PERMISSION_DENIED: 1403,
    ErrorCode.NOT_FOUND: 1404,
    ErrorCode.CONFLICT: 1409,
    ErrorCode.RATE_LIMITED: 1429,
    ErrorCode.INTERNAL_ERROR: 1500,
    ErrorCode.SERVICE_UNAVAILABLE: 1503,
}
# Events that end a bot's connection instead of being rendered.
CLOSING_EVENTS = frozenset({"user.deactivated", "bot.token_revoked"})
CLOSE_POLICY = 1008
# Unusable frames a peer may send within the window before it is slowed down, and before it is closed.
UNUSABLE_FREE = settings.IMSUITE["BOT_UNUSABLE_FRAMES_FREE"]
UNUSABLE_LIMIT = settings.IMSUITE["BOT_UNUSABLE_FRAMES_LIMIT"]
UNUSABLE_WINDOW_SECONDS = 60.0
UNUSABLE_DELAY_SECONDS = 0.5
NOTE_SECONDS = 5.0  # the operator's note of what the peer sent is written at most this often
FRAME_SHOWN = 300  # characters of an unusable frame kept in the log and the note


def response_object(data: Any = None, echo: Any = None, error: DomainError | None = None) -> dict[str, Any]:
    """The one answer to an action: {"status", "retcode", "data", "message", "echo"}."""
    if error is None:
        return {"status": "ok", "retcode": 0, "data": data, "message": "", "echo": echo}
    message = error.message
    if "field" in error.details:
        message += f" ({error.details['field']}: {error.details.get('reason', 'invalid')})"
    elif "reason" in error.details:
        message += f" ({error.details['reason']})"
    failed = {"status": "failed", "retcode": RETCODES.get(error.code, 1400), "data": None, "message": message}
    return failed | {"echo": echo}


def response(data: Any = None, echo: Any = None, error: DomainError | None = None) -> str:
    return dumps(response_object(data, echo, error))


class PeerUnusable(Exception):
    """The peer sent more frames IM-Suite cannot use than UNUSABLE_LIMIT allows: close it."""

    code, reason = CLOSE_POLICY, "too_many_unusable_frames"


class Peer:
    """One bot connection, forward or reverse: the bot, its dialect, where it is (for the log and
    the operator), and a tally of the frames it sent that IM-Suite cannot use (not JSON, no action,
    an unknown action). Such frames are never answered; past UNUSABLE_FREE of them within
    UNUSABLE_WINDOW_SECONDS each one waits UNUSABLE_DELAY_SECONDS before the next frame is read,
    and past UNUSABLE_LIMIT the connection is closed (PeerUnusable)."""

    def __init__(
        self,
        bot: User,
        dialect: Dialect,
        where: str,
        complained: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.bot, self.dialect, self.where = bot, dialect, where
        self._complained = complained
        self._strikes: deque[float] = deque()
        self._noted_at = -math.inf

    async def unusable(self, what: str, frame: str | None) -> None:
        """Log what the peer sent (what it complains about, if that is what it is), keep it for the
        operator (at most every NOTE_SECONDS), and slow the peer down or end it past the limits."""
        shown = (frame or "")[:FRAME_SHOWN]
        logger.warning(
            "bot %s (%s, %s): %s, not answered: %s", self.bot.pk, self.where, self.dialect.name, what, shown
        )
        now = time.monotonic()
        if self._complained is not None and now - self._noted_at >= NOTE_SECONDS:
            self._noted_at = now
            await self._complained(f"{what}: {shown}")
        self._strikes.append(now)
        while self._strikes and self._strikes[0] < now - UNUSABLE_WINDOW_SECONDS:
            self._strikes.popleft()
        if len(self._strikes) > UNUSABLE_LIMIT:
            logger.warning(
                "bot %s (%s): closed after %d unusable frames", self.bot.pk, self.where, UNUSABLE_LIMIT
            )
            raise PeerUnusable
        if len(self._strikes) > UNUSABLE_FREE:
            await asyncio.sleep(UNUSABLE_DELAY_SECONDS)


def decode(text: str | None) -> dict[str, Any]:
    """The frame as a JSON object, or VALIDATION_ERROR (PAYLOAD_TOO_LARGE: bad request too)."""
    if text is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Frames are JSON text.", {"reason": "binary"})
    frame = safe_json.loads(text, settings.IMSUITE["WS_MAX_FRAME_BYTES"], "frame")
    if not isinstance(frame, dict):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A frame is a JSON object.", {"reason": "not_object"})
    return frame


def _run(bot: User, call: Call) -> Any:
    entry = ACTIONS.get(call.action)
    if entry is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown action {call.name or call.action!r}.",
            {"field": "action", "reason": "unknown_action"},
        )
    schema, handler = entry
    params = call.prepare(bot, call.params) if call.prepare else call.params
    return handler(bot, validate(schema, params))


async def handle_frame(peer: Peer, text: str | None) -> str | None:
    """Carry out one action frame as the bot and return its one answer; None (nothing is sent)
    for a frame that is no action, or an action the dialect answers with nothing. Raises only
    PeerUnusable."""
    try:
        frame = decode(text)
    except DomainError as exc:
        await peer.unusable(f"a frame that is no JSON object ({exc.details.get('reason', 'invalid')})", text)
        return None
    call = peer.dialect.parse(frame)
    if call is None:
        await peer.unusable("a frame that is no action", text)
        return None
    try:
        data = await db(_run)(peer.bot, call)
        return _answer(peer, call, data)
    except DomainError as exc:
        if exc.details.get("reason") == "unknown_action":
            await peer.unusable(f"an unknown action {call.name!r}", text)
        return _answer(peer, call, error=exc)
    except Exception:
        logger.exception("bot %s: action failed", peer.bot.pk)
        return _answer(peer, call, error=DomainError(ErrorCode.INTERNAL_ERROR, "Internal server error."))


def _answer(peer: Peer, call: Call, data: Any = None, error: DomainError | None = None) -> str | None:
    """The dialect's answer, encoded; a failure the dialect has no answer for is logged instead."""
    answer = peer.dialect.answer(call, data, error)
    if answer is None and error is not None:
        logger.warning(
            "bot %s (%s, %s): %r failed, not answered (the dialect has no form for it): %s",
            peer.bot.pk,
            peer.where,
            peer.dialect.name,
            call.name,
            response_object(error=error)["message"],
        )
    return dumps(answer) if answer is not None else None


def render_event(peer: Peer, name: str, data: dict[str, Any], cursor: int | None = None) -> str | None:
    """A domain event as this bot's event frame in its dialect (stamped with its cursor, if it has
    one: bots.stream), or None."""
    event = peer.dialect.event(name, data, peer.bot.pk)
    if event is None:
        return None
    return dumps(event if cursor is None else peer.dialect.stamp(event, cursor))


def render_shared(peer: Peer, name: str, data: dict[str, Any], frames: dict[Any, str]) -> str | None:
    """render_event for a message change: encoded once per bot and dialect (a bot's frame names the
    bot: `atMe`, OneBot's `self_id`; the sender sees nothing of its own message), shared by its
    connections; its seq is its cursor."""
    key = ("bot", peer.dialect.name, name, peer.bot.pk)
    if key not in frames:
        frames[key] = render_event(peer, name, data, data["seq"]) or ""
    return frames[key] or None


def render_delivered(peer: Peer, name: str, data: dict[str, Any], frames: dict[Any, str]) -> str | None:
    """An event the hub hands out in seq order: a message change, or an event kept for bots
    (`bot.event`, rendered for this bot alone: requests and the like depend on who reads them)."""
    if name == BOT_EVENT:
        return render_event(peer, data["name"], data["data"], data["seq"])
    return render_shared(peer, name, data, frames)


async def heartbeats(peer: Peer, put: Callable[[str | None], Awaitable[None]]) -> None:
    """The dialect's heartbeat every heartbeat_seconds, until cancelled (with the connection)."""
    while True:
        await asyncio.sleep(peer.dialect.heartbeat_seconds or math.inf)
        frame = peer.dialect.heartbeat(peer.bot)
        await put(dumps(frame) if frame is not None else None)


class EventOutbox:
    """A bot connection's Event frames (forward or reverse): sent at once, except while the
    response to an action, the handshake or a replay is under way; then they are held and follow
    it. `cursor` is the bot's place in its stream: a frame at or below it is not sent again (a
    replay already sent it), so frames leave in strictly increasing cursor order."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self._held: list[tuple[str, int | None]] | None = None
        self.cursor: int | None = None

    def hold(self) -> None:
        self._held = []

    async def put(self, frame: str | None, cursor: int | None = None) -> None:
        if frame is None:
            return
        if self._held is not None:
            self._held.append((frame, cursor))
        else:
            await self.send_now(frame, cursor)

    async def send_now(self, frame: str | None, cursor: int | None = None) -> None:
        """Send a frame past what is held (the opening frames, a replay), unless already sent."""
        if frame is None or (cursor is not None and self.cursor is not None and cursor <= self.cursor):
            return
        if cursor is not None:
            self.cursor = cursor
        await self._send(frame)

    async def release(self) -> None:
        """Send what was held, in order, and stop holding."""
        held, self._held = self._held or [], None
        for frame, cursor in held:
            await self.send_now(frame, cursor)


def parse_since(text: str | None) -> int | None:
    """`?since=<cursor>`: None when absent, else a cursor (an integer >= 0) or VALIDATION_ERROR."""
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "since is a cursor: the `cursor` of the last event received.",
            {"field": "since", "reason": "invalid_cursor"},
        )
    return int(text)


async def replay(peer: Peer, outbox: EventOutbox, since: int | None) -> int:
    """Before the live events (held by the outbox meanwhile, the hub's sink attached before this is
    called): what the bot missed after `since`, in order, page by page (bots.stream); beyond the
    retention window, the dialect's notice first. Every seq up to the counter read first has
    committed, so the replay holds all of them; the outbox's cursor then drops the held live events
    it sent. Without `since` (a new subscriber) nothing is replayed and every live event goes.
    Returns the counter read: where the stream stood."""
    upto, oldest = await db(stream.stream_start)()
    if since is None:
        return upto
    if since < oldest or since > upto:  # gone, or from another (restored) database
        notice = peer.dialect.missed(peer.bot.pk, since, oldest)
        await outbox.send_now(dumps(notice) if notice is not None else None)
        since = oldest if since < oldest else upto
    after = since
    while after < upto:
        page, after = await db(stream.replay_page)(peer.bot.pk, since, after, upto)
        for name, data, cursor in page:
            await outbox.send_now(render_event(peer, name, data, cursor), cursor)
    outbox.cursor = max(outbox.cursor or 0, upto)
    return upto
