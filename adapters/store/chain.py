"""Tamper evidence: a hash chain over the whole event log, written with the events.

Every stored event gets a row in ``<events table>_chain`` in the SAME transaction as the event:
its position, aggregate, version, the position of the previous link, and
``hash = H(previous hash || sha256(position, aggregate, version, topic, stored bytes))``.
The chain lives beside the events, never inside their payload, so events stay exactly what the
domain recorded. Writers are serialised by both stores (SQLite's single writer; the PostgreSQL
recorder's EXCLUSIVE lock on the events table), so the chain has one well-defined order.

Saves made at the same moment by different threads of a process share one transaction (group
commit, ``group_commit.py``): each keeps its own version check, positions and atomicity.

``H`` is SHA-256, or HMAC-SHA-256 when ``TOLLBOOK_AUDIT_KEY`` is set: then someone with only
database access cannot re-compute a consistent chain after editing history.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
)

from adapters.store import library_internals
from adapters.store.group_commit import GroupCommit, Save
from adapters.store.library_errors import library_error
from adapters.store.read_only_refusal import MARKER, refused_as_read_only
from adapters.store.sqlite_readers import SqliteReaders

# the library internals below are overridden or called: a library that changed them stops the
# store here, before anything is written (signatures only; the tests check their code too).
# The PostgreSQL recorder is in chain_postgres.py: a store on SQLite never imports psycopg.
library_internals.check(store="sqlite")

GENESIS = "0" * 64
KEY_VARIABLE = "TOLLBOOK_AUDIT_KEY"


def chain_table(events_table: str) -> str:
    return f"{events_table}_chain"


def record_digest(
    position: int, originator_id: UUID | str, version: int, topic: str, state: Any
) -> bytes:
    """What one stored record is: where it sits, whose it is, and its exact bytes."""
    aggregate = originator_id.hex if isinstance(originator_id, UUID) else UUID(originator_id).hex
    head = f"{position}\n{aggregate}\n{version}\n{topic}\n".encode()
    # a raw SQL edit can turn SQLite's BLOB into TEXT: hash the same bytes either way
    body = state.encode() if isinstance(state, str) else bytes(state)
    return hashlib.sha256(head + body).digest()


def link(previous: str, digest: bytes, key: bytes | None = None) -> str:
    """The next link of the chain after ``previous`` (hex)."""
    message = bytes.fromhex(previous) + digest
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def audit_key() -> bytes | None:
    value = os.environ.get(KEY_VARIABLE, "")
    return value.encode() if value else None


def chain_rows(
    previous: tuple[int, str], events: Sequence[StoredEvent], positions: Sequence[int]
) -> list[tuple[int, str, int, int, str]]:
    """Chain rows (position, aggregate, version, previous position, hash) for new events."""
    key = audit_key()
    prev_position, prev_hash = previous
    rows = []
    for event, position in zip(events, positions, strict=True):
        digest = record_digest(
            position, event.originator_id, event.originator_version, event.topic, event.state
        )
        prev_hash = link(prev_hash, digest, key)
        aggregate = str(UUID(str(event.originator_id)))
        rows.append((position, aggregate, event.originator_version, prev_position, prev_hash))
        prev_position = position
    return rows


CHAIN_COLUMNS = "position, originator_id, originator_version, prev_position, hash"


def grouped(stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> bool:
    """Whether a save goes through group commit: one with events and no tracking record (the
    application passes ``tracking=None``); anything else takes the library's own path."""
    return bool(stored_events) and all(value is None for value in kwargs.values())


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, plus one chain row per event in the same transaction."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.chain_table = chain_table(events_table_name)  # the base __init__ needs it
        super().__init__(datastore, events_table_name)
        self.group = GroupCommit(self._write_saves)
        # an in-memory database is one connection's: its reads keep the library's pool
        memory = datastore.pool.is_sqlite_memory_mode
        self.readers = None if memory else SqliteReaders(self._open_reader, max_idle=16)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table} (position INTEGER PRIMARY KEY,"
            " originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL,"
            " prev_position INTEGER NOT NULL, hash TEXT NOT NULL)",
        ]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with refused_as_read_only():
            if not grouped(stored_events, kwargs):
                return super().insert_events(stored_events, **kwargs)
            return self.group.submit(stored_events)

    def _open_reader(self) -> sqlite3.Connection:
        pool = self.datastore.pool
        return sqlite3.connect(
            pool.db_name,
            uri=True,
            check_same_thread=False,
            isolation_level=None,  # autocommit: one statement, one snapshot
            timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's query, run as one statement on a kept connection: an aggregate's
        load spent ~80 µs in the library's pool and its BEGIN / ROLLBACK around a ~15 µs
        query, four loads per payment and allocation. One statement reads one snapshot, as
        the library's read transaction did (committed events only, nothing interlocked with
        writers on a file in WAL mode)."""
        if self.readers is None:
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        statement = (
            "SELECT originator_id, originator_version, topic, state"
            f" FROM {self.events_table_name} WHERE originator_id=?"
        )
        params: list[Any] = [
            originator_id.hex if isinstance(originator_id, UUID) else originator_id
        ]
        if gt is not None:
            statement += " AND originator_version>?"
            params.append(gt)
        if lte is not None:
            statement += " AND originator_version<=?"
            params.append(lte)
        statement += " ORDER BY originator_version " + ("DESC" if desc else "ASC")
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        try:
            with self.readers.connection() as conn:
                rows = conn.execute(statement, params).fetchall()
        except sqlite3.Error as error:
            raise library_error(error, sqlite3) from error
        return [
            StoredEvent(
                originator_id=self.convert_originator_id(row[0]),
                originator_version=row[1],
                topic=row[2],
                state=row[3],
            )
            for row in rows
        ]

    def _write_saves(self, saves: list[Save]) -> None:
        """One transaction for ``saves``: each inside a savepoint, so a save the events
        table's unique key refuses is undone alone (an IntegrityError for it), then the chain
        links of every written save."""
        written: list[tuple[Save, Sequence[int]]] = []
        with self.datastore.transaction(commit=True) as c:
            for save in saves:
                c.execute("SAVEPOINT tollbook_save")
                try:
                    positions = super()._insert_events(c, save.events)
                except sqlite3.IntegrityError as error:
                    if MARKER in str(error):  # the store is read-only: no save can be written
                        raise
                    c.execute("ROLLBACK TO tollbook_save")
                    c.execute("RELEASE tollbook_save")
                    save.error = IntegrityError(error)
                    continue
                c.execute("RELEASE tollbook_save")
                assert positions is not None
                written.append((save, positions))
            if written:
                self._chain(
                    c,
                    [e for save, _ in written for e in save.events],
                    [p for _, positions in written for p in positions],
                )
        for save, positions in written:  # committed
            save.positions = positions

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        self._chain(c, stored_events, positions)
        return positions

    def _chain(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], positions: Sequence[int]
    ) -> None:
        # read the last link after inserting: the write lock is ours, nobody can slip in
        c.execute(f"SELECT position, hash FROM {self.chain_table} ORDER BY position DESC LIMIT 1")
        last = c.fetchone()
        previous = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        c.executemany(
            f"INSERT INTO {self.chain_table} ({CHAIN_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            chain_rows(previous, stored_events, positions),
        )


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Finding:
    """One record that is not as the application wrote it."""

    position: int
    aggregate_id: str
    version: int | None
    # altered | removed | inserted | removed with its chain row | chain row removed | malformed
    problem: str
    detail: str = ""  # for malformed: which field of which row, and why


@dataclass(frozen=True)
class Record:
    """A stored event as read from the table; ``malformed`` says why it cannot be hashed as
    written (a field of a type or form the application never writes), else empty."""

    position: int
    originator_id: str
    version: int | None
    topic: str
    state: bytes
    malformed: str = ""


@dataclass(frozen=True)
class Link:
    """A chain row as read from the table; ``malformed`` as for :class:`Record`."""

    position: int
    originator_id: str
    version: int | None
    prev_position: int | None
    hash: str
    malformed: str = ""


def is_hash(value: object) -> bool:
    """A link hash as the chain writes it: 64 lowercase hex digits."""
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


HEX = frozenset("0123456789abcdef")


def verify(records: Iterator[Record], links: Iterator[Link]) -> tuple[list[Finding], Link | None]:
    """Walk events and chain rows together, in position order; report every broken record.

    An event with no chain row was inserted behind the application's back; a chain row with no
    event names an event that was removed; a hash that does not match names an altered event;
    a chain row whose previous position is not the previous row means rows were removed with
    their chain rows; a row the application could never have written (an aggregate id that is
    no UUID, a hash that is no hex) is malformed. After a finding the walk carries on from the
    stored hash, so one change is reported once, at its own record; after a malformed hash the
    next record cannot be checked against it and is not reported for that alone.
    """
    key = audit_key()
    findings: list[Finding] = []
    unchained: dict[int, int] = {}  # position of an event with no chain row -> its finding
    prev_position = 0
    prev_hash: str | None = GENESIS
    last: Link | None = None
    record, chain = next(records, None), next(links, None)
    while record is not None or chain is not None:
        if chain is None or (record is not None and record.position < chain.position):
            assert record is not None
            unchained[record.position] = len(findings)
            findings.append(
                Finding(record.position, record.originator_id, record.version, "inserted")
            )
            record = next(records, None)
            continue
        verifiable = chain.prev_position == prev_position and not chain.malformed
        if chain.malformed:
            findings.append(
                Finding(
                    chain.position,
                    chain.originator_id,
                    chain.version,
                    "malformed",
                    f"chain row: {chain.malformed}",
                )
            )
        elif chain.prev_position in unchained:
            # the event was chained once (this link was made from its row): the chain row went
            index = unchained[chain.prev_position]
            findings[index] = replace(
                findings[index],
                problem="chain row removed",
                detail="its chain row is gone, so the event cannot be checked",
            )
        elif chain.prev_position != prev_position:
            # rows removed together with their chain rows: this link was made from theirs
            assert chain.prev_position is not None
            findings.append(Finding(chain.prev_position, "?", None, "removed with its chain row"))
        if record is None or chain.position < record.position:
            findings.append(Finding(chain.position, chain.originator_id, chain.version, "removed"))
        else:
            if record.malformed:
                findings.append(
                    Finding(
                        record.position,
                        record.originator_id,
                        record.version,
                        "malformed",
                        f"event: {record.malformed}",
                    )
                )
            elif not chain.malformed and _altered(record, chain, verifiable, prev_hash, key):
                findings.append(
                    Finding(record.position, record.originator_id, record.version, "altered")
                )
            record = next(records, None)
        prev_position, last = chain.position, chain
        prev_hash = chain.hash if is_hash(chain.hash) else None
        chain = next(links, None)
    return findings, last


def _altered(
    record: Record, chain: Link, verifiable: bool, prev_hash: str | None, key: bytes | None
) -> bool:
    """Whether a well-formed record differs from what its well-formed chain row says."""
    if (UUID(record.originator_id), record.version) != (UUID(chain.originator_id), chain.version):
        return True
    if not verifiable or prev_hash is None:
        return False
    assert record.version is not None
    digest = record_digest(
        record.position, record.originator_id, record.version, record.topic, record.state
    )
    return link(prev_hash, digest, key) != chain.hash
