"""Writing verified pieces into an empty database: the events with their chain rows at their
own positions, the usage CDRs of every piece, and the other tables as the last piece has them.

All of it in one transaction: a load that fails writes nothing. The target's tables are made
first by the migrations up to the last piece's schema version (the shape its rows have), and
the remaining steps run after the load, exactly as an upgrade of a live database would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from adapters.backup.lines import USAGE_FILE, BadLine, decode_row, table_file
from adapters.backup.pieces import Piece, StepFailed, event_lines, lines
from adapters.backup.tables import USAGE_TABLE, carried, column_names, table_names
from adapters.store.chain import CHAIN_COLUMNS, chain_table
from adapters.store.database import Database
from adapters.usage.partitions import Month, create_partition, partitions

BATCH = 1000
T = TypeVar("T")
Progress = Callable[[str, int], None]


def table_with_rows(db: Database, events_table: str) -> str:
    """Why the target is not empty (a table that has rows), or empty text when it is."""
    with db.connect(write=False) as conn:
        present = table_names(conn, db.dialect)
        wanted = [events_table, USAGE_TABLE] + [t for t in present if carried(t, events_table)]
        for table in wanted:
            if table in present and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                return table
    return ""


class Loader:
    """One transaction on the target that takes every piece's rows."""

    def __init__(self, db: Database, conn: Any, events_table: str, progress: Progress) -> None:
        self.db, self.conn, self.events_table, self.progress = db, conn, events_table, progress
        self.postgres = db.dialect == "postgres"
        self.months: set[Month] | None = None  # PostgreSQL: usage partitions made so far
        self.loaded = {"events loaded": 0, "CDRs loaded": 0}  # over every piece so far

    def load(self, pieces: Sequence[Piece]) -> str:
        if self.postgres:  # as the recorder does: no writer slips in between
            self.conn.execute(f"LOCK TABLE {self.events_table} IN EXCLUSIVE MODE")
        # SQLite's write lock is this transaction's already; look again under the lock
        if self.conn.execute(f"SELECT 1 FROM {self.events_table} LIMIT 1").fetchone():
            raise StepFailed("an event was written to the target while the restore began")
        count = sum(self._events(piece) for piece in pieces)
        cdrs = sum(self._usage(piece) for piece in pieces)
        last = pieces[-1]
        self._check_usage(last)
        rows = sum(self._table(last, table) for table in last.manifest.tables)
        if self.postgres:
            self._after_postgres_load(last.manifest.tables)
        return (
            f"{count} events with their chain links, {cdrs} CDRs,"
            f" {rows} rows of {len(last.manifest.tables)} tables"
        )

    def _events(self, piece: Piece) -> int:
        position = "notification_id" if self.postgres else "rowid"
        events = (position, "originator_id", "originator_version", "topic", "state")
        links = tuple(CHAIN_COLUMNS.split(", "))
        count = 0
        for batch in _batches(event_lines(piece)):
            self._insert(
                self.events_table,
                events,
                [
                    (e.position, self._id(e.aggregate_id), e.version, e.topic, e.state)
                    for e in batch
                ],
            )
            self._insert(
                chain_table(self.events_table),
                links,
                [(e.position, e.aggregate_id, e.version, e.prev_position, e.hash) for e in batch],
            )
            count += len(batch)
            self._advanced("events loaded", len(batch))
        return count

    def _advanced(self, what: str, count: int) -> None:
        self.loaded[what] += count
        self.progress(what, self.loaded[what])

    def _id(self, aggregate_id: str) -> Any:
        """As the library's recorder stores an aggregate id: a uuid column on PostgreSQL,
        32 hex digits on SQLite (the chain rows keep the hyphenated form)."""
        return UUID(aggregate_id) if self.postgres else UUID(aggregate_id).hex

    def _usage(self, piece: Piece) -> int:
        columns, rows = self._rows(piece, USAGE_FILE, USAGE_TABLE)
        start = columns.index("start_epoch")
        count = 0
        for batch in _batches(rows):
            if self.postgres:
                self._partitions({Month.of(int(row[start])) for row in batch})
            self._insert(USAGE_TABLE, columns, batch)
            count += len(batch)
            self._advanced("CDRs loaded", len(batch))
        return count

    def _check_usage(self, last: Piece) -> None:
        """The database holds the CDRs the files did (a failure rolls the load back)."""
        rows, charges = self.conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(charge_micros), 0) FROM {USAGE_TABLE}"
        ).fetchone()
        wanted = last.manifest.usage
        if (int(rows), int(charges)) != (wanted.rows, wanted.charge_micros):
            raise StepFailed(
                f"the database took {rows} CDRs charging {charges}; the pieces hold"
                f" {wanted.rows} charging {wanted.charge_micros}: nothing was loaded"
            )

    def _partitions(self, months: set[Month]) -> None:
        """PostgreSQL at schema version 2 or later: a partition for each month of CDRs."""
        row = self.conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (USAGE_TABLE,)
        ).fetchone()
        if row is None or row[0] != "p":
            return
        if self.months is None:
            self.months = set(partitions(self.conn))
        for month in sorted(months - self.months):
            create_partition(self.conn, month)
            self.months.add(month)

    def _table(self, piece: Piece, table: str) -> int:
        columns, rows = self._rows(piece, table_file(table), table)
        count = 0
        for batch in _batches(rows):
            self._insert(table, columns, batch)
            count += len(batch)
        return count

    def _rows(self, piece: Piece, name: str, table: str) -> tuple[list[str], Iterator[list[Any]]]:
        """The columns a file's header names (each one the target's table has) and its rows."""
        numbered = lines(piece.file(name))
        try:
            _, first = next(numbered)
            header = json.loads(first)
        except (StopIteration, ValueError, BadLine):
            raise StepFailed(f"{piece.label}: {name} has no header line") from None
        columns = header.get("columns") if isinstance(header, dict) else None
        if header.get("table") != table or not isinstance(columns, list) or not columns:
            raise StepFailed(f"{piece.label}: {name} is not the file of table {table}")
        known = column_names(self.conn, self.db.dialect, table)
        unknown = [c for c in columns if c not in known]
        if not known or unknown:
            raise StepFailed(
                f"{piece.label}: {name} holds {table}"
                f"{'.' + str(unknown[0]) if unknown else ''}, which this database does not have"
            )
        return [str(c) for c in columns], self._decoded(piece, name, numbered, len(columns))

    @staticmethod
    def _decoded(
        piece: Piece, name: str, numbered: Iterator[tuple[int, bytes]], width: int
    ) -> Iterator[list[Any]]:
        try:
            for number, line in numbered:
                yield _row(piece, name, number, line, width)
        except BadLine as error:  # a line cut off: the message has its number
            raise StepFailed(f"{piece.label}: {name}: {error}") from None

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows into ``table`` (PostgreSQL: by COPY, several times faster than INSERTs)."""
        names = ", ".join(columns)
        if self.postgres:
            with (
                self.conn.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def _after_postgres_load(self, tables: Sequence[str]) -> None:
        """Sequences past the restored ids (so new rows get new ones), and the call-id
        index of the usage (derived from the CDRs; made by migration 2 if it runs later)."""
        self._advance(self.events_table, "notification_id")
        for table in tables:
            for (column,) in self.conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = %s AND column_default LIKE 'nextval%%'",
                (table,),
            ).fetchall():
                self._advance(table, str(column))
        if "usage_call_ids" in table_names(self.conn, "postgres"):
            self.conn.execute(
                "INSERT INTO usage_call_ids (call_id, account, start_epoch)"
                f" SELECT call_id, account, start_epoch FROM {USAGE_TABLE}"
                " ON CONFLICT (call_id) DO NOTHING"
            )

    def _advance(self, table: str, column: str) -> None:
        self.conn.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({column}), 1),"
            f" MAX({column}) IS NOT NULL) FROM {table}",
            (table, column),
        )


def _row(piece: Piece, name: str, number: int, line: bytes, width: int) -> list[Any]:
    try:
        return decode_row(line, width)
    except BadLine as error:
        raise StepFailed(f"{piece.label}: {name} line {number}: {error}") from None


def _batches(items: Iterable[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
