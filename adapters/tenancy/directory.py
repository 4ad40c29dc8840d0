"""The tenant directory: a small control database mapping each tenant to the node that holds
its store, and the nodes themselves.

The control database is its own URL (``TOLLBOOK_CONTROL_DATABASE_URL``: SQLite or PostgreSQL,
with ``?schema=`` as for a store) and holds two tables, ``tollbook_nodes`` and
``tollbook_tenants``. A tenant's store URL is derived from its node's URL and its name
(domain/tenancy.py), so every ledger of that tenant — its events, read models, settings,
numbering, hash chain, API keys and portal users — is in that one store and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from adapters.config_error import ConfigError
from adapters.store.database import Database
from adapters.store.settings import describe_url as masked
from domain import tenancy
from domain.errors import AlreadyExists, ConcurrencyConflict, NotFound

log = structlog.get_logger("tollbook.tenancy")

_TABLES = (
    "CREATE TABLE IF NOT EXISTS tollbook_nodes ("
    " name TEXT PRIMARY KEY, url TEXT NOT NULL, added_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tollbook_tenants ("
    " name TEXT PRIMARY KEY, node TEXT NOT NULL REFERENCES tollbook_nodes (name),"
    " added_at TEXT NOT NULL)",
)


@dataclass(frozen=True)
class Node:
    name: str
    url: str
    added_at: str

    @property
    def shown_url(self) -> str:
        """The URL with its password masked, for lists and logs."""
        return masked(self.url)


@dataclass(frozen=True)
class Tenant:
    name: str
    node: Node
    added_at: str

    @property
    def store_url(self) -> str:
        return tenancy.store_url(self.node.url, self.name)

    @property
    def schema(self) -> str:
        return tenancy.schema_name(self.name)


class Directory:
    """The control database's tenants and nodes."""

    def __init__(self, url: str) -> None:
        try:
            self.db = Database.from_url(url)
        except ValueError:  # memory:// has no tables to keep a directory in
            raise ConfigError(
                "the control database is sqlite:///path or postgresql://…, not memory://"
            ) from None
        self._ready = False

    @classmethod
    def open(cls, url: str) -> Directory:
        directory = cls(url)
        directory.ensure_schema()
        return directory

    def ensure_schema(self) -> None:
        if self._ready:
            return
        if self.db.dialect == "postgres" and self.db.schema:
            from psycopg import sql

            with self.db.autocommit_connection() as conn:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.db.schema))
                )
        with self.db.connect() as conn:
            for statement in _TABLES:
                conn.execute(statement)
        self._ready = True

    # ------------------------------------------------------------------ nodes

    def add_node(self, name: str, url: str) -> tuple[Node, bool]:
        """Record node ``name`` at ``url``; True when new. The same again is no change; the
        same name at another URL is refused (a node's tenants would silently move)."""
        tenancy.node_name(name)
        tenancy.node_url(url)
        now = _now()
        with self.db.connect() as conn:
            row = conn.execute(
                self.db.sql("SELECT url FROM tollbook_nodes WHERE name = ?"), (name,)
            ).fetchone()
            if row is not None:
                if row[0] != url:
                    raise AlreadyExists(
                        f"node {name!r} is already at {masked(str(row[0]))}", field="node"
                    )
                return self.node(name), False
            conn.execute(
                self.db.sql("INSERT INTO tollbook_nodes (name, url, added_at) VALUES (?, ?, ?)"),
                (name, url, now),
            )
        log.info("node added", node=name, url=masked(url))
        return Node(name, url, now), True

    def node(self, name: str) -> Node:
        tenancy.node_name(name)
        with self.db.connect(write=False) as conn:
            row = conn.execute(
                self.db.sql("SELECT name, url, added_at FROM tollbook_nodes WHERE name = ?"),
                (name,),
            ).fetchone()
        if row is None:
            raise NotFound(
                f"no node called {name!r}: add it with `tollbook node add`", field="node"
            )
        return Node(*map(str, row))

    def nodes(self) -> list[Node]:
        with self.db.connect(write=False) as conn:
            rows = conn.execute(
                "SELECT name, url, added_at FROM tollbook_nodes ORDER BY name"
            ).fetchall()
        return [Node(*map(str, row)) for row in rows]

    # ------------------------------------------------------------------ tenants

    def planned_tenant(self, name: str, node: str) -> tuple[Tenant, bool]:
        """The tenant ``name`` would be on ``node``, and whether it is new. Refuses an unknown
        node, and a tenant already held by another node (moving is not re-adding)."""
        tenancy.tenant_name(name)
        where = self.node(node)
        try:
            existing = self.tenant(name)
        except NotFound:
            return Tenant(name, where, _now()), True
        if existing.node.name != node:
            raise AlreadyExists(
                f"tenant {name!r} is on node {existing.node.name!r}, not {node!r}",
                field="tenant",
            )
        return existing, False

    def record_tenant(self, tenant: Tenant) -> None:
        """Enter a tenant whose store exists (``planned_tenant`` first): from now on it can
        be named. A concurrent add of the same name on the same node is no change."""
        with self.db.connect() as conn:
            row = conn.execute(
                self.db.sql("SELECT node FROM tollbook_tenants WHERE name = ?"), (tenant.name,)
            ).fetchone()
            if row is not None:
                if row[0] != tenant.node.name:
                    raise AlreadyExists(
                        f"tenant {tenant.name!r} is on node {row[0]!r}", field="tenant"
                    )
                return
            conn.execute(
                self.db.sql("INSERT INTO tollbook_tenants (name, node, added_at) VALUES (?, ?, ?)"),
                (tenant.name, tenant.node.name, tenant.added_at),
            )
        log.info("tenant added", tenant=tenant.name, node=tenant.node.name)

    def switch_node(self, name: str, from_node: str, to_node: str) -> None:
        """Point tenant ``name`` at ``to_node``, if it is still on ``from_node`` (a move that
        raced another refuses, rather than switch a tenant it did not copy)."""
        with self.db.connect() as conn:
            switched = conn.execute(
                self.db.sql("UPDATE tollbook_tenants SET node = ? WHERE name = ? AND node = ?"),
                (to_node, name, from_node),
            ).rowcount
        if switched != 1:
            raise ConcurrencyConflict(
                f"tenant {name!r} is no longer on node {from_node!r}: another move switched it",
                field="tenant",
            )
        log.info("tenant switched", tenant=name, from_node=from_node, to_node=to_node)

    def tenant(self, name: str) -> Tenant:
        tenancy.tenant_name(name)
        with self.db.connect(write=False) as conn:
            row = conn.execute(
                self.db.sql(
                    "SELECT t.name, t.added_at, n.name, n.url, n.added_at FROM tollbook_tenants t"
                    " JOIN tollbook_nodes n ON n.name = t.node WHERE t.name = ?"
                ),
                (name,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no tenant called {name!r}", field="tenant")
        return _tenant(row)

    def tenants(self) -> list[Tenant]:
        with self.db.connect(write=False) as conn:
            rows = conn.execute(
                "SELECT t.name, t.added_at, n.name, n.url, n.added_at FROM tollbook_tenants t"
                " JOIN tollbook_nodes n ON n.name = t.node ORDER BY t.name"
            ).fetchall()
        return [_tenant(row) for row in rows]


def _tenant(row: Any) -> Tenant:
    name, added_at, node, url, node_added = map(str, row)
    return Tenant(name, Node(node, url, node_added), added_at)


def _now() -> str:
    return datetime.now(UTC).isoformat()
