"""A real Redis Cluster of three primaries on loopback, for the tests of REDIS_CLUSTER mode.

`redis_cluster` (session-scoped) starts three `redis-server --cluster-enabled yes` on free ports
of 127.0.0.1, joins them with `redis-cli --cluster create`, waits until every node says
cluster_state:ok, and yields their URLs comma-separated, as REDIS_URL lists them. The servers
keep nothing on disk beyond their node files in a temporary directory, removed at the end. Skips
(saying why) where redis-server or redis-cli is not installed. A test that stops a node makes a
cluster of its own with running_cluster().
"""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

NODES = 3
START_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.05


def _free_port() -> int:
    """A port nothing listens on now (the kernel's choice; redis-server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(what: str, condition: Callable[[], bool], logs: Path) -> None:
    """Poll `condition` until it holds; fail with the servers' logs after START_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(POLL_SECONDS)
    tails = "\n".join(f"{log.name}:\n{log.read_text()[-2000:]}" for log in sorted(logs.glob("*.log")))
    pytest.fail(f"the test Redis Cluster: {what} within {START_TIMEOUT_SECONDS} s\n{tails}")


def _start_node(directory: Path, port: int) -> subprocess.Popen:
    # The cluster bus gets a free port of its own (cluster-port, Redis 7), not port + 10000.
    return subprocess.Popen(
        [
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--cluster-port", str(_free_port())),
            *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
            *("--logfile", f"redis-{port}.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _joined(client: redis.Redis) -> bool:
    """The node knows the others and sees every slot served."""
    info = client.cluster("INFO")
    return info["cluster_state"] == "ok" and info["cluster_known_nodes"] == str(NODES)


@dataclass
class RunningCluster:
    urls: str  # the nodes' URLs, comma-separated (REDIS_URL)
    servers: list[subprocess.Popen]
    nodes: list[redis.Redis]  # a plain client per node, for asking a node alone
    directory: Path  # node files and logs

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        _wait_for(what, condition, self.directory)


@contextlib.contextmanager
def running_cluster(node_timeout_ms: int = 15_000) -> Iterator[RunningCluster]:
    """Three primaries joined and serving every slot; stopped and removed on the way out.
    `node_timeout_ms` is how long the others wait before they call a silent node failed."""
    missing = [tool for tool in ("redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"a real Redis Cluster needs {' and '.join(missing)} on PATH")
    directory = Path(tempfile.mkdtemp(prefix="imsuite-redis-cluster-"))
    ports = [_free_port() for _ in range(NODES)]
    servers = [_start_node(directory, port) for port in ports]
    nodes = [redis.Redis(host="127.0.0.1", port=port, socket_timeout=5) for port in ports]
    urls = ",".join(f"redis://127.0.0.1:{port}" for port in ports)
    cluster = RunningCluster(urls, servers, nodes, directory)
    try:
        cluster.wait_for("every node answering", lambda: all(node.ping() for node in nodes))
        subprocess.run(
            [
                *("redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports)),
                *("--cluster-replicas", "0", "--cluster-yes"),
            ],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
        )
        cluster.wait_for("cluster_state:ok on every node", lambda: all(map(_joined, nodes)))
        for node in nodes:  # only now: a short timeout while they join can fail a node that is busy
            node.config_set("cluster-node-timeout", node_timeout_ms)
        yield cluster
    finally:
        for node in nodes:
            node.close()
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=START_TIMEOUT_SECONDS)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """The URLs of a running three-primary Redis Cluster on loopback, comma-separated, for the
    whole session (tests must not stop its nodes: running_cluster() makes one of their own)."""
    with running_cluster() as cluster:
        yield cluster.urls
