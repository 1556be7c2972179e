"""What the realtime core (hub, watchdog) needs from the apps, handed to it at startup.

The core must not import the apps (the import contracts in .importlinter, docs/architecture.md):
each app's AppConfig.ready registers its callables here, and the core calls them through `hooks`.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# (event name, event data, audience) of one message change, as the hub hands it out.
Change = tuple[str, dict[str, Any], list[int]]


def _unregistered(name: str) -> Callable[..., Any]:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise ImproperlyConfigured(f"no installed app has registered imsuite.app_hooks.hooks.{name}")

    return missing


def _as_they_are(events: Sequence[Any]) -> Sequence[Any]:
    return events


def _none_stored() -> int:
    return 0


class AppHooks:
    """One attribute per need; an app's AppConfig.ready assigns it."""

    def __init__(self) -> None:
        # The highest seq handed out so far (chats).
        self.current_seq: Callable[[], int] = _unregistered("current_seq")
        # Raise a counter left below the highest stored seq (a restore, a lagging failover) (chats).
        self.seq_counter_repair: Callable[[], Any] = _unregistered("seq_counter_repair")
        # Every message change with after < seq <= upto, in seq order (chats).
        self.changes_in_range: Callable[[int, int], list[Change]] = _unregistered("changes_in_range")
        # connections_renewed(leases=[(user id, connection id), ...]): renew live leases (accounts).
        self.connections_renewed: Callable[..., None] = _unregistered("connections_renewed")
        # rights_lost([(user id, sid, bot token hash), ...]): why each open connection may no longer
        # stay open, or None, from the database (accounts; the watchdog's periodic check).
        self.rights_lost: Callable[[Any], list[str | None]] = _unregistered("rights_lost")
        # events_committed(events) -> the events to deliver: called with every batch of events
        # once committed, before delivery; an app may keep some and change what is delivered
        # (bots.stream keeps what bots hear, with a seq). Nothing registered: delivered as they are.
        self.events_committed: Callable[[Sequence[Any]], Sequence[Any]] = _as_they_are
        # The highest seq stored outside the messages (bots.stream's kept events), which the seq
        # counter's repair must not hand out again (chats.seq_counter). Nothing registered: 0.
        self.highest_other_seq: Callable[[], int] = _none_stored


hooks = AppHooks()
