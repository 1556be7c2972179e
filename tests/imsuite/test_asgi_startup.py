"""The server process leaves what it loads at startup out of the garbage collector's full passes
(each walked about 124,000 objects: 75 ms of pause here, docs/performance.md step 18)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_startup_objects_are_frozen_out_of_full_collections():
    code = "import gc, imsuite.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imsuite.settings"}
    done = subprocess.run(  # a fresh interpreter: as daphne loads the application
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    frozen, still_tracked = map(int, done.stdout.split())
    assert frozen > 50_000, done.stdout
    assert still_tracked < frozen / 20, done.stdout
