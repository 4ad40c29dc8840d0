"""Plain SQL connections to the ledger's own database, for read models and bulk data.

Read models, usage records and export positions live beside the event store (same SQLite file,
or same PostgreSQL database and schema) so one transaction can cover a view update and its
tracking position, and finance can query them with SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import psycopg
from psycopg import pq

from adapters.store.libpq_statement import LibpqStatement, numbered
from adapters.store.pool import LazyPool
from adapters.store.settings import connection_kwargs, postgres_connect, store_env
from adapters.store.sqlite_readers import SqliteReaders

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Database:
    """Where the ledger's tables live, and how to open a connection to them."""

    dialect: Dialect
    env: dict[str, str]
    #: PostgreSQL: where ``connect`` takes its connections from (None: a new one each time)
    pool: LazyPool | None = field(default=None, compare=False, repr=False)
    #: SQLite: where read transactions take their connections from (None: a new one each time)
    readers: SqliteReaders | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        env = store_env(url)
        module = env["PERSISTENCE_MODULE"]
        if module.endswith("sqlite"):
            return cls("sqlite", env)
        if module.endswith("postgres"):
            return cls("postgres", env)
        raise ValueError(f"{url!r} has no SQL database (memory:// keeps events in-process only)")

    def pooled(self) -> Database:
        """The same database, with connections kept in a pool between calls (PostgreSQL; on
        SQLite, the connections of read transactions). Close it with ``close``."""
        if self.pool is not None or self.readers is not None:
            return self
        if self.dialect == "sqlite":
            return replace(self, readers=SqliteReaders(self.sqlite_connection_any_thread))
        return replace(self, pool=LazyPool(self.env, self._search_path()))

    def close(self) -> None:
        """Close the pool's connections, if this database has a pool."""
        if self.pool is not None:
            self.pool.close()
        if self.readers is not None:
            self.readers.close()

    def _search_path(self) -> str:
        return f"-c search_path={self.schema}" if self.schema else ""

    @property
    def schema(self) -> str | None:
        return self.env.get("POSTGRES_SCHEMA") or None

    @property
    def placeholder(self) -> str:
        """The parameter marker of the driver: ``?`` for sqlite3, ``%s`` for psycopg."""
        return "?" if self.dialect == "sqlite" else "%s"

    def sql(self, statement: str) -> str:
        """Write statements with ``?`` markers; this adapts them to the driver."""
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def connect(self, *, write: bool = True, durable: bool = True) -> Iterator[Any]:
        """A connection inside one transaction: committed on success, rolled back on error.

        ``write=False`` reads one consistent snapshot (SQLite WAL read transaction, PostgreSQL
        REPEATABLE READ) without taking SQLite's write lock, so a long read never holds up
        writers. ``durable=False`` commits without waiting for the
        disk (SQLite ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit=off``): a power
        cut may lose the last such commits, whole, never half of one. Only for data that can
        be derived again (read models), never for events."""
        if self.dialect == "sqlite":
            with self._sqlite(write, durable) as conn:
                yield conn
        else:
            with self._postgres() as pg:
                if not write:  # every statement sees the same snapshot, as on SQLite
                    pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                if not durable:
                    pg.execute("SET LOCAL synchronous_commit TO OFF")
                yield pg

    def read_text_row(self, statement: str, params: tuple[str, ...] = ()) -> TextRow | None:
        """The first row of one read-only statement (``?`` markers) of text columns and text
        parameters, or None.

        A lone statement is its own snapshot, so it runs outside an explicit transaction:
        on PostgreSQL one round trip instead of four (BEGIN, SET TRANSACTION, the query,
        COMMIT), prepared once per connection and run by libpq itself (``LibpqStatement``:
        ~15 µs of CPU, not psycopg's ~60 µs), on SQLite one call instead of three. For
        look-ups made on every request (the API key's)."""
        if self.dialect == "sqlite":
            if self.readers is None:
                conn = self.sqlite_connection()
                try:
                    return _first(conn.execute(statement, params).fetchall())
                finally:
                    conn.close()
            with self.readers.connection() as kept:  # autocommit: an implicit read snapshot
                # every row fetched: the statement ends, and with it the read snapshot
                return _first(kept.execute(statement, params).fetchall())
        prepared = _TEXT_STATEMENTS.get(statement)
        if prepared is None:
            prepared = LibpqStatement(numbered(self.sql(statement)), [0] * len(params))
            _TEXT_STATEMENTS[statement] = prepared
        with self._postgres() as pg:  # idle here: the statement is its own transaction
            result = prepared.run(
                pg,
                [param.encode() for param in params],
                [pq.Format.TEXT] * len(params),
                pq.Format.TEXT,
            )
            encoding = pg.info.encoding
        if not result.ntuples:
            return None
        return tuple(
            None if value is None else value.decode(encoding)
            for value in (result.get_value(0, column) for column in range(result.nfields))
        )

    @contextmanager
    def _sqlite(self, write: bool = True, durable: bool = True) -> Iterator[sqlite3.Connection]:
        if not write and self.readers is not None:
            with self.readers.connection() as kept, sqlite_transaction(kept, write=False):
                yield kept
            return
        conn = self.sqlite_connection(durable)
        try:
            with sqlite_transaction(conn, write):
                yield conn
        finally:
            conn.close()

    def sqlite_connection(
        self, durable: bool = True, *, any_thread: bool = False
    ) -> sqlite3.Connection:
        """A connection of our own to the SQLite file, outside any transaction (for a caller
        that keeps it across transactions; ``any_thread``: used by one thread at a time, not
        always the one that opened it)."""
        conn = sqlite3.connect(
            self.env["SQLITE_DBNAME"],
            timeout=30,
            isolation_level=None,
            check_same_thread=not any_thread,
        )
        conn.execute("PRAGMA journal_mode=WAL")
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def sqlite_connection_any_thread(self) -> sqlite3.Connection:
        return self.sqlite_connection(any_thread=True)

    def autocommit_connection(self) -> psycopg.Connection[Any]:
        """PostgreSQL: a connection of our own in autocommit mode (each statement commits
        by itself), for work that must commit apart from a transaction open elsewhere."""
        return postgres_connect(self.env, options=self._search_path(), autocommit=True)

    async def async_autocommit_connection(self) -> psycopg.AsyncConnection[Any]:
        """PostgreSQL: ``autocommit_connection`` for the event loop (no worker thread)."""
        return await psycopg.AsyncConnection.connect(
            **connection_kwargs(self.env, options=self._search_path()), autocommit=True
        )

    @contextmanager
    def _postgres(self) -> Iterator[psycopg.Connection[Any]]:
        if self.pool is not None:
            with self.pool.connection() as pooled:
                yield pooled
            return
        with postgres_connect(self.env, options=self._search_path()) as conn:
            yield conn  # psycopg commits on a clean exit of the block, rolls back on error


#: a row of text columns (NULL as None)
TextRow = tuple[str | None, ...]

#: ``read_text_row``'s statements, each prepared on a connection when first run on it
_TEXT_STATEMENTS: dict[str, LibpqStatement] = {}


def _first(rows: list[Any]) -> tuple[Any, ...] | None:
    return tuple(rows[0]) if rows else None


@contextmanager
def sqlite_transaction(conn: sqlite3.Connection, write: bool = True) -> Iterator[None]:
    """One transaction on ``conn``: committed on success, rolled back on error. A write
    transaction takes the database's write lock at once (``BEGIN IMMEDIATE``)."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
