"""A Redis server of a fault test's own: redis-server on a free port of 127.0.0.1, with nothing
saved to disk (--save "", no append-only file), so that a kill and a start give an EMPTY Redis,
as a restart of a cache-only deployment does. Never the shared server: a test breaks only what it
started."""

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.e2e.conftest import free_port

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class RedisServer:
    """One redis-server process at a time on a fixed port: kill() it, start() it again (empty)."""

    def __init__(self, port: int, work_dir: Path) -> None:
        self.port = port
        self.work_dir = work_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait (bounded) until it answers PING."""
        assert self.process is None, "already running"
        log = (self.work_dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"redis-server not answering after {START_TIMEOUT_SECONDS} s"
                        ) from exc
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: whatever it held is gone, as in a crash."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.process = None

    def restart(self) -> None:
        """Kill, then start empty on the same port."""
        self.kill()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running RedisServer on a free port; killed and its directory removed afterwards."""
    work_dir = Path(tempfile.mkdtemp(prefix="fault-redis-"))
    server = RedisServer(free_port(), work_dir)
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(work_dir, ignore_errors=True)
