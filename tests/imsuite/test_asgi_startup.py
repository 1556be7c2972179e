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


def test_every_connection_and_request_shares_one_cache_object():
    """Django keeps a cache object per context; tasks start from a copy of the served module's
    context, so one made at startup is the one every connection and request uses, in the event
    loop and in the database threads. Before, each made its own, and with it a Redis connection."""
    code = """
import asyncio
import imsuite.asgi
from django.core.cache import caches
from imsuite.ws import db

async def connection():
    return {id(caches["default"]), id(await db(lambda: caches["default"])())}

async def served():
    seen = set().union(*await asyncio.gather(*(asyncio.ensure_future(connection()) for _ in range(5))))
    print(len(seen), id(caches["default"]) in seen)

asyncio.run(served())
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imsuite.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True"]
