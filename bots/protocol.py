"""One bot connection's side of the sandbox protocol, shared by the forward consumer (/ws/bot) and
the reverse bridge (runbots): decode an Action frame, carry it out as the bot, answer with exactly
one response frame; render domain events as Events."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from accounts.models import User
from imsuite import safe_json
from imsuite.errors import DomainError, ErrorCode
from imsuite.validation import validate
from imsuite.ws import db, dumps

from .actions import ACTIONS
from .events import render_for_bot

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


def response(data: Any = None, echo: Any = None, error: DomainError | None = None) -> str:
    """The one answer to an action: {"status", "retcode", "data", "message", "echo"}."""
    if error is None:
        return dumps({"status": "ok", "retcode": 0, "data": data, "message": "", "echo": echo})
    message = error.message
    if "field" in error.details:
        message += f" ({error.details['field']}: {error.details.get('reason', 'invalid')})"
    elif "reason" in error.details:
        message += f" ({error.details['reason']})"
    failed = {"status": "failed", "retcode": RETCODES.get(error.code, 1400), "data": None, "message": message}
    return dumps(failed | {"echo": echo})


def decode(text: str | None) -> dict[str, Any]:
    """The frame as a JSON object, or VALIDATION_ERROR (PAYLOAD_TOO_LARGE: bad request too)."""
    if text is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "Frames are JSON text.", {"reason": "binary"})
    frame = safe_json.loads(text, settings.IMSUITE["WS_MAX_FRAME_BYTES"], "frame")
    if not isinstance(frame, dict):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "A frame is a JSON object.", {"reason": "not_object"})
    return frame


def split(frame: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(action, params) from a flat frame as in the document, or OneBot v11's nested
    {action, params, echo}."""
    action = frame.get("action")
    if not isinstance(action, str):
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "action is required.", {"field": "action", "reason": "required"}
        )
    if isinstance(frame.get("params"), dict):
        return action, frame["params"]
    return action, {k: v for k, v in frame.items() if k not in ("action", "echo", "params")}


def _run(bot: User, action: str, params: dict[str, Any]) -> Any:
    entry = ACTIONS.get(action)
    if entry is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"Unknown action {action!r}.",
            {"field": "action", "reason": "unknown_action"},
        )
    schema, handler = entry
    return handler(bot, validate(schema, params))


async def handle_frame(bot: User, text: str | None) -> str:
    """Carry out one action frame as the bot; never raises, always one response."""
    echo = None
    try:
        frame = decode(text)
        echo = frame.get("echo")
        action, params = split(frame)
        data = await db(_run)(bot, action, params)
        return response(data, echo)
    except DomainError as exc:
        return response(echo=echo, error=exc)
    except Exception:
        logger.exception("bot %s: action failed", bot.pk)
        return response(echo=echo, error=DomainError(ErrorCode.INTERNAL_ERROR, "Internal server error."))


def render_event(name: str, data: dict[str, Any], bot_id: int) -> str | None:
    """A domain event as this bot's Event frame, or None."""
    event = render_for_bot(name, data, bot_id)
    return dumps(event) if event is not None else None


def render_shared(name: str, data: dict[str, Any], bot_id: int, frames: dict[Any, str]) -> str | None:
    """render_event for a hub event: encoded once for every bot that sees it alike (the sender
    sees nothing of its own message)."""
    own = (data.get("message") or {}).get("sender_id") == bot_id
    key = ("bot", name, own)
    if key not in frames:
        frames[key] = render_event(name, data, bot_id) or ""
    return frames[key] or None


class EventOutbox:
    """A bot connection's Event frames (forward or reverse): sent at once, except while the
    response to an action or the handshake is under way; then they are held and follow it."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self._held: list[str] | None = None

    def hold(self) -> None:
        self._held = []

    async def put(self, frame: str | None) -> None:
        if frame is None:
            return
        if self._held is not None:
            self._held.append(frame)
        else:
            await self._send(frame)

    async def release(self) -> None:
        """Send what was held, in order, and stop holding."""
        held, self._held = self._held or [], None
        for frame in held:
            await self._send(frame)
