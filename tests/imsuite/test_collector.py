"""imsuite.collector: the thresholds a daphne process runs with, and the pause probe `make bench`
reads (off unless IMSUITE_GC_STATS names a file)."""

import gc
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import imsuite.asgi  # noqa: F401  (settles the collector, as at startup)
from imsuite.collector import FULL_AFTER, MIDDLE_THRESHOLD, YOUNG_THRESHOLD, PauseProbe


def test_the_process_runs_with_the_collectors_thresholds():
    assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_AFTER)
    assert gc.get_freeze_count() > 0  # what startup loaded is out of every pass


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[PauseProbe]:
    """A probe installed with the collector's automatic passes off, so that only the test's count."""
    before = signal.getsignal(signal.SIGUSR2)
    installed = PauseProbe(tmp_path / "gc.json")
    gc.disable()
    installed.install()
    try:
        yield installed
    finally:
        gc.callbacks.remove(installed.on_pass)
        signal.signal(signal.SIGUSR2, before)
        gc.enable()


def test_sigusr2_writes_the_passes_since_the_last_signal(probe: PauseProbe):
    gc.collect()
    gc.collect(0)
    os.kill(os.getpid(), signal.SIGUSR2)  # Python runs the handler before the next bytecode
    first = json.loads(probe.path.read_text())
    os.kill(os.getpid(), signal.SIGUSR2)
    second = json.loads(probe.path.read_text())

    assert first["passes"] == 2
    assert len(first["full_passes_ms"]) == 1
    assert 0 <= first["p99_ms"] <= first["max_ms"]
    assert first["tracked_objects"] > 0
    assert second["passes"] == 0
    assert (second["p99_ms"], second["max_ms"], second["full_passes_ms"]) == (0.0, 0.0, [])
