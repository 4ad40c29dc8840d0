"""The composition root: configuration from the environment -> a ready Ledger.

``TOLLBOOK_DATABASE_URL`` selects the store:
- ``sqlite:///var/tollbook.sqlite`` (the default; a path relative to the working directory),
- ``postgresql://user:password@host:5432/dbname?schema=tollbook`` (production),
- ``memory://`` (in-process, for tests and experiments).
The library's own variables (``PERSISTENCE_MODULE``, ``POSTGRES_*``, ``SQLITE_DBNAME``) still
work when ``TOLLBOOK_DATABASE_URL`` is unset and ``PERSISTENCE_MODULE`` is set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from adapters.config_error import ConfigError
from adapters.ledger.application import Ledger, utc_now
from adapters.store.settings import (
    DEFAULT_DATABASE_URL,
    SETUP_LOCK_KEY,
    database_url,
    postgres_connect,
    setup_lock_key,
    store_env,
)
from domain import limits

if TYPE_CHECKING:
    from adapters.tenancy.directory import Directory, Tenant

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SETUP_LOCK_KEY",
    "ConfigError",
    "build_ledger",
    "database_url",
    "key_retention_days",
    "postgres_connect",
    "store_env",
]


def key_retention_days(environ: Mapping[str, str] | None = None) -> int | None:
    """``TOLLBOOK_IDEMPOTENCY_KEY_DAYS``: how many days an Idempotency-Key's answer is given
    (unset: for ever); a replay after that is refused as expired (docs/http-api.md)."""
    environ = os.environ if environ is None else environ
    text = environ.get("TOLLBOOK_IDEMPOTENCY_KEY_DAYS", "").strip()
    if not text:
        return None
    low, high = limits.MIN_KEY_RETENTION_DAYS, limits.MAX_KEY_RETENTION_DAYS
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and low <= int(text) <= high):
        raise ConfigError(
            f"TOLLBOOK_IDEMPOTENCY_KEY_DAYS must be a whole number of days from {low} to {high:,}"
        )
    return int(text)


def build_ledger(
    url: str | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
) -> Ledger:
    environ = os.environ if environ is None else environ
    if url is None and "TOLLBOOK_DATABASE_URL" not in environ and "PERSISTENCE_MODULE" in environ:
        return _with_queries(Ledger(env=dict(environ), clock=clock), environ)
    env = store_env(url or database_url(environ))
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        return _with_queries(Ledger(env=env, clock=clock), env)
    # Processes starting together would race on the library's CREATE ... IF NOT EXISTS
    # ("tuple concurrently updated"); an advisory lock makes a schema's set-up one at a time.
    from psycopg import sql

    schema = env.get("POSTGRES_SCHEMA")
    lock_key = setup_lock_key(schema)
    with postgres_connect(env, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        try:
            if schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            return _with_queries(Ledger(env=env, clock=clock), env)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))


def _with_queries(ledger: Ledger, env: Mapping[str, str]) -> Ledger:
    """Lists and lookups by number or id prefix read the read models (adapters/queries),
    attached when first asked for: the read side imports psycopg, structlog and every
    projection, which a command that reads no list (``tollbook settings show``, ``invoice show``
    by number) would pay for at every start."""
    if env.get("PERSISTENCE_MODULE", "").endswith(("sqlite", "postgres")) and isinstance(
        getattr(ledger.recorder, "events_table_name", None), str
    ):  # the stores adapters.queries.attach serves
        ledger.references = QueriesOnFirstUse(ledger, env)
    return ledger


class QueriesOnFirstUse:
    """The ledger's reference index until the read side is first needed: then it attaches the
    real queries (``adapters.queries.attach``, which replaces this object) and hands on.

    ``adapters.queries.queries_for`` calls ``attach()`` when the ledger has no queries yet.
    """

    def __init__(self, ledger: Ledger, env: Mapping[str, str]) -> None:
        self._ledger = ledger
        self._env = dict(env)
        self._lock = threading.Lock()

    def attach(self) -> None:
        with self._lock:
            if self._ledger.references is self:
                from adapters.queries import attach  # imports this module: only once loaded

                attach(self._ledger, self._env)
            if self._ledger.references is self:  # attach found no SQL tables after all
                self._ledger.references = None

    def find(self, kind: Literal["invoice", "payment", "credit_note"], ref: str) -> UUID:
        self.attach()
        index = self._ledger.references
        if index is None:
            raise ConfigError("lookups by number or id prefix need SQLite or PostgreSQL")
        return index.find(kind, ref)

    def customer_payments(self, customer_id: UUID) -> list[UUID]:
        self.attach()
        index = self._ledger.references
        if index is None:
            raise ConfigError("payments by customer need SQLite or PostgreSQL")
        return index.customer_payments(customer_id)


# ---------------------------------------------------------------------- tenants (docs/scaling.md)

CONTROL_DATABASE_ENV = "TOLLBOOK_CONTROL_DATABASE_URL"


def control_database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``TOLLBOOK_CONTROL_DATABASE_URL``: where the tenant directory is (None: no tenants, one
    seller in ``TOLLBOOK_DATABASE_URL`` as ever)."""
    environ = os.environ if environ is None else environ
    return environ.get(CONTROL_DATABASE_ENV, "").strip() or None


def open_directory(url: str | None = None, environ: Mapping[str, str] | None = None) -> Directory:
    """The tenant directory at ``url`` (default: the control database's URL)."""
    from adapters.tenancy.directory import Directory

    url = url or control_database_url(environ)
    if url is None:
        raise ConfigError(
            f"tenants need a control database: set {CONTROL_DATABASE_ENV}"
            " (sqlite:///var/control.sqlite or postgresql://…)"
        )
    return Directory.open(url)


def tenant_database_url(tenant: str, directory: Directory) -> str:
    """The store URL of ``tenant``, as the directory says (NotFound for an unknown one)."""
    return directory.tenant(tenant).store_url


def add_tenant(
    directory: Directory,
    name: str,
    node: str,
    *,
    on_store: Callable[[str], None] | None = None,
) -> tuple[Tenant, bool]:
    """Create tenant ``name``'s store on ``node`` (schema, event tables, migrations), then enter
    it in the directory; True when new. The directory names a tenant only once its store is
    whole, and every step is idempotent: an add that failed half-way is simply run again.
    ``on_store`` hears the store's URL before it is touched (the CLI names it if it fails)."""
    from adapters.store.database import Database
    from adapters.store.migrations.runner import migrate

    tenant, created = directory.planned_tenant(name, node)
    url = tenant.store_url
    if on_store is not None:
        on_store(url)
    build_ledger(url).close()
    database = Database.from_url(url)
    try:
        migrate(database)
    finally:
        database.close()
    directory.record_tenant(tenant)
    return tenant, created
