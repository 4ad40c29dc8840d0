"""A second PostgreSQL cluster for tests: ``initdb`` and ``pg_ctl`` from the installed
PostgreSQL, in a temporary folder, on a free local port, trust authentication.

initdb refuses to run as root, so under root every PostgreSQL program runs as the ``postgres``
user (``runuser -u postgres``), in a folder that user owns. The cluster listens on 127.0.0.1
only, with its socket in its own folder, so it never meets the machine's own server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

#: the database every test ledger on the cluster lives in (one schema per test)
DATABASE = "nodetest"


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL programs here, or the cluster would not start."""


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs folder."""
    env = os.environ.get("TOLLBOOK_TEST_PG_BIN")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major)
    for folder in reversed(candidates):
        if folder and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ClusterUnavailable("no initdb under /usr/lib/postgresql/*/bin (TOLLBOOK_TEST_PG_BIN)")


def _major(folder: str) -> int:
    part = Path(folder).parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """One running (or stopped) PostgreSQL cluster of the test session."""

    bin: Path
    folder: Path
    port: int
    user: str | None  # who runs the programs (None: this process's user)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def url(self, schema: str) -> str:
        return f"{self.admin_url}?schema={schema}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise ClusterUnavailable(
                f"{args[0]} exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
            )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: a test cluster's crash safety is not under test, its start-up time is
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            " -c max_connections=60 -c shared_buffers=16MB"
        )
        log = str(self.folder / "server.log")
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "30", "start"
        )

    def stop(self) -> None:
        """Stop at once (``-m fast``): sessions are cut, as when a node goes down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        try:
            psycopg.connect(self.admin_url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self) -> None:
        url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        for _ in range(50):  # pg_ctl -w returns once it accepts connections; be patient anyway
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise ClusterUnavailable(f"the cluster on port {self.port} never took a connection")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(ClusterUnavailable):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> PgCluster:
    """A new cluster in a new temporary folder, started, with the test database made."""
    folder = Path(tempfile.mkdtemp(prefix="tollbook-pg-"))
    user: str | None = None
    if os.geteuid() == 0:  # initdb will not run as root: the postgres user owns the folder
        user = "postgres"
        try:
            shutil.chown(folder, user=user, group=pwd.getpwnam(user).pw_gid)
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            raise ClusterUnavailable("running as root and there is no postgres user") from None
    try:
        cluster = PgCluster(postgres_bin(), folder, free_port(), user)
    except ClusterUnavailable:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
    except (ClusterUnavailable, OSError, subprocess.TimeoutExpired):
        cluster.remove()
        raise
    return cluster
