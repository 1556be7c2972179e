"""The garbage collector of a daphne process, set once the application is loaded (imsuite.asgi).

A process holding tens of thousands of connections keeps millions of container objects; CPython's
collector walks all that survived on every full pass, pausing the whole process (434 ms with
10,000 connections, docs/performance.md). So:

- what is loaded by startup (Django, the apps, the URLconf: several hundred thousand objects) is
  frozen, left out of every pass;
- young passes come every YOUNG_THRESHOLD allocations instead of 700, and a full pass only after
  FULL_AFTER middle ones instead of 10 (CPython also waits until the survivors grew by a quarter):
  fewer passes over the connections' objects, each young one still over a few thousand objects.

With IMSUITE_GC_STATS set to a file name, every pass is timed (gc.callbacks) and SIGUSR2 writes
the pauses since the last signal to that file as JSON (`make bench` reads them); off otherwise.
"""

import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 10
FULL_AFTER = 100


def settle() -> None:
    """Collect and freeze what startup made, set the thresholds, and time passes if asked to."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_AFTER)
    path = os.environ.get("IMSUITE_GC_STATS")
    if path:
        PauseProbe(Path(path)).install()


class PauseProbe:
    """The length of every collector pass, written out and started over on SIGUSR2."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pauses: list[tuple[int, float]] = []  # (generation, ms)
        self.started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self.on_pass)
        signal.signal(signal.SIGUSR2, lambda _signum, _frame: self.write())

    def on_pass(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self.started) * 1000))

    def write(self) -> None:
        pauses, self.pauses = self.pauses, []
        ordered = sorted(ms for _, ms in pauses)
        summary = {
            "passes": len(ordered),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else 0.0,
            "max_ms": round(ordered[-1], 1) if ordered else 0.0,
            "full_passes_ms": [round(ms, 1) for generation, ms in pauses if generation == 2],
            "tracked_objects": len(gc.get_objects()),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary))
        tmp.replace(self.path)
