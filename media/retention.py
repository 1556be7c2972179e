"""Media retention: the rules that remove stored files, run by the timers process (`runtimers`).

- an upload no message took (or whose message is gone) is removed UPLOAD_UNATTACHED_SECONDS after
  it was made;
- a recalled message's files are removed MEDIA_DELETED_GRACE_SECONDS after the recall (a
  moderator's recall removes them at once: chats.services.message_delete);
- with MEDIA_RETENTION_DAYS set, the files of messages older than that are removed; the message
  keeps its text and its `attachments` list drops them (no new seq: docs/architecture.md).

A deactivated account's uploads follow the same rules. Work is done in batches of at most `batch`
rows per rule and round, each batch its own short statements, so a large backlog is never one long
transaction and never holds up the mutes and calls the same process ends. A file the storage fails
to remove keeps its row, is logged (media.services), and is tried again next round.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import Attachment
from .services import files_remove

logger = logging.getLogger(__name__)


def unattached(now: datetime) -> Q:
    """Uploads without a message, old enough: never sent, or their message no longer exists."""
    cutoff = now - timedelta(seconds=settings.IMSUITE["UPLOAD_UNATTACHED_SECONDS"])
    return Q(message__isnull=True, created_at__lt=cutoff)


def recalled(now: datetime) -> Q:
    """Files of messages recalled longer ago than the grace period."""
    cutoff = now - timedelta(seconds=settings.IMSUITE["MEDIA_DELETED_GRACE_SECONDS"])
    return Q(message__deleted_at__lte=cutoff)


def expired(now: datetime) -> Q | None:
    """Files of messages older than MEDIA_RETENTION_DAYS; None when media is kept for ever."""
    days = settings.IMSUITE["MEDIA_RETENTION_DAYS"]
    if not days:
        return None
    return Q(message__created_at__lt=now - timedelta(days=days))


RULES: dict[str, Callable[[datetime], Q | None]] = {
    "never attached": unattached,
    "of recalled messages": recalled,
    "past MEDIA_RETENTION_DAYS": expired,
}


@dataclass
class Retention:
    """The retention schedule of one process: a round at most every `interval` seconds, or at
    the next tick while a rule still has a full batch behind it. Each rule walks its rows in id
    order from a cursor, so rows whose files failed are passed over until the rule reaches its end
    and starts again from the beginning next round."""

    batch: int = 500
    interval: float = 60.0
    clock: Callable[[], float] = time.monotonic
    next_at: float = float("-inf")
    cursors: dict[str, int] = field(default_factory=dict)

    def run_if_due(self) -> int:
        """A round if one is due; returns how many attachments it removed."""
        now = self.clock()
        if now < self.next_at:
            return 0
        self.next_at = now + self.interval  # a round that fails waits the interval too
        removed, more = self.round(timezone.now())
        if more:
            self.next_at = now
        return removed

    def round(self, now: datetime) -> tuple[int, bool]:
        """One batch per rule; returns how many were removed and whether a rule has more."""
        counts: dict[str, int] = {}
        total_bytes = failed = 0
        more = False
        for name, rule in RULES.items():
            where = rule(now)
            if where is None:
                continue
            after = self.cursors.get(name, 0)
            rows = list(Attachment.objects.filter(where, pk__gt=after).order_by("pk")[: self.batch])
            full = len(rows) == self.batch
            self.cursors[name] = rows[-1].pk if full else 0
            more = more or full
            removed = files_remove(rows) if rows else []
            counts[name] = len(removed)
            total_bytes += sum(a.size for a in removed)
            failed += len(rows) - len(removed)
        if sum(counts.values()) or failed:
            logger.log(
                logging.WARNING if failed else logging.INFO,
                "media retention: removed %s: %d bytes%s",
                ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing",
                total_bytes,
                f"; {failed} could not be removed (tried again next round)" if failed else "",
            )
        return sum(counts.values()), more
