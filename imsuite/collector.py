"""The garbage collector of a daphne process, set once the application is loaded (imsuite.asgi).

A process holding tens of thousands of connections keeps millions of container objects; CPython's
collector walks all that survived on every full pass, pausing the whole process (434 ms with
10,000 connections, docs/performance.md). So:

- what is loaded by startup (Django, the apps, the URLconf: several hundred thousand objects) is
  frozen, left out of every pass;
- young and middle passes stay as CPython sets them (every 700 allocations, every 10 young ones):
  short, over the objects made since. Fewer young passes over more objects measured worse (p99 79
  ms with 10,000 allocations each, against 8-11 ms);
- a full pass waits for FULL_AFTER middle passes instead of 10 (and, as CPython always does, until
  the survivors grew by a quarter). Opening 10,000 connections ran 14 full passes of up to 490 ms
  with 10, none with 1,000. A closed connection leaves no cycle (imsuite.daphne_tuning
  close_without_cycles, imsuite.ws weak_method), so what waits longer for a full pass is rare.

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

YOUNG_THRESHOLD = 700
MIDDLE_THRESHOLD = 10
FULL_AFTER = 1000


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
