"""End-to-end fixtures: a REAL daphne subprocess serving imsuite.asgi over TCP on 127.0.0.1.

The server uses the same test database as this test process: on SQLite the test database is a file
(settings TEST NAME) handed to the subprocess as SQLITE_PATH; on PostgreSQL (DATABASE_URL set for the
test run) DATABASE_URL is rewritten to name the test database. REDIS_URL, SECRET_KEY and
CHANNEL_LAYER_PREFIX are passed through unchanged, so both processes share one channel layer.
Each test that uses `daphne_url` runs with `transactional_db`: what the server writes is committed,
visible to the test, and flushed afterwards like any transactional test's data.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).parent / "daphne"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
FALLBACK_SECRET_KEY = "e2e-test-secret-key-not-for-production"  # only when the test run sets none

# Variables that choose the database: never inherited by accident.
DATABASE_SELECTORS = ("DATABASE_URL", "SQLITE_PATH")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    """This process's environment (REDIS_URL, SECRET_KEY, CHANNEL_LAYER_PREFIX...) minus the database."""
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_SELECTORS}
    env["DJANGO_SETTINGS_MODULE"] = "imsuite.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def database_env() -> dict[str, str]:
    """Environment for a server on the test database this process uses (after django_db_setup)."""
    env = base_env()
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(Path(name).resolve())
    elif connection.vendor == "postgresql":
        url = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{name}"))
    else:
        raise NotImplementedError(f"no end-to-end setup for {connection.vendor}")
    return env


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def run_daphne(env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """Start daphne, wait (at most START_TIMEOUT_SECONDS) until it accepts connections, yield its base
    URL; terminate it afterwards, killing it if it does not stop within STOP_TIMEOUT_SECONDS."""
    port = free_port()
    log_path = log_dir / f"daphne-{port}.stderr.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "imsuite.asgi:application"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"daphne exited with {process.returncode}; {log_path}:\n{_tail(log_path)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"daphne not listening after {START_TIMEOUT_SECONDS} s; {log_path}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def e2e_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each daphne's output goes (the path is printed when a server fails to start)."""
    return tmp_path_factory.mktemp("daphne-logs")


@pytest.fixture(scope="session")
def daphne_server(django_db_setup: None, e2e_log_dir: Path) -> Iterator[str]:
    """One daphne for the session, on the test database; stopped before the database is destroyed."""
    with run_daphne(database_env(), e2e_log_dir) as url:
        yield url


@pytest.fixture
def daphne_url(transactional_db: None, daphne_server: str) -> str:
    """Base URL of the real server, in a test whose database changes are committed and then flushed."""
    return daphne_server


@pytest.fixture
def server_env(django_db_setup: None) -> dict[str, str]:
    """Environment of a server on the test database (for extra servers with something changed)."""
    return database_env()


@pytest.fixture
def plain_env() -> dict[str, str]:
    """Environment of a server with no database chosen yet (the test sets DATABASE_URL)."""
    return base_env()


@pytest.fixture
def start_daphne(e2e_log_dir: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """Start extra daphne processes with a given environment; all are stopped after the test."""
    with ExitStack() as stack:

        def start(env: dict[str, str]) -> str:
            env = dict(env)
            env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or FALLBACK_SECRET_KEY)
            return stack.enter_context(run_daphne(env, e2e_log_dir))

        yield start


@pytest.fixture(autouse=True)
def fast_passwords() -> None:
    """Overrides the suite's MD5 shortcut: the daphne subprocess checks passwords with the real hashers."""
