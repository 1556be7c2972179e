"""Client connections of one event loop opened and closed in batches (imsuite.batches): a storm of
reconnections (a restarted process's clients, a network coming back) or of closes (a process
stopping) shares its database and Redis work. A batch of openings is one statement for the users'
rows with each one's last seq and waiting call, one cache read for the sessions, one presence
round trip, and one transaction for the online stamps and announcements; a batch of closes is one
presence round trip and one transaction for the offline ones. Alone, a connection costs what it
did before."""

from accounts import services as account_services
from accounts.models import User
from accounts.sessions import AccessClaims, Session, open_sessions
from calls import services as call_services
from imsuite.batches import BatchQueue
from imsuite.errors import DomainError
from imsuite.per_loop import PerLoop

from . import selectors

MAX_BATCH = 256
Opening = tuple[AccessClaims, str]  # checked claims, the connection's id
Opened = tuple[Session, int]  # the session, the last seq the user can see
Closing = tuple[User, str]  # the user, the connection's id
_EXTRAS = (selectors.LAST_SEQ_OF_U, call_services.PARTY_WAITING_OF_U)


def open_connections(openings: list[Opening]) -> list[Opened | DomainError]:
    """Each connection's session and last seq, or the refusal of its claims (user_inactive,
    session_revoked); the leases and online announcements of those opened."""
    sessions = open_sessions([claims for claims, _ in openings], _EXTRAS)
    account_services.connections_opened(
        [
            (opened[0].user, connection, bool(opened[1][1]))
            for (_, connection), opened in zip(openings, sessions, strict=True)
            if not isinstance(opened, DomainError)
        ]
    )
    return [
        opened if isinstance(opened, DomainError) else (opened[0], opened[1][0] or 0) for opened in sessions
    ]


def close_connections(closings: list[Closing]) -> list[None]:
    """The leases dropped, and the users whose last connection closed announced offline."""
    account_services.connections_closed(closings)
    return [None] * len(closings)


_openings: PerLoop[BatchQueue[Opening, Opened]] = PerLoop(
    lambda _loop: BatchQueue(open_connections, MAX_BATCH)
)
# Closes go to the database even right after an outage (no fail-fast): the leases go in Redis
# first, and only the offline announcements are lost with the database away.
_closings: PerLoop[BatchQueue[Closing, None]] = PerLoop(
    lambda _loop: BatchQueue(close_connections, MAX_BATCH, fail_fast=False)
)


def get_opening_queue() -> BatchQueue[Opening, Opened]:
    """This event loop's queue of connections being set up."""
    return _openings.get()


def get_closing_queue() -> BatchQueue[Closing, None]:
    """This event loop's queue of connections being cleaned up after."""
    return _closings.get()
