"""Fixtures of the collector's tests (imsuite.collector, tests/imsuite/test_connection_cycles.py)."""

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def collector_off() -> Iterator[None]:
    """No automatic pass of the collector during the test: only its own gc.collect() calls run
    (and, through imsuite.collector, freeze what they leave)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
