"""Read-model tables and their tracking positions, in the ledger's own SQL database.

Each read model's rows and its row in ``projection_tracking`` change in one transaction
(``SqlViewStore.batch``), which first re-reads the positions under a write lock (SQLite
``BEGIN IMMEDIATE``, PostgreSQL ``SELECT ... FOR UPDATE``) and refuses to apply a batch twice.
Amounts are exact: ``NUMERIC`` on PostgreSQL, decimal text on SQLite (which has no decimal
type; its NUMERIC affinity would turn amounts into floats).

A cache of rows per read model spares a SELECT per event; it is trusted only while the
read model's tracking row is exactly as this process last committed it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any

import psycopg
import structlog
from psycopg import sql

from adapters.store.database import Database, sqlite_transaction
from adapters.store.migrations.runner import migrate
from adapters.store.settings import postgres_connect
from projections.runner import Fault, PositionMoved, Tracking, Wait
from projections.view import ColumnKind, Projection, Row, Table

log = structlog.get_logger("tollbook.projections")

TRACKING_TABLE = "projection_tracking"
FAULTS_TABLE = "projection_faults"  # why a read model stopped, while it is stopped
CACHE_LIMIT = 300_000  # rows per read model kept between batches
EVICTED_LIMIT = 2 * CACHE_LIMIT  # evicted keys remembered before a cache is dropped whole
STOP_SLICE = 0.25  # seconds a listening follower may take to notice it was stopped
#: PostgreSQL error classes that pass: connection (08), transaction rollback (40),
#: insufficient resources (53), object in use / lock timeout (55), operator intervention (57),
#: system error (58). Class 54 (program limit, e.g. an index row too large) is a refusal.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
SQLITE_VARIABLES = 32_766  # parameters per statement since SQLite 3.32 (2020)
#: What a read model stores in place of a NUL character: PostgreSQL text cannot hold NUL, and
#: an event stored before the ledger's limits may carry one (a read model never refuses a
#: stored event). U+FFFD, the Unicode replacement character, on both databases, so every
#: read model answers the same on SQLite and PostgreSQL. Text is only shown, never a key:
#: rows are keyed by ids and positions, and a lookup by account number asks the ledger.
NUL_SHOWN_AS = "\ufffd"

SQL_TYPES: dict[str, dict[ColumnKind, str]] = {
    "sqlite": {
        "text": "TEXT",
        "amount": "TEXT",
        "date": "TEXT",
        "timestamp": "TEXT",
        "int": "INTEGER",
    },
    "postgres": {
        "text": "TEXT",
        "amount": "NUMERIC",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ",
        "int": "BIGINT",
    },
}


def shape_of(projection: Projection) -> str:
    """A fingerprint of a read model's tables: when it changes, the read model is rebuilt."""
    text = repr([(t.name, t.key, list(t.columns.items()), t.indexes) for t in projection.tables])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _utc_text(moment: datetime) -> str:
    # events are stamped in UTC already: skip the conversion then (it copies the datetime)
    return (moment.astimezone(UTC) if moment.utcoffset() else moment).isoformat()


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _Rows:
    """Rows of one table to write, as value tuples in column order taken when the batch
    ended (the values are immutable: later batches may change the row dicts, not these)."""

    table: Table
    upsert: bool  # False: the table does not hold these keys yet
    values: list[tuple[Any, ...]]


@dataclass(frozen=True)
class _Copy:
    """Rows known to be new, loaded with PostgreSQL's COPY (several times cheaper than an
    INSERT ... ON CONFLICT of the same rows, which a rebuild would otherwise send for every
    row it writes)."""

    table: str
    columns: tuple[str, ...]
    rows: list[Sequence[Any]]


#: One write of a batch: an SQL statement with its parameters, or a COPY of new rows.
Write = tuple[str, Sequence[Any]] | _Copy


@dataclass
class _Cache:
    generation: int
    position: int
    # every stored row is in ``rows`` or was evicted, so a miss of a key never evicted means
    # "no such row"
    complete: bool
    rows: dict[str, dict[tuple[Any, ...], Row]] = field(default_factory=dict)
    # per table, the hashes of evicted keys: a key whose hash is here may be stored (a hash
    # collision only costs a needless read)
    evicted: dict[str, set[int]] = field(default_factory=dict)

    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def evict(self) -> bool:
        """Drop the older half of every table's rows (the ones a catch-up in log order is
        least likely to meet again); False if the cache should rather be dropped whole."""
        if not self.complete or sum(map(len, self.evicted.values())) > EVICTED_LIMIT:
            return False
        for name, rows in self.rows.items():
            old = list(islice(rows, (len(rows) + 1) // 2))
            self.evicted.setdefault(name, set()).update(map(hash, old))
            for key in old:
                del rows[key]
        return True


class SqlViewStore:
    """The runner's TrackedStore over a ``Database`` (SQLite file or PostgreSQL schema)."""

    def __init__(self, db: Database, events_table: str) -> None:
        self.db = db
        self.events_table = events_table
        self._caches: dict[str, _Cache] = {}
        self._ensured: set[str] = set()
        self._encoders: dict[str, Callable[[list[tuple[Any, ...]]], list[Sequence[Any]]]] = {}
        self._pending: Future[None] | None = None  # a batch committing in the background
        self._kept: sqlite3.Connection | None = None  # SQLite: the batches' connection
        self._events_reader: Any = None  # the connection ``read_events`` reads pages with

    # ------------------------------------------------------------ conversion

    def to_db(self, kind: ColumnKind, value: Any) -> Any:
        if value is None or self.db.dialect == "postgres":
            return value
        if kind == "amount":
            return str(value)
        if kind == "timestamp":
            return value.astimezone(UTC).isoformat()
        if kind == "date":
            return value.isoformat()
        return value

    def encoder(self, table: Table) -> Callable[[list[tuple[Any, ...]]], list[Sequence[Any]]]:
        """Rows' values (in column order) as the driver takes them, a batch at a time (built
        once per table: a rebuild encodes every row it writes)."""
        encode = self._encoders.get(table.name)
        if encode is None:
            encode = self._encoders[table.name] = self._make_encoder(table)
        return encode

    def _make_encoder(self, table: Table) -> Callable[[list[tuple[Any, ...]]], list[Sequence[Any]]]:
        kinds = list(table.columns.values())
        texts = [index for index, kind in enumerate(kinds) if kind == "text"]
        # the text columns of a row, always as a tuple
        text_of: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
            itemgetter(*texts) if len(texts) > 1 else lambda v: tuple(v[i] for i in texts)
        )
        if self.db.dialect == "postgres":
            convert = None  # psycopg adapts Decimal, date and datetime itself
        else:
            # one generated function per table: the row's tuple with amounts, dates and
            # timestamps as text, in straight-line code (a loop over the columns per row cost
            # three times as much)
            scope: dict[str, Any] = {"_str": str, "_date": date.isoformat, "_utc": _utc_text}
            call = {"amount": "_str", "date": "_date", "timestamp": "_utc"}
            items = [
                f"None if (x{i} := v[{i}]) is None else {call[kind]}(x{i})"
                if kind in call
                else f"v[{i}]"
                for i, kind in enumerate(kinds)
            ]
            exec(f"def convert(v): return ({', '.join(items)},)", scope)
            convert = scope["convert"]

        def without_nul(values: tuple[Any, ...]) -> tuple[Any, ...]:
            out = list(values)
            for index in texts:
                if isinstance(value := out[index], str):
                    out[index] = value.replace("\x00", NUL_SHOWN_AS)
            return tuple(out)

        def encode(rows: list[tuple[Any, ...]]) -> list[Sequence[Any]]:
            # one look for a NUL in all the batch's text at once (in C); text columns hold
            # text or NULL, anything else takes the row-by-row way
            try:
                nul = "\x00" in "".join(filter(None, chain.from_iterable(map(text_of, rows))))
            except TypeError:
                nul = True
            if nul:
                rows = [without_nul(values) for values in rows]
            if convert is None:
                return rows  # type: ignore[return-value]  # PostgreSQL, no NUL: as they are
            return list(map(convert, rows))

        return encode

    def _writes(self, rows: _Rows) -> list[Write]:
        """SQL for one table's rows: a few multi-row statements (or a COPY of new rows on
        PostgreSQL)."""
        table, columns = rows.table, list(rows.table.columns)
        encoded = self.encoder(table)(rows.values)
        if not rows.upsert and self.db.dialect == "postgres":
            return [_Copy(table.name, tuple(columns), encoded)]
        insert = f"INSERT INTO {table.name} ({', '.join(columns)})"
        conflict = ""
        if rows.upsert:
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in table.key)
            conflict = f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"
        if self.db.dialect == "postgres":
            # the whole batch as one array per column: one statement per table
            types = SQL_TYPES["postgres"]
            arrays = ", ".join(f"%s::{types[kind]}[]" for kind in table.columns.values())
            values = [list(column) for column in zip(*encoded, strict=True)]
            return [(f"{insert} SELECT * FROM unnest({arrays}){conflict}", values)]
        # SQLite: many rows per statement (VALUES (...), (...), ...), so SQLite inserts them
        # all in one step without coming back to Python. (executemany takes the GIL back for
        # every row, which stalls a background commit while the next batch is applied.)
        per_statement = max(1, SQLITE_VARIABLES // len(columns))
        row_marks = f"({', '.join('?' for _ in columns)})"
        out: list[Write] = []
        for first in range(0, len(encoded), per_statement):
            chunk = encoded[first : first + per_statement]
            marks = ", ".join(repeat(row_marks, len(chunk)))
            out.append((f"{insert} VALUES {marks}{conflict}", list(chain.from_iterable(chunk))))
        return out

    def from_db(self, kind: ColumnKind, value: Any) -> Any:
        if value is None:
            return None
        if kind == "amount":
            return value if isinstance(value, Decimal) else Decimal(value)
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if kind == "timestamp" and isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    def row_from_db(self, table: Table, values: Sequence[Any]) -> Row:
        return {
            column: self.from_db(kind, value)
            for (column, kind), value in zip(table.columns.items(), values, strict=True)
        }

    # ------------------------------------------------------------ schema

    def _create(self, conn: Any, table: Table, indexes: bool = True) -> None:
        types = SQL_TYPES[self.db.dialect]
        columns = ", ".join(f"{name} {types[kind]}" for name, kind in table.columns.items())
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table.name} ({columns},"
            f" PRIMARY KEY ({', '.join(table.key)}))"
        )
        for index in table.indexes if indexes else ():
            self._index(conn, table, index)

    def _index(self, conn: Any, table: Table, index: tuple[str, ...]) -> None:
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {table.name}__{'_'.join(index)}"
            f" ON {table.name} ({', '.join(index)})"
        )

    def create_indexes(self, projections: Sequence[Projection]) -> None:
        """The secondary indexes a rebuild left out, one short transaction each (building an
        index from the finished table is several times cheaper than keeping it up to date
        row by row while rebuilding)."""
        self.settle()
        with self._each_statement_committed() as conn:
            for projection in projections:
                for table in projection.tables:
                    for index in table.indexes:
                        self._index(conn, table, index)

    @contextmanager
    def _each_statement_committed(self) -> Iterator[Any]:
        """One connection on which every statement is a transaction of its own, committed
        without waiting for the disk: an index a power cut loses is missing, and ``ensure``
        creates missing indexes (SQLite spent more time in twenty-odd fsyncs than in building
        the indexes of 20,000 events); one connection, not one per index."""
        if self.db.dialect == "sqlite":
            conn = self.db.sqlite_connection(durable=False)  # autocommit: no BEGIN of its own
            try:
                yield conn
            finally:
                conn.close()
            return
        with self.db.autocommit_connection() as pg:
            pg.execute("SET synchronous_commit TO OFF")
            yield pg

    def ensure(self, projections: Sequence[Projection]) -> None:
        missing = [p for p in projections if p.name not in self._ensured]
        if not missing:
            return
        migrate(self.db)  # the tracking and faults tables
        with self.db.connect() as conn:
            for projection in missing:
                shape = shape_of(projection)
                found = conn.execute(
                    self.db.sql(f"SELECT shape FROM {TRACKING_TABLE} WHERE name = ?"),
                    (projection.name,),
                ).fetchone()
                if found is not None and found[0] != shape:
                    # the code's tables changed since they were built: build them again
                    self._drop_and_create(conn, projection)
                    conn.execute(
                        self.db.sql(f"UPDATE {TRACKING_TABLE} SET shape = ? WHERE name = ?"),
                        (shape, projection.name),
                    )
                    self._caches.pop(projection.name, None)
                for table in projection.tables:
                    self._create(conn, table)
                if found is None:
                    conn.execute(
                        self.db.sql(
                            f"INSERT INTO {TRACKING_TABLE} (name, position, generation, shape)"
                            " VALUES (?, 0, 1, ?) ON CONFLICT (name) DO NOTHING"
                        ),
                        (projection.name, shape),
                    )
        self._ensured.update(p.name for p in missing)

    def _drop_and_create(self, conn: Any, projection: Projection, indexes: bool = True) -> None:
        for table in projection.tables:
            conn.execute(f"DROP TABLE IF EXISTS {table.name}")
            self._create(conn, table, indexes)
        conn.execute(self.db.sql(f"DELETE FROM {FAULTS_TABLE} WHERE name = ?"), (projection.name,))
        conn.execute(
            self.db.sql(
                f"UPDATE {TRACKING_TABLE} SET position = 0, generation = generation + 1,"
                " rebuilt_at = ? WHERE name = ?"
            ),
            (now_text(), projection.name),
        )

    # ------------------------------------------------------------ tracking

    def _tracking(self, conn: Any, names: Sequence[str], lock: bool) -> dict[str, Tracking]:
        marks = ", ".join("?" for _ in names)
        statement = (
            f"SELECT name, position, generation, updated_at FROM {TRACKING_TABLE}"
            f" WHERE name IN ({marks})"
        )
        if lock and self.db.dialect == "postgres":
            statement += " FOR UPDATE"
        rows = conn.execute(self.db.sql(statement), tuple(names)).fetchall()
        return {row[0]: Tracking(row[0], int(row[1]), int(row[2]), row[3]) for row in rows}

    def tracking(self, names: Sequence[str]) -> dict[str, Tracking]:
        with self.db.connect(write=False) as conn:
            return self._tracking(conn, names, lock=False)

    def at_head(self, names: Sequence[str]) -> int | None:
        """The log's head position when every named read model has applied it (one query),
        else None: one is behind, stopped, or not set up by this process yet (``ensure``)."""
        if not names or any(name not in self._ensured for name in names):
            return None
        column = "rowid" if self.db.dialect == "sqlite" else "notification_id"
        marks = ", ".join("?" for _ in names)
        with self.db.connect(write=False) as conn:
            rows = conn.execute(
                self.db.sql(
                    f"SELECT position, (SELECT MAX({column}) FROM {self.events_table})"
                    f" FROM {TRACKING_TABLE} WHERE name IN ({marks})"
                ),
                tuple(names),
            ).fetchall()
        if len(rows) != len(set(names)):
            return None
        head = int(rows[0][1] or 0)
        return head if all(int(row[0]) >= head for row in rows) else None

    # ------------------------------------------------------------ faults

    def faults(self, names: Sequence[str]) -> dict[str, Fault]:
        marks = ", ".join("?" for _ in names)
        with self.db.connect(write=False) as conn:
            rows = conn.execute(
                self.db.sql(
                    "SELECT name, position, event_id, event_type, aggregate_id,"
                    f" aggregate_version, error, since FROM {FAULTS_TABLE}"
                    f" WHERE name IN ({marks})"
                ),
                tuple(names),
            ).fetchall()
        return {
            row[0]: Fault(row[0], int(row[1]), int(row[2]), row[3], row[4], int(row[5]), *row[6:])
            for row in rows
        }

    def record_fault(self, fault: Fault) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    f"INSERT INTO {FAULTS_TABLE} (name, position, event_id, event_type,"
                    " aggregate_id, aggregate_version, error, since)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                    " position = excluded.position, event_id = excluded.event_id,"
                    " event_type = excluded.event_type, aggregate_id = excluded.aggregate_id,"
                    " aggregate_version = excluded.aggregate_version, error = excluded.error,"
                    " since = excluded.since"
                ),
                (
                    fault.name,
                    fault.position,
                    fault.event_id,
                    fault.event_type,
                    fault.aggregate_id,
                    fault.aggregate_version,
                    fault.error,
                    fault.since or now_text(),
                ),
            )

    def clear_fault(self, name: str) -> None:
        with self.db.connect() as conn:
            conn.execute(self.db.sql(f"DELETE FROM {FAULTS_TABLE} WHERE name = ?"), (name,))

    def is_transient(self, error: BaseException) -> bool:
        """Connection, lock, conflict and shutdown errors pass; a row the database refuses
        (bad text, a number out of its range, a limit exceeded) is refused again."""
        if isinstance(error, sqlite3.OperationalError):  # locked, busy, disk I/O
            return True
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            state = getattr(error, "sqlstate", None)
            return state is None or state[:2] in TRANSIENT_SQLSTATE_CLASSES
        return isinstance(error, OSError)

    def read_events(
        self, after: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> list[tuple[int, str, int, str, bytes]]:
        """The recorder's ``select_notifications`` as plain rows: (position, the aggregate's
        id as canonical UUID text, version, topic, stored bytes), after ``after`` up to
        ``stop``, only of ``topics``. Read models key rows by an id's text, so the id is
        formatted by the database instead of becoming a UUID object and text again (with the
        library's Notification objects, that was a third of the cost of reading a page)."""
        if self.db.dialect == "sqlite":
            position = "rowid"
            # the SQLite recorder stores 32 hex digits: hyphenated here, as str(UUID) does
            h = "originator_id"
            aggregate = (
                f"CASE length({h}) WHEN 32 THEN substr({h}, 1, 8) || '-' || substr({h}, 9, 4)"
                f" || '-' || substr({h}, 13, 4) || '-' || substr({h}, 17, 4) || '-'"
                f" || substr({h}, 21) ELSE {h} END"
            )
        else:
            position, aggregate = "notification_id", "originator_id::text"
        statement = (
            f"SELECT {position}, {aggregate}, originator_version, topic, state"
            f" FROM {self.events_table} WHERE {position} > ?"
        )
        params: list[Any] = [after]
        if stop is not None:
            statement += f" AND {position} <= ?"
            params.append(stop)
        if topics:
            statement += f" AND topic IN ({', '.join('?' for _ in topics)})"
            params += topics
        statement += f" ORDER BY {position} LIMIT ?"
        params.append(limit)
        if self._events_reader is None:
            # one connection for the pages of a catch-up (``release`` closes it), each page
            # read in a statement of its own, as the recorder reads them
            if self.db.dialect == "sqlite":
                self._events_reader = self.db.sqlite_connection(any_thread=True)
            else:
                self._events_reader = self.db.autocommit_connection()
        try:
            rows: list[tuple[int, str, int, str, bytes]] = self._events_reader.execute(
                self.db.sql(statement), params
            ).fetchall()
        except BaseException:
            self._close_events_reader()
            raise
        return rows

    def _close_events_reader(self) -> None:
        reader, self._events_reader = self._events_reader, None
        if reader is not None:
            reader.close()

    def events_after(self, position: int) -> int:
        column = "rowid" if self.db.dialect == "sqlite" else "notification_id"
        with self.db.connect(write=False) as conn:
            row = conn.execute(
                self.db.sql(f"SELECT COUNT(*) FROM {self.events_table} WHERE {column} > ?"),
                (position,),
            ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------ batches

    @contextmanager
    def batch(
        self,
        projections: Sequence[Projection],
        start: int,
        reached: int,
        background: Executor | None = None,
    ) -> Iterator[_Writer]:
        """Rows change in memory while the events apply; then ONE transaction re-checks each
        read model's (generation, position) under a write lock and writes the changed rows and
        the new positions together. Writers of events wait one flush, never a batch of decoding
        and applying.

        With ``background``, the transaction runs there while the caller applies the next
        batch; ``settle`` waits for it. Its rows are encoded before it is handed over, so
        later batches cannot change what it writes, and a batch after a failed one finds the
        position unmoved and is refused: commits stay in log order, each exactly once."""
        names = [p.name for p in projections]
        stale = [n for n in names if (c := self._caches.get(n)) is None or c.position != start]
        if stale:
            self.settle()  # positions and rows on disk must include our own pending commit
            current = self.tracking(stale)
            for name in stale:
                if current[name].position != start:
                    raise PositionMoved(name)
                self._caches[name] = _Cache(current[name].generation, start, False)
        # rows read or cached now must still be this generation at this position when we write
        expected = {name: (self._caches[name].generation, start) for name in names}
        writer = _Writer(self, projections)
        try:
            try:
                yield writer
            finally:
                writer.close_reader()
            changes = writer.changes()
        except BaseException:
            self._forget()
            raise
        self.settle()  # the previous batch must be in before this one is handed over
        commit = partial(self._commit, names, expected, changes, reached)
        evicted = False
        for name in names:
            cache = self._caches[name]
            cache.position = reached
            if cache.size() > CACHE_LIMIT:
                if not cache.evict():
                    self._caches[name] = _Cache(cache.generation, reached, False)
                evicted = True
        if background is None:
            try:
                commit()
            except BaseException:
                self._forget()
                raise
        else:
            self._pending = background.submit(commit)
            if evicted:  # the next batch reads rows from disk: they must include this one
                self.settle()

    def settle(self) -> None:
        """Wait for the batch committing in the background, if any; raise what it raised."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        # cached rows may include changes that were never committed
        self._caches.clear()

    def _commit(
        self,
        names: list[str],
        expected: dict[str, tuple[int, int]],
        changes: list[_Rows],
        reached: int,
    ) -> None:
        # encoding and SQL are built here, on the commit thread when there is one, so the
        # thread applying the next batch does not wait for them
        writes = [write for rows in changes for write in self._writes(rows)]
        with self._transaction() as conn:
            current = self._tracking(conn, names, lock=True)
            for name in names:
                if (current[name].generation, current[name].position) != expected[name]:
                    raise PositionMoved(name)
            for write in writes:
                if isinstance(write, _Copy):
                    copy = f"COPY {write.table} ({', '.join(write.columns)}) FROM STDIN"
                    with conn.cursor().copy(copy) as rows:
                        for row in write.rows:
                            rows.write_row(row)
                else:
                    conn.execute(*write)
            conn.execute(
                self.db.sql(
                    f"UPDATE {TRACKING_TABLE} SET position = ?, updated_at = ?"
                    f" WHERE name IN ({', '.join('?' for _ in names)})"
                ),
                (reached, now_text(), *names),
            )

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A batch's transaction. Not durable: a power cut can only lose whole batches, rows
        and position together, and the read model resumes from the position that did reach
        the disk. On SQLite the batches of one catch-up share a connection whose 64 MiB page
        cache stays warm (a big read model's index pages are hit at random; a new connection
        per batch read them all again and doubled the cost of writing)."""
        if self.db.dialect != "sqlite":
            with self.db.connect(durable=False) as conn:
                yield conn
            return
        if self._kept is None:
            self._kept = self.db.sqlite_connection(durable=False, any_thread=True)
            self._kept.execute("PRAGMA cache_size = -65536")
        with sqlite_transaction(self._kept):
            yield self._kept

    def release(self) -> None:
        """Close the connection kept for batches (after a catch-up); the next batch opens one."""
        try:
            self.settle()
        finally:
            self._close_events_reader()
            kept, self._kept = self._kept, None
            if kept is not None:
                kept.close()

    @contextmanager
    def announcements(self, channel: str | None) -> Iterator[Wait]:
        """On PostgreSQL, LISTEN on the channel the event store NOTIFYs in every transaction
        that writes events, so a follower wakes as soon as they commit instead of at its next
        poll; on SQLite (or if listening fails) the wait is a plain poll interval."""

        def poll(stop: threading.Event, timeout: float) -> None:
            stop.wait(timeout)

        if self.db.dialect != "postgres" or not channel:
            yield poll
            return
        try:
            listener = postgres_connect(self.db.env, autocommit=True)
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.Error:
            log.warning("cannot listen for new events; polling instead", exc_info=True)
            yield poll
            return

        def wait(stop: threading.Event, timeout: float) -> None:
            nonlocal listener
            if listener.closed:
                poll(stop, timeout)
                return
            deadline = time.monotonic() + timeout
            try:
                # returns at the first announcement (one queued meanwhile counts), at the
                # timeout, or (in slices, as psycopg cannot wait on the event too) when stopped
                while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                    for _ in listener.notifies(timeout=min(left, STOP_SLICE), stop_after=1):
                        return
            except psycopg.Error:
                log.warning("lost the event announcements; polling instead", exc_info=True)
                listener.close()

        with listener:
            yield wait

    def reset(self, projections: Sequence[Projection]) -> None:
        """Empty tables at position 0, without their secondary indexes (``create_indexes``
        adds them when the rebuild is done; ``ensure`` does if it never finishes)."""
        self.settle()
        names = [p.name for p in projections]
        # not durable, as the batches after it: a power cut loses the reset whole (tables,
        # generation and position as they were) or the batches after it, never half of one
        with self.db.connect(durable=False) as conn:
            self._tracking(conn, names, lock=True)
            for projection in projections:
                self._drop_and_create(conn, projection, indexes=False)
            current = self._tracking(conn, names, lock=False)
        self._ensured.difference_update(names)  # a later ensure() creates missing indexes
        for name in names:
            # the tables are empty and ours: every miss is a row that does not exist yet
            self._caches[name] = _Cache(current[name].generation, 0, True)

    # ------------------------------------------------------------ queries

    def snapshot(
        self, names: Sequence[str], tables: Sequence[Table]
    ) -> tuple[dict[str, Tracking], dict[str, list[Row]]]:
        """Tracking positions and every row of ``tables``, read in one consistent snapshot: a
        runner committing meanwhile changes neither (reconcile compares them with the events
        up to exactly those positions)."""
        self.settle()
        with self.db.connect(write=False) as conn:
            tracking = self._tracking(conn, names, lock=False)
            rows = {
                table.name: [
                    self.row_from_db(table, values)
                    for values in conn.execute(
                        f"SELECT {', '.join(table.columns)} FROM {table.name}"
                    ).fetchall()
                ]
                for table in tables
            }
        return tracking, rows

    def select(
        self,
        table: Table,
        where: dict[str, Any] | None = None,
        *,
        ranges: dict[str, tuple[Any, Any]] | None = None,
        order_by: str | None = None,
    ) -> list[Row]:
        """Rows of a read-model table: equality filters, inclusive ranges (None: open end)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (where or {}).items():
            clauses.append(f"{column} = ?")
            params.append(self.to_db(table.columns[column], value))
        for column, (low, high) in (ranges or {}).items():
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(self.to_db(table.columns[column], low))
            if high is not None:
                clauses.append(f"{column} <= ?")
                params.append(self.to_db(table.columns[column], high))
        statement = f"SELECT {', '.join(table.columns)} FROM {table.name}"
        if clauses:
            statement += " WHERE " + " AND ".join(clauses)
        if order_by:
            statement += f" ORDER BY {order_by}"
        with self.db.connect(write=False) as conn:
            rows = conn.execute(self.db.sql(statement), tuple(params)).fetchall()
        return [self.row_from_db(table, row) for row in rows]


@dataclass(slots=True)
class _TableBatch:
    """What one batch knows of one table."""

    table: Table
    rows: dict[tuple[Any, ...], Row]  # the read model's cached rows (shared with its cache)
    complete: bool  # the cache holds every stored row it did not evict
    evicted: set[int]  # hashes of evicted keys (shared with the cache)
    dirty: dict[tuple[Any, ...], Row] = field(default_factory=dict)  # rows changed
    # keys of changed rows the database does not hold yet (inserted without a conflict
    # clause), and keys a read found missing
    new: set[tuple[Any, ...]] = field(default_factory=set)
    absent: set[tuple[Any, ...]] = field(default_factory=set)
    added: list[Row] = field(default_factory=list)  # append-only rows

    def surely_unstored(self, key: tuple[Any, ...]) -> bool:
        """The cache proves the database holds no row with this key (one not in ``rows``);
        False means only a read can tell."""
        return self.complete and (not self.evicted or hash(key) not in self.evicted)


class _Writer:
    """The ViewWriter of one batch: cached reads, row changes kept in memory; ``changes``
    then lists each changed row once, for the batch's transaction to write."""

    def __init__(self, store: SqlViewStore, projections: Sequence[Projection]):
        self.store = store
        self.tables: dict[str, _TableBatch] = {}
        for projection in projections:
            cache = store._caches[projection.name]
            for table in projection.tables:
                self.tables[table.name] = _TableBatch(
                    table,
                    cache.rows.setdefault(table.name, {}),
                    cache.complete,
                    cache.evicted.setdefault(table.name, set()),
                )
        self._reading: ExitStack | None = None
        self._reader: Any = None

    def get(self, table: Table, *key: Any) -> Row | None:
        batch = self.tables[table.name]
        row = batch.rows.get(key)
        if row is not None or batch.surely_unstored(key):
            return row
        row = self._read(table, key)
        if row is None:
            batch.absent.add(key)
        else:
            batch.rows[key] = row
        return row

    def _read(self, table: Table, key: tuple[Any, ...]) -> Row | None:
        if self._reading is None:
            # a snapshot read outside the write lock: the commit re-checks the position
            self._reading = ExitStack()
            self._reader = self._reading.enter_context(self.store.db.connect(write=False))
        where = " AND ".join(f"{column} = ?" for column in table.key)
        found = self._reader.execute(
            self.store.db.sql(f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {where}"),
            tuple(
                self.store.to_db(table.columns[c], v) for c, v in zip(table.key, key, strict=True)
            ),
        ).fetchone()
        return None if found is None else self.store.row_from_db(table, found)

    def close_reader(self) -> None:
        if self._reading is not None:
            self._reading.close()
            self._reading = self._reader = None

    def put(self, table: Table, row: Row) -> None:
        key = table.key_of(row)
        batch = self.tables[table.name]
        rows = batch.rows
        if key not in rows and (
            # surely_unstored, inlined: a rebuild puts every row it writes
            (batch.complete and (not batch.evicted or hash(key) not in batch.evicted))
            or key in batch.absent
        ):
            batch.new.add(key)
        rows[key] = row
        batch.dirty[key] = row

    def add(self, table: Table, row: Row) -> None:
        self.tables[table.name].added.append(row)

    def changes(self) -> list[_Rows]:
        """The batch's rows to write, per table: those the table holds (to upsert) and those
        it does not hold yet (to insert plainly), as value tuples taken now."""
        out: list[_Rows] = []
        for batch in self.tables.values():
            derive = batch.table.derive
            if derive is not None:  # once per row, however many events changed it
                for row in batch.dirty.values():
                    derive(row)
            values, new = batch.table.values_of, batch.new
            if len(new) == len(batch.dirty):  # a rebuild: every row is new
                known, fresh = [], list(map(values, batch.dirty.values()))
            else:
                known = [values(row) for key, row in batch.dirty.items() if key not in new]
                fresh = [values(row) for key, row in batch.dirty.items() if key in new]
            if known:
                out.append(_Rows(batch.table, True, known))
            if fresh:
                out.append(_Rows(batch.table, False, fresh))
        # append-only rows after every table's changed rows, as before
        for batch in self.tables.values():
            if batch.added:
                out.append(_Rows(batch.table, False, list(map(batch.table.values_of, batch.added))))
        return out


def open_store(url: str, events_table: str) -> SqlViewStore:
    """The read-model store in the database at ``url`` (the ledger's own database)."""
    return SqlViewStore(Database.from_url(url), events_table)
