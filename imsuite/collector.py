"""The garbage collector of a daphne process, set once the application is loaded (imsuite.asgi).

A process holding tens of thousands of connections keeps millions of container objects; CPython's
collector walks all that survived on every full pass, pausing the whole process (434 ms with
10,000 connections, docs/performance.md). So:

- what is loaded by startup (Django, the apps, the URLconf: several hundred thousand objects) is
  frozen, left out of every pass;
- young and middle passes stay as CPython sets them (every 700 allocations, every 10 young ones):
  short, over the objects made since. Fewer young passes over more objects measured worse (p99 79
  ms with 10,000 allocations each, against 8-11 ms);
- a full pass comes every FULL_AFTER (3) middle passes, and what it leaves is frozen as it ends
  (freeze_survivors): each full pass walks only what the last three middle passes promoted (10-20
  ms), never the connections held for minutes (0.45 s per million objects: about 1.5 s at 50,000).
  Nothing unreachable is frozen: the pass has just collected every generation. The price: a frozen
  object is still freed by reference counting, but a cycle it later ends up in is never found, so
  an object frozen while alive that later dies in a cycle stays until the process ends. A closed
  connection leaves no cycle (imsuite.daphne_tuning close_without_cycles, imsuite.ws weak_method,
  tests/imsuite/test_connection_cycles.py); after 2,000 connections opened, held and closed, a
  thawed full collection found 21 unreachable frozen objects, 11 of them from startup. Freezing at
  every middle pass would freeze younger objects (more such mistakes); every 10, as CPython does,
  measured full passes of 20-76 ms while 10,000 opened. `make bench` reports the frozen count
  before the connections open and after they closed.

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
FULL_AFTER = 3


def settle() -> None:
    """Collect and freeze what startup made, set the thresholds, freeze what each full pass leaves,
    and time passes if asked to."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_AFTER)
    if freeze_survivors not in gc.callbacks:
        gc.callbacks.append(freeze_survivors)
    path = os.environ.get("IMSUITE_GC_STATS")
    if path:
        PauseProbe(Path(path)).install()


def freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """At the end of a full pass (automatic or gc.collect()), freeze what it left: every generation
    was just collected, so only what is reachable is frozen, and the next full pass starts empty.
    (Moving the generations to the permanent one is a list splice: no walk.)"""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


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
            "tracked_objects": len(gc.get_objects()),  # what a full pass would walk now
            "frozen_objects": gc.get_freeze_count(),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary))
        tmp.replace(self.path)
