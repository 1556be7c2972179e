from collections.abc import Iterator
from typing import Any

import pytest

from .pages_server import PageServer, page_server


@pytest.fixture
def pages(settings: Any, media_root: Any) -> Iterator[PageServer]:
    """The page server, loopback allowed as the test suites allow it, thumbnails in a temp dir."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    with page_server() as server:
        yield server
