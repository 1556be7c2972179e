"""A PostgreSQL cluster of a fault test's own: initdb in a temporary directory, served on a free port
of 127.0.0.1 with trust authentication, stopped and started at will, removed afterwards. Never the
shared server: a test breaks only what it started.

initdb refuses to run as root, so the cluster belongs to the `postgres` system user (runuser)."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.e2e.conftest import free_port

STEP_TIMEOUT_SECONDS = 30  # the longest initdb, a start or a stop may take
OWNER = "postgres"
SUPERUSER = "root"


def _bin_dir() -> Path:
    """The newest installed server's binaries (Debian's layout: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def _as_owner(program: Path, *args: str) -> None:
    subprocess.run(
        ["runuser", "-u", OWNER, "--", str(program), *args],
        check=True,
        capture_output=True,
        timeout=STEP_TIMEOUT_SECONDS,
    )


@dataclass
class PgCluster:
    data_dir: Path
    port: int
    bin_dir: Path

    def _pg_ctl(self, *args: str) -> None:
        _as_owner(self.bin_dir / "pg_ctl", "-D", str(self.data_dir), *args)

    def start(self) -> None:
        """Start and wait until it accepts connections (pg_ctl -w)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        self._pg_ctl("-w", "-l", str(self.data_dir / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        """Stop at once, as a crash would: every connection is cut (pg_ctl -m immediate)."""
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """A running cluster of the test's own; stopped and deleted afterwards, pass or fail."""
    bin_dir = _bin_dir()
    data_dir = Path(tempfile.mkdtemp(prefix="imsuite-pg-"))  # /tmp: the postgres user can reach it
    shutil.chown(data_dir, user=OWNER)
    os.chmod(data_dir, 0o700)
    cluster = PgCluster(data_dir, free_port(), bin_dir)
    try:
        _as_owner(bin_dir / "initdb", "-D", str(data_dir), "-A", "trust", "-U", SUPERUSER, "--no-sync")
        cluster.start()
        yield cluster
    finally:
        if (data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
