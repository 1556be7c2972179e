"""End-to-end fixtures: a REAL daphne subprocess serving imsuite.asgi over TCP on 127.0.0.1.

The server uses the same test database as this test process: on SQLite the test database is a file
(settings TEST NAME) handed to the subprocess as SQLITE_PATH; on PostgreSQL (DATABASE_URL set for the
test run) DATABASE_URL is rewritten to name the test database. REDIS_URL, SECRET_KEY and
CHANNEL_LAYER_PREFIX are passed through unchanged, so both processes share one channel layer.
Each test that uses `daphne_url` runs with `transactional_db`: what the server writes is committed,
visible to the test, and flushed afterwards like any transactional test's data.

WebSocket clients use the websockets library (ws_open, or the ws_clients fixture that closes what it
opened); recv_frame waits for one frame at most WS_TIMEOUT_SECONDS.
"""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).parent / "daphne"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
WS_TIMEOUT_SECONDS = 10.0  # the longest any WebSocket step (handshake, one frame, close) may take
IDLE_POLLS, IDLE_POLL_SECONDS, IDLE_TIMEOUT_SECONDS = 4, 0.05, 5.0  # see wait_until_the_database_is_idle
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
    # Every test signs its people up from 127.0.0.1 on servers that live for the session: the
    # per-address registration limit (tests/accounts/test_throttling.py) would refuse the 11th.
    env.setdefault("RATE_LIMIT_REGISTRATIONS", "1000000")
    # The fuzz test sends thousands of bot frames that are no action to one server: the slowing
    # down of such a peer is tested in tests/bots (test_actions.py, test_reverse.py).
    env.setdefault("BOT_UNUSABLE_FRAMES_FREE", "1000000")
    env.setdefault("BOT_UNUSABLE_FRAMES_LIMIT", "1000000")
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


def daphne_log_path(log_dir: Path, base_url: str) -> Path:
    """The file that holds the stdout and stderr of the daphne serving base_url."""
    return log_dir / f"daphne-{urlsplit(base_url).port}.stderr.log"


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def run_listening(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    log_path: Path,
    cwd: Path = ROOT,
    port: int | None = None,
) -> Iterator[int]:
    """Start a server process (start_listening), yield its port; terminate it afterwards, killing
    it if it does not stop within STOP_TIMEOUT_SECONDS."""
    process, port = start_listening(command, env, log_path, cwd, port)
    try:
        yield port
    finally:
        stop_process(process)


def start_listening(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    log_path: Path,
    cwd: Path = ROOT,
    port: int | None = None,
) -> tuple[subprocess.Popen, int]:
    """Start a server process (`command` given a free port) and wait (at most
    START_TIMEOUT_SECONDS) until it accepts connections on 127.0.0.1: the process and its port.
    Its output goes to log_path. `port`: that one (a server started again where its clients
    expect it), not a free one."""
    port = port or free_port()
    log_path = log_path.with_name(log_path.name.format(port=port))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command(port), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"{command(port)[0]} exited with {process.returncode}; {log_path}:\n{_tail(log_path)}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{command(port)[0]} not listening after {START_TIMEOUT_SECONDS} s; {log_path}"
                    )
                time.sleep(0.1)
    except BaseException:
        stop_process(process)
        raise
    return process, port


def daphne_command(app: str = "imsuite.asgi:application") -> Callable[[int], list[str]]:
    """The daphne command line serving `app` on 127.0.0.1, given the port."""
    return lambda port: [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), app]


@contextmanager
def run_daphne(
    env: dict[str, str], log_dir: Path, app: str = "imsuite.asgi:application", port: int | None = None
) -> Iterator[str]:
    """Start daphne (run_listening, on `port` if given) and yield its base URL."""
    log_path = log_dir / "daphne-{port}.stderr.log"
    with run_listening(daphne_command(app), env, log_path, port=port) as listening:
        yield f"http://127.0.0.1:{listening}"


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_SECONDS."""
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
def daphne_server(
    django_db_setup: None, e2e_log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One daphne for the session, on the test database; stopped before the database is destroyed.
    Its DATA_DIR (uploaded files) is the session's own, so what the tests upload goes with them."""
    env = {**database_env(), "DATA_DIR": str(tmp_path_factory.mktemp("daphne-data"))}
    with run_daphne(env, e2e_log_dir) as url:
        yield url


def wait_until_the_database_is_idle() -> None:
    """Wait (bounded) until no other session on the test database is inside a statement or a
    transaction. The flush after a transactional test truncates every table, one lock at a time; a
    server transaction still running then (the clean-up after a client went away) would take its
    locks in another order and deadlock with it."""
    if connection.vendor != "postgresql":
        return
    deadline, quiet_polls = time.monotonic() + IDLE_TIMEOUT_SECONDS, 0
    while quiet_polls < IDLE_POLLS and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        quiet_polls = 0 if busy else quiet_polls + 1
        time.sleep(IDLE_POLL_SECONDS)


@pytest.fixture
def daphne_url(transactional_db: None, daphne_server: str) -> Iterator[str]:
    """Base URL of the real server, in a test whose database changes are committed and then flushed
    (once the server has finished with the database)."""
    yield daphne_server
    wait_until_the_database_is_idle()


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

        def start(env: dict[str, str], app: str = "imsuite.asgi:application") -> str:
            env = dict(env)
            env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or FALLBACK_SECRET_KEY)
            return stack.enter_context(run_daphne(env, e2e_log_dir, app))

        yield start


@pytest.fixture(autouse=True)
def fast_passwords() -> None:
    """Overrides the suite's MD5 shortcut: the daphne subprocess checks passwords with the real hashers."""


# ---- WebSocket clients (the websockets library) on a real server ----------------------------------


def ws_url(base_url: str, query: str = "") -> str:
    """The /ws endpoint of the server at base_url (always 127.0.0.1)."""
    url = urlsplit(base_url)
    assert url.hostname == "127.0.0.1"
    return f"ws://127.0.0.1:{url.port}/ws" + (f"?{query}" if query else "")


async def ws_open(base_url: str, *, query: str = "", **options: Any) -> ClientConnection:
    """Open a connection to /ws directly (never through a proxy), every step bounded in time.
    options go to websockets' connect (additional_headers, subprotocols, origin...)."""
    return await connect(
        ws_url(base_url, query),
        proxy=None,
        open_timeout=WS_TIMEOUT_SECONDS,
        close_timeout=WS_TIMEOUT_SECONDS,
        **options,
    )


async def recv_frame(ws: ClientConnection, timeout: float = WS_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The next server frame, decoded; fails if none arrives within `timeout` seconds."""
    try:
        text = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        pytest.fail(f"no frame within {timeout} s")
    assert isinstance(text, str), f"binary frame {text!r}"
    frame = json.loads(text)
    assert isinstance(frame, dict), frame
    return frame


async def send_frame(ws: ClientConnection, event_type: str, payload: Any) -> None:
    await asyncio.wait_for(ws.send(json.dumps({"type": event_type, "payload": payload})), WS_TIMEOUT_SECONDS)


@pytest.fixture
async def ws_clients() -> AsyncIterator[Callable[..., Any]]:
    """ws_open, with every connection it opened closed (bounded) after the test, pass or fail."""
    opened: list[ClientConnection] = []

    async def open_ws(base_url: str, **options: Any) -> ClientConnection:
        ws = await ws_open(base_url, **options)
        opened.append(ws)
        return ws

    yield open_ws
    for ws in opened:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), WS_TIMEOUT_SECONDS)


# Last: tests/e2e/sso.py builds on the helpers above.
from .sso import oidc_issuer, sso_server, sso_url  # noqa: E402, F401  (single sign-on's fixtures)
