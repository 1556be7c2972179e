"""What every bot dialect is (bots.dialects): a Call, and the Dialect whose forms are the sandbox
document's; the other dialects override what differs."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imsuite.errors import DomainError

if TYPE_CHECKING:
    from accounts.models import User


@dataclass
class Call:
    """One action: its name in bots.actions, its parameters as the sandbox names them, the peer's
    echo, and the action's name as the peer wrote it (some dialects name their answers after it).
    `prepare`, when given, turns the peer's params into the action's before they are validated: it
    runs where the database may be read (an `at` segment names a user by id; the text needs the
    username) and may refuse them with a DomainError, answered like any other."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    echo: Any = None
    name: str = ""
    prepare: "Callable[[User, dict[str, Any]], dict[str, Any]] | None" = None


class Dialect:
    """The sandbox document's forms; other dialects override what differs."""

    name = "sandbox"
    heartbeat_seconds: float | None = None  # a dialect with heartbeats sends `heartbeat()` this often

    def event(self, name: str, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        """A domain event as this dialect's event frame for the bot, or None (nothing to send)."""
        from bots.events import render_for_bot

        return render_for_bot(name, data, bot_id)

    def event_names(self) -> frozenset[str]:
        """The domain events `event` may render (bots.stream keeps those for a bot's replay)."""
        from bots.events import RENDERERS

        return frozenset(RENDERERS)

    def stamp(self, frame: dict[str, Any], cursor: int) -> dict[str, Any]:
        """An event frame with its place in the bot's stream, which `?since=` resumes after."""
        frame["cursor"] = cursor
        return frame

    def missed(self, bot_id: int, since: int, oldest: int) -> dict[str, Any] | None:
        """The notice that events after `since` are no longer kept: the replay starts at `oldest`."""
        return {"event": "on_events_missed", "time": int(time.time()), "since": since, "oldest": oldest}

    def parse(self, frame: dict[str, Any]) -> Call | None:
        """The action a frame asks for, or None when it is no action (a notice, a response, ...)."""
        action = frame.get("action")
        if not isinstance(action, str):
            return None
        params = frame["params"] if isinstance(frame.get("params"), dict) else None
        if params is None:
            params = {k: v for k, v in frame.items() if k not in ("action", "echo", "params")}
        return Call(action, params, frame.get("echo"), action)

    def answer(
        self, call: Call | None, data: Any = None, error: DomainError | None = None
    ) -> dict[str, Any] | list[Any] | None:
        """The one answer to an action (to a frame that failed before it was known, call is None),
        or None where the dialect has no answer for it (kotori's actions that return nothing, and
        its failures: bots.protocol logs what is not sent)."""
        from bots.protocol import response_object

        return response_object(data, call.echo if call else None, error)

    def opening(self, bot: "User") -> list[dict[str, Any]]:
        """Frames sent first on every new connection (none in the sandbox document)."""
        return []

    def heartbeat(self, bot: "User") -> dict[str, Any] | None:
        return None

    def reverse_headers(self, bot: "User", access_token: str) -> dict[str, str]:
        """The headers of a reverse connection's handshake."""
        headers = {"X-Self-ID": str(bot.pk)}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        return headers
