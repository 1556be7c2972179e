"""imsuite.daphne_tuning.refuse_bad_frames_with_a_close on daphne's own factory: whatever sizes
daphne's command line asks for, a frame is capped at WS_MAX_FRAME_BYTES, and a refused frame closes
with its code instead of dropping the connection (the close codes themselves: tests/e2e)."""

from daphne.ws_protocol import WebSocketFactory
from django.conf import settings

import imsuite.asgi  # noqa: F401  (tunes daphne and autobahn, as at startup)

LIMIT = settings.IMSUITE["WS_MAX_FRAME_BYTES"]


def options(**sizes: int) -> tuple[bool, int, int]:
    factory = WebSocketFactory(None, server="Daphne")
    factory.setProtocolOptions(autoPingTimeout=30, **sizes)  # as daphne's Server.run does
    return factory.failByDrop, factory.maxFramePayloadSize, factory.maxMessagePayloadSize


def test_daphne_sizes_are_capped_and_bad_frames_close() -> None:
    assert options(maxFramePayloadSize=2**20, maxMessagePayloadSize=2**20) == (False, LIMIT, LIMIT)
    assert options(maxFramePayloadSize=0, maxMessagePayloadSize=0) == (False, LIMIT, LIMIT)  # 0: unlimited
    assert options(maxFramePayloadSize=1000, maxMessagePayloadSize=LIMIT - 1) == (False, 1000, LIMIT - 1)
