"""imsuite.collector: the thresholds a daphne process runs with, the freezing of what full passes
leave, and the pause probe `make bench` reads (off unless IMSUITE_GC_STATS names a file)."""

import gc
import json
import os
import signal
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

import imsuite.asgi  # noqa: F401  (settles the collector, as at startup)
from imsuite.collector import FULL_AFTER, MIDDLE_THRESHOLD, YOUNG_THRESHOLD, PauseProbe, freeze_survivors


def test_the_process_runs_with_the_collectors_thresholds():
    assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_AFTER)
    assert gc.get_freeze_count() > 0  # what startup loaded is out of every pass
    assert freeze_survivors in gc.callbacks


class Thing:
    """A tracked object that a weak reference can follow."""

    itself: "Thing"


def in_a_generation(thing: object) -> bool:
    """Whether a pass of the collector would walk `thing` (a frozen object is in none)."""
    return any(tracked is thing for tracked in gc.get_objects())


def test_a_full_pass_collects_the_garbage_and_freezes_what_is_left(collector_off: None):
    kept, cycle = Thing(), Thing()
    cycle.itself = cycle
    cycle_gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert cycle_gone() is None  # collected by the pass, not frozen
    assert not in_a_generation(kept)  # frozen: no later pass walks it


def test_young_and_middle_passes_freeze_nothing(collector_off: None):
    thing = Thing()
    frozen = gc.get_freeze_count()
    gc.collect(0)
    gc.collect(1)
    assert gc.get_freeze_count() == frozen
    assert in_a_generation(thing)  # promoted to the old generation, where the next full pass finds it


def test_a_frozen_object_is_still_freed_by_reference_counting(collector_off: None):
    thing = Thing()
    gc.collect()
    frozen = gc.get_freeze_count()
    gone = weakref.ref(thing)
    del thing
    assert gone() is None
    assert gc.get_freeze_count() == frozen - 1


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
