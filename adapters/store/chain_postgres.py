"""The audit chain (chain.py) written by the PostgreSQL recorder: one chain row per event, in
the events' transaction; concurrent saves written in one transaction (group commit,
group_commit.py). Apart from chain.py so that a store on SQLite never imports psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor, pq
from psycopg.abc import Query
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from adapters.store import chain, library_internals
from adapters.store.chain import CHAIN_COLUMNS, GENESIS, chain_table, grouped
from adapters.store.group_commit import GroupCommit, Save, conflicts
from adapters.store.libpq_batch import BatchWriter
from adapters.store.libpq_statement import (
    INT8,
    TEXT,
    UUID_OID,
    LibpqStatement,
    not_null,
    numbered,
    text_of,
)
from adapters.store.library_errors import library_error
from adapters.store.read_only_refusal import refused_as_read_only

# as chain.py does for SQLite: a changed library stops the store before anything is written
library_internals.check(store="postgres")

HAS_LZ4 = (
    "SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'"
)


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus one chain row per event in the same transaction."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ValueError("the audit chain needs POSTGRES_ENABLE_DB_FUNCTIONS off")
        self.chain_table = chain_table(events_table_name)
        self.lz4: bool | None = None  # does the server compress with lz4? (asked once)
        schema, table = Identifier(datastore.schema), Identifier(self.chain_table)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} (position bigint PRIMARY KEY,"
                " originator_id text NOT NULL, originator_version bigint NOT NULL,"
                " prev_position bigint NOT NULL, hash text NOT NULL)"
            ).format(schema, table)
        )
        self.select_last_link = SQL(
            "SELECT position, hash FROM {0}.{1} ORDER BY position DESC LIMIT 1"
        ).format(schema, table)
        # all of a save's links in one statement (an executemany was a round of the
        # pipeline per event: ~25,000 of them in a 1,000-invoice billing run)
        self.insert_links = SQL(
            "INSERT INTO {0}.{1} (" + CHAIN_COLUMNS + ") SELECT * FROM"
            " unnest(%b::bigint[], %b::text[], %b::bigint[], %b::bigint[], %b::text[])"
        ).format(schema, table)
        # the library's statement, with the array parameter in binary (%b; see below)
        self.group = GroupCommit(self._write_saves)
        self._batch_writer: BatchWriter | None = None  # rendered on the first batch
        self._select_events = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {0}.{1}"
            " WHERE originator_id = %s"
        ).format(schema, Identifier(events_table_name))
        #: the statement per (gt, lte, desc, limit) shape, rendered once
        self._select_events_statements: dict[tuple[bool, bool, bool, bool], LibpqStatement] = {}
        self.insert_events_binary = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state)"
            " SELECT originator_id, originator_version, topic, state"
            " FROM unnest(%b::{0}.{2}[]) RETURNING notification_id"
        ).format(schema, Identifier(events_table_name), Identifier(self.stored_event_type_name))

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.lz4 is None:
            with self.datastore.get_connection() as conn:
                row = conn.execute(HAS_LZ4).fetchone()
            self.lz4 = bool(row and row["lz4"])
        with refused_as_read_only():
            if not grouped(stored_events, kwargs):
                positions: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
                return positions
            return self.group.submit(stored_events)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's query (one prepared statement on an autocommit connection of the
        library's pool: committed events only), with less Python around it: the statement
        prepared once per connection and run by libpq itself (``LibpqStatement``), the
        parameters and rows in binary; the pool's connection taken and given back without the
        library's wrapper (opening the pool, type registration, the connection's block). An
        aggregate's load spent ~155 µs of CPU here through the library, ~105 µs through a
        psycopg cursor, four loads a payment and allocation; now ~15 µs. The same round
        trip, the same rows, the library's errors."""
        pool = self.datastore.pool
        if pool.closed:  # not opened yet (or closed): the library opens it, or refuses
            events: Sequence[StoredEvent] = super().select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            return events
        uuids = self.datastore.originator_id_type == "uuid"
        # a UUID in binary; a text id as text (a malformed one is refused by the server, as
        # the library's read refuses it)
        if uuids and isinstance(originator_id, UUID):
            values: list[bytes] = [originator_id.bytes]
            formats = [pq.Format.BINARY]
        else:
            values, formats = [str(originator_id).encode()], [pq.Format.TEXT]
        for value in (gt, lte, limit):
            if value is not None:
                values.append(value.to_bytes(8, "big", signed=True))
                formats.append(pq.Format.BINARY)
        shape = (gt is not None, lte is not None, desc, limit is not None)
        try:
            conn = pool.getconn()
            try:
                statement = self._select_events_statements.get(shape)
                if statement is None:
                    text = self._select_statement(*shape).as_string(conn)
                    types = [UUID_OID if uuids else TEXT] + [INT8] * (len(values) - 1)
                    statement = LibpqStatement(numbered(text), types)
                    self._select_events_statements[shape] = statement
                result = statement.run(conn, values, formats)
                encoding = conn.info.encoding
            finally:
                pool.putconn(conn)  # one in a transaction or broken is rolled back or replaced
            value_at = result.get_value
            return [
                StoredEvent(
                    originator_id=(
                        UUID(bytes=not_null(value_at(row, 0)))
                        if uuids
                        else text_of(value_at(row, 0), encoding)
                    ),
                    originator_version=int.from_bytes(
                        not_null(value_at(row, 1)), "big", signed=True
                    ),
                    topic=text_of(value_at(row, 2), encoding),
                    state=not_null(value_at(row, 3)),
                )
                for row in range(result.ntuples)
            ]
        except psycopg.Error as error:
            raise library_error(error, psycopg, as_text=True) from error

    def _select_statement(self, gt: bool, lte: bool, desc: bool, limit: bool) -> Composed:
        """The library's ``select_events`` statement for one shape of its arguments."""
        statement = self._select_events
        if gt:
            statement += SQL(" AND originator_version > %s")
        if lte:
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(" ORDER BY originator_version " + ("DESC" if desc else "ASC"))
        if limit:
            statement += SQL(" LIMIT %s")
        return statement

    # the library's retry of insert_events (a dropped connection, a lock timeout): the
    # transaction was rolled back, so it is written again
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _write_saves(self, saves: list[Save]) -> None:
        """One transaction for ``saves`` (group commit), in three round trips, each one call
        into libpq that waits for the whole answer without the GIL (psycopg's pipeline spent
        ~1.6 ms of Python a batch, and took the GIL back at every wake-up while the table was
        locked): begin, lock the table, notify, and read which of the saves' versions are
        taken and the chain's last link; insert the events of the saves that do not conflict
        (their columns as binary arrays), returning their positions; insert their links and
        commit. Nothing but the hashing runs between them."""
        for save in saves:  # a retry starts afresh
            save.error = None
        written: list[Save] = []
        positions: list[int] = []
        with self.datastore.get_connection() as conn:  # psycopg's errors as the library's
            writer = self._writer(conn)
            pgconn = conn.pgconn
            try:
                last, taken = writer.begin(conn, [e for save in saves for e in save.events])
                written = conflicts(saves, taken)
                if written:
                    events = [e for save in written for e in save.events]
                    positions = writer.insert(conn, events)
                    if len(positions) != len(events):
                        raise ProgrammingError(
                            f"{len(positions)} positions for {len(events)} events"
                        )
                    rows = chain.chain_rows(last or (0, GENESIS), events, positions)
                    writer.link_and_commit(conn, rows)
                else:
                    writer.commit(conn)
            finally:
                if pgconn.transaction_status != pq.TransactionStatus.IDLE:
                    pgconn.exec_(b"ROLLBACK")  # nothing of the batch is kept
        start = 0
        for save in written:  # committed
            save.positions = positions[start : start + len(save.events)]
            start += len(save.events)

    def _writer(self, conn: psycopg.Connection[Any]) -> BatchWriter:
        """The batch's statements, rendered once (the library's lock and notify included)."""
        if self._batch_writer is None:
            head = list(self.lock_table_statements)
            head.append(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
            if self.lz4:
                head.append(SQL("SET LOCAL default_toast_compression = lz4"))
            id_type = SQL(self.datastore.originator_id_type)

            def render(text: str, table: str) -> str:
                """``text`` with {0} the schema, {1} ``table``, {2} the events' id type."""
                return (
                    SQL(text)
                    .format(Identifier(self.datastore.schema), Identifier(table), id_type)
                    .as_string(conn)
                )

            self._batch_writer = BatchWriter(
                head=[_rendered(statement, conn) for statement in head],
                last_link=self.select_last_link.as_string(conn),
                taken=render(
                    "SELECT 1, e.originator_id::text, e.originator_version::text FROM {0}.{1} AS e"
                    " JOIN unnest({{ids}}::{2}[], {{versions}}::bigint[]) AS n(id, version)"
                    " ON e.originator_id = n.id AND e.originator_version = n.version",
                    self.events_table_name,
                ),
                insert_events=render(
                    "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state)"
                    " SELECT * FROM unnest($1::{2}[], $2::bigint[], $3::text[], $4::bytea[])"
                    " RETURNING notification_id",
                    self.events_table_name,
                ),
                links=render(
                    "INSERT INTO {0}.{1} (" + CHAIN_COLUMNS + ") SELECT * FROM unnest("
                    "{{positions}}::bigint[], {{ids}}::text[], {{versions}}::bigint[],"
                    " {{previous}}::bigint[], {{hashes}}::text[])",
                    self.chain_table,
                ),
                uuids=self.datastore.originator_id_type == "uuid",
            )
        return self._batch_writer

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert (lock the table, notify, one INSERT ... unnest), with the
        array of events sent in binary: the library's default text format escapes every
        byte of every payload in Python, which was the largest single cost of saving a
        billing run's ~25,000 events. Same statement, same rows, same transaction.

        Payloads over ~2 KB (a billing run's invoice with its lines: ~14 KB) are compressed
        by PostgreSQL; lz4, where the server has it, costs a fraction of the default pglz.
        Only how the server keeps the bytes changes: every reader gets the same bytes."""
        self._lock_table(curs)
        self._notify_channel(curs)
        if self.lz4:
            curs.execute("SET LOCAL default_toast_compression = lz4")
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        curs.execute(self.insert_events_binary, (events,))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert positions is not None
        # the events table is locked EXCLUSIVE by this transaction: the last link is final
        curs.execute(self.select_last_link)
        last = curs.fetchone()
        previous = (int(last["position"]), str(last["hash"])) if last else (0, GENESIS)
        rows = chain.chain_rows(previous, stored_events, positions)
        curs.execute(self.insert_links, [list(column) for column in zip(*rows, strict=True)])
        return positions


def _rendered(statement: Query, conn: psycopg.Connection[Any]) -> str:
    """A statement's text, as psycopg would send it (the library's are SQL or Composed)."""
    if isinstance(statement, (SQL, Composed)):
        return statement.as_string(conn)
    if isinstance(statement, bytes):
        return statement.decode()
    if isinstance(statement, str):
        return statement
    raise TypeError(f"a statement psycopg renders itself: {statement!r}")
