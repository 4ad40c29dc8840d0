"""One consistent view of a store to copy from, on either kind of store.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the live database into
a file of the backup's own while writers go on; everything is then read from that copy.
PostgreSQL: one REPEATABLE READ, READ ONLY transaction; every table is read in it, so the
events, their chain, the usage and the other tables are all as of the same instant (writers
are not held up: readers take no lock that an insert waits for).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.store.database import Database, Dialect

FETCH = 2000  # rows per round trip of a PostgreSQL server-side cursor


@dataclass
class Snapshot:
    """A connection that sees the store as of one moment."""

    conn: Any
    dialect: Dialect

    def rows(self, query: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """The rows of ``query`` (``?`` markers), streamed: memory stays flat."""
        if self.dialect == "sqlite":
            yield from self.conn.execute(query, params)
            return
        with self.conn.cursor(name="tollbook_backup") as cursor:
            cursor.itersize = FETCH
            cursor.execute(query.replace("?", "%s"), params)
            yield from cursor

    def one(self, query: str, params: Sequence[Any] = ()) -> Sequence[Any]:
        query = query if self.dialect == "sqlite" else query.replace("?", "%s")
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return tuple(row)


@contextmanager
def snapshot(db: Database, folder: Path) -> Iterator[Snapshot]:
    """The store as of now; SQLite's copy is made in ``folder`` and removed after."""
    if db.dialect == "postgres":
        with db.connect(write=False) as conn:  # REPEATABLE READ, READ ONLY
            yield Snapshot(conn, "postgres")
        return
    copy = folder / ".snapshot.sqlite"
    source = db.sqlite_connection()
    target = sqlite3.connect(copy, isolation_level=None)
    try:
        source.backup(target)  # one step: a copy of one instant, whatever writers do
    finally:
        source.close()
    try:
        yield Snapshot(target, "sqlite")
    finally:
        target.close()
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            leftover.unlink(missing_ok=True)
