"""The audit chain (chain.py) written by the PostgreSQL recorder: one chain row per event, in
the events' transaction; concurrent saves written in one transaction (group commit,
group_commit.py), with those of the other tenants of its node open in the process
(node_commit.py). Apart from chain.py so that a store on SQLite never imports psycopg.
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
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from adapters.store import batch_statements, chain, library_internals
from adapters.store.chain import CHAIN_COLUMNS, GENESIS, chain_table, grouped
from adapters.store.group_commit import GroupCommit, Save, conflicts
from adapters.store.library_errors import library_error
from adapters.store.node_commit import node_commit
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
        self.group = GroupCommit(self._write_saves)
        #: the tables' order when one transaction locks several stores' (node_commit.py)
        self.lock_order = (datastore.schema, events_table_name)
        # group commit writes rows as plain arrays, not the library's composite type: that
        # is one per schema and cannot be registered for several schemas on one connection
        # (psycopg makes one Python class per type name), and a node's batch writes any
        # tenant's events on one connection
        self.tables = batch_statements.Tables(
            datastore.schema, events_table_name, self.chain_table, datastore.originator_id_type
        )
        key = node_key(datastore)
        self.node = None if key is None else node_commit(key, write_parts)
        if self.node is not None:
            self.node.join(self)
        self._select_events = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {0}.{1}"
            " WHERE originator_id = %s"
        ).format(schema, Identifier(events_table_name))
        #: the statement's text per (gt, lte, desc, limit) shape, rendered once
        self._select_events_text: dict[tuple[bool, bool, bool, bool], bytes] = {}
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
            if self.node is not None and self.node.shared():
                # other tenants of this node are open here: their saves and this one may
                # share a transaction (node_commit.py)
                return self.node.submit(self, stored_events)
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
        library's pool: committed events only), with less Python around it: the statement's
        text rendered once per shape, not composed per call; the pool's connection taken and
        given back without the library's wrapper (opening the pool, type registration, the
        connection's block); rows as tuples. An aggregate's load spent ~155 µs of CPU here,
        four loads a payment and allocation; now ~105 µs. The same round trip, the same
        rows, the library's errors."""
        pool = self.datastore.pool
        if pool.closed:  # not opened yet (or closed): the library opens it, or refuses
            events: Sequence[StoredEvent] = super().select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            return events
        params: list[Any] = [originator_id]
        params += [value for value in (gt, lte, limit) if value is not None]
        shape = (gt is not None, lte is not None, desc, limit is not None)
        try:
            conn = pool.getconn()
            try:
                statement = self._select_events_text.get(shape)
                if statement is None:
                    statement = self._select_statement(*shape).as_bytes(conn)
                    self._select_events_text[shape] = statement
                with conn.cursor(row_factory=tuple_row) as curs:
                    curs.execute(statement, params, prepare=True)
                    rows = curs.fetchall()
            finally:
                pool.putconn(conn)  # one in a transaction or broken is rolled back or replaced
        except psycopg.Error as error:
            raise library_error(error, psycopg, as_text=True) from error
        return [
            StoredEvent(
                originator_id=row[0], originator_version=row[1], topic=row[2], state=bytes(row[3])
            )
            for row in rows
        ]

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
        """One transaction for ``saves`` (group commit), waiting for the table's lock."""
        write_parts([(self, saves)], wait=True)

    def submit_alone(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        return self.group.submit(events)

    def in_use(self) -> bool:
        return not self.datastore.pool.closed

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


def node_key(datastore: PostgresDatastore) -> tuple[Any, ...] | None:
    """What a store's connections are, but its schema: stores with the same key are tenants
    of one node whose saves may share a transaction (node_commit.py). None (never shared): a
    password asked for by a function, which could differ per store."""
    pool = datastore.pool
    if getattr(pool, "get_password_func", None) is not None or not isinstance(pool.kwargs, dict):
        return None
    kwargs = pool.kwargs
    return (
        tuple(kwargs.get(name) for name in ("host", "port", "dbname", "user", "password")),
        datastore.idle_in_transaction_session_timeout,
    )


def write_parts(parts: Sequence[tuple[Any, list[Save]]], *, wait: bool = False) -> None:
    """One transaction for the saves of one or more stores of a node (``parts``: each
    ``ChainedPostgresRecorder`` with its saves, in lock order), in three round trips of one
    statement each whatever the number of stores (batch_statements.py): lock the events
    tables and read every store's chain head and which of its saves' versions it holds;
    insert each store's events of the saves that do not conflict; insert each store's links
    and commit. Nothing but the hashing runs between them.

    ``wait``: one store, waiting for its lock (its own group commit). Otherwise the tables are
    locked together with ``NOWAIT``: a table busy elsewhere fails the whole transaction at once
    (node_commit.py then writes each save on its own store's group commit)."""
    recorders: list[ChainedPostgresRecorder] = [recorder for recorder, _ in parts]
    tables = tuple(recorder.tables for recorder in recorders)
    if wait and len(parts) != 1:
        raise ValueError("only one store's batch waits for its lock")
    for _, saves in parts:
        for save in saves:  # a retry starts afresh
            save.error = None
    done: list[tuple[list[Save], list[int]]] = []
    first = recorders[0]
    with (
        first.datastore.get_connection() as conn,
        conn.pipeline(),
        conn.transaction(),
        conn.cursor() as curs,
    ):
        if wait:
            first._lock_table(curs)
        else:
            curs.execute(batch_statements.lock_nowait(tables))
        channels: set[str] = set()
        for recorder in recorders:  # tenants of a node may share a channel: one NOTIFY
            if recorder.channel_name not in channels:
                channels.add(recorder.channel_name)
                recorder._notify_channel(curs)
        if any(recorder.lz4 for recorder in recorders):
            curs.execute("SET LOCAL default_toast_compression = lz4")
        keys: list[Any] = []
        for _, saves in parts:
            keys.append([e.originator_id for save in saves for e in save.events])
            keys.append([e.originator_version for save in saves for e in save.events])
        curs.execute(batch_statements.read_heads(tables), keys, prepare=True)
        heads: list[tuple[int, str]] = [(0, GENESIS)] * len(parts)
        taken: list[set[tuple[str, int]]] = [set() for _ in parts]
        for row in curs.fetchall():
            if row["id"] is None:
                heads[row["part"]] = (int(row["num"]), str(row["hash"]))
            else:
                taken[row["part"]].add((str(row["id"]), int(row["num"])))
        writes = []
        for part, (_, saves) in enumerate(parts):
            written = conflicts(saves, taken[part])
            if written:
                writes.append((part, written, [e for save in written for e in save.events]))
        if not writes:
            return
        columns: list[Any] = []
        for _, _, events in writes:
            columns.append([e.originator_id for e in events])
            columns.append([e.originator_version for e in events])
            columns.append([e.topic for e in events])
            columns.append([e.state for e in events])
        written_tables = tuple(tables[part] for part, _, _ in writes)
        curs.execute(batch_statements.insert_events(written_tables), columns, prepare=True)
        positions: list[list[int]] = [[] for _ in writes]
        for row in curs.fetchall():
            positions[row["part"]].append(int(row["notification_id"]))
        links: list[Any] = []
        for (part, written, events), numbers in zip(writes, positions, strict=True):
            if len(numbers) != len(events):
                raise ProgrammingError(f"{len(numbers)} positions for {len(events)} events")
            numbers.sort()  # one INSERT takes its sequence's numbers in the order of its rows
            rows = chain.chain_rows(heads[part], events, numbers)
            links += [list(column) for column in zip(*rows, strict=True)]
            done.append((written, numbers))
        curs.execute(batch_statements.insert_links(written_tables), links, prepare=True)
    for written, numbers in done:  # committed
        start = 0
        for save in written:
            save.positions = numbers[start : start + len(save.events)]
            start += len(save.events)
