"""What a twisted transport under daphne holds unsent, and reading a paused socket again: the
measures behind the slow-consumer cap and the reading pause (imsuite.ws, imsuite.daphne_tuning).
Kept apart from daphne_tuning, which patches libraries at startup, so the consumers' base can use
them without importing the patches."""

from typing import Any


def unsent_bytes(transport: Any) -> int:
    """What a twisted TCP transport holds for its socket and has not sent: the slice of
    `dataBuffer` it is sending plus the writes queued behind it. 0 for a transport without these
    buffers (TLS), which then has no cap."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:
        return 0


def drop_unsent(transport: Any) -> None:
    """Forget the frames queued behind the first waiting write. Each write is one whole frame
    (autobahn hands a frame to the transport in one piece), so what follows the first starts on a
    frame boundary and the stream stays valid; the first may be the rest of a frame already begun
    (write_now), so it stays, as does the slice twisted is sending."""
    waiting = getattr(transport, "_tempDataBuffer", None)
    if waiting:
        del waiting[1:]
        transport._tempDataLen = len(waiting[0])


def resume_reading(protocol: Any) -> None:
    """Read a paused socket again once the application has taken half of the frames that waited."""
    if protocol.reading_paused and protocol.application_queue.qsize() <= protocol.max_unread // 2:
        protocol.reading_paused = False
        protocol.transport.resumeProducing()
