"""Fixtures shared by every test tier.

Storage-facing tests take the ``store_url`` fixture, which runs each test on SQLite (a file of
its own, copied from one this worker set up) and on PostgreSQL (a set-up schema of its own in
the ``test`` database, that nothing has written to: tests/pg_set_up.py). Tests of what happens
to a new, empty store (migrations, first start) take ``new_store_url``.
PostgreSQL tests skip when no server answers, except when ``TOLLBOOK_REQUIRE_POSTGRES=1`` or
``CI=true``: then they fail, so CI can never go green without PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from tests.pg_cluster_support import ClusterUnavailable, PgCluster, start_cluster
from tests.pg_set_up import SetUpSchemas

# Console tracebacks as Python prints them: rich's default renders each frame's source and
# locals, seconds per logged exception, and hostile tests log hundreds (the text still says
# "Traceback"; served processes inherit this).
os.environ.setdefault("TOLLBOOK_LOG_TRACEBACKS", "plain")

PG_ADMIN_URL = os.environ.get("TOLLBOOK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _require_postgres() -> bool:
    return os.environ.get("TOLLBOOK_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


def _pg_connect() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if _require_postgres():
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema as a tollbook database URL; dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{sep}schema={schema}"
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def sqlite_set_up(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store opened once the way every command opens it (library tables and every
    migration step), copied for each test: its set-up writes ~40 tables with a disk sync each,
    most of a small test's time."""
    path = tmp_path_factory.mktemp("sqlite-set-up") / "tollbook.sqlite"
    url = f"sqlite:///{path}"
    build_ledger(url).close()
    migrate(Database.from_url(url))
    with sqlite3.connect(path) as conn:  # everything in the one file: nothing left in the WAL
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def pg_set_up() -> Iterator[SetUpSchemas]:
    """The worker's set-up PostgreSQL schemas, each handed to one test at a time: set-up (the
    library's tables and every migration step) was a quarter of the suite's time."""
    _pg_connect().close()  # skips, or fails under CI, as pg_schema_url does
    schemas = SetUpSchemas(PG_ADMIN_URL)
    yield schemas
    schemas.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of the test's own, as it is after its first start: on SQLite a copy of the
    worker's set-up file, on PostgreSQL a set-up schema that nothing has written to (emptied
    and renamed after the test before it, or dropped: tests/pg_set_up.py)."""
    if request.param == "sqlite":
        path = tmp_path / "tollbook.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_set_up"), path)
        yield f"sqlite:///{path}"
        return
    schemas: SetUpSchemas = request.getfixturevalue("pg_set_up")
    url = schemas.take()
    try:
        yield url
    finally:
        schemas.give_back(url)


@pytest.fixture(params=["sqlite", "postgres"])
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store: nothing set up, no tables (for tests of migrations and first start)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/tollbook.sqlite"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def make_ledger(store_url: str, clock: SteppingClock) -> Iterator[Callable[[], Ledger]]:
    """Build ledgers on the test's store (several may share it, as separate processes would)."""
    built: list[Ledger] = []

    def make() -> Ledger:
        ledger = build_ledger(store_url, clock=clock)
        built.append(ledger)
        return ledger

    yield make
    for ledger in built:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    return make_ledger()


@pytest.fixture
def memory_ledger(clock: SteppingClock) -> Ledger:
    """An in-process ledger for fast unit tests of the use cases."""
    return build_ledger("memory://", clock=clock)


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    from adapters.logging import configure_logging

    configure_logging(level="warning")


@pytest.fixture(scope="session")
def second_pg() -> Iterator[PgCluster]:
    """A second PostgreSQL cluster (tests/pg_cluster_support.py), started once per session
    (per xdist worker) for the tests that ask for it, stopped and removed after. It skips
    where PostgreSQL is not installed, except under CI=true or TOLLBOOK_REQUIRE_POSTGRES=1:
    then a cluster that will not start fails the tests."""
    try:
        cluster = start_cluster()
    except (ClusterUnavailable, OSError, subprocess.TimeoutExpired) as error:
        if _require_postgres():
            pytest.fail(f"the second PostgreSQL cluster would not start: {error}")
        pytest.skip(f"no second PostgreSQL cluster: {error}")
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def second_pg_url(second_pg: PgCluster) -> Iterator[str]:
    """A fresh schema on the second cluster as a tollbook URL; dropped after the test (the
    cluster is started again first if the test stopped it)."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    if not second_pg.running():  # an earlier test stopped it and failed before starting it
        second_pg.start()
    with psycopg.connect(second_pg.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield second_pg.url(schema)
    finally:
        if not second_pg.running():
            second_pg.start()
        with psycopg.connect(second_pg.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
