"""Tenants on nodes: a control database in the test's folder (or a PostgreSQL schema), nodes
that are the ``test`` database (each tenant a schema ``tenant_<name>`` of it) or a folder of
SQLite files, and every tenant schema this test made dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.clock import SteppingClock
from adapters.config import CONTROL_DATABASE_ENV, add_tenant, open_directory
from adapters.logging import configure_logging
from adapters.tenancy.directory import Directory, Tenant
from tests.conftest import PG_ADMIN_URL, _pg_connect
from tests.helpers import Result, cli_result


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    configure_logging(level="error")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Cluster:
    """A control database and its nodes; remembers every tenant added, to drop it after."""

    directory: Directory
    control_url: str
    added: list[Tenant] = field(default_factory=list)

    def node(self, name: str, url: str) -> str:
        self.directory.add_node(name, url)
        return name

    def tenant(self, node: str, prefix: str = "t") -> Tenant:
        made, _ = add_tenant(self.directory, unique(prefix), node)
        self.added.append(made)
        return made


def drop_tenant_schemas(added: list[Tenant]) -> None:
    schemas = [t.schema for t in added if t.node.url.startswith("postgres")]
    if schemas:
        with _pg_connect() as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_node_url() -> str:
    return pg_node()


def pg_node() -> str:
    """The ``test`` database as a node's URL (skips without PostgreSQL, as store_url does)."""
    if "?" in PG_ADMIN_URL:
        pytest.skip("the test database's URL carries a query; a node URL takes none")
    _pg_connect().close()  # skips (or fails on CI) without PostgreSQL
    return PG_ADMIN_URL


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """A control database in a SQLite file, named by TOLLBOOK_CONTROL_DATABASE_URL."""
    url = f"sqlite:///{tmp_path}/control.sqlite"
    monkeypatch.setenv(CONTROL_DATABASE_ENV, url)
    monkeypatch.delenv("TOLLBOOK_TENANT", raising=False)
    made = Cluster(open_directory(url), url)
    yield made
    drop_tenant_schemas(made.directory.tenants())


@pytest.fixture
def tollbook(
    cluster: Cluster, clock: SteppingClock, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """The CLI with the test's control database and clock."""

    def run(*args: str) -> Result:
        return cli_result(capsys, ["--actor", "ops:test", *args], clock)

    return run
