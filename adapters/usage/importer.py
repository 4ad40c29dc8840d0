"""CDR import: a whole file in one transaction, bulk-loaded, idempotent by call id.

Rows stream from the file into a stage table; duplicates and conflicts are found in SQL, so
memory stays flat. On PostgreSQL the file's lines are COPYed raw and checked and converted in
SQL, a chunk moved into usage_cdrs while the next is read, Python judging only the lines SQL
is not sure of (adapters/usage/pg_stage.py); on SQLite every row is parsed in Python, the
whole file staged in batched inserts, then moved. Bad rows go to a rejects file with their
line number and reason; a corrupt file, or one with more rejects than allowed, rolls
everything back.

What any file can cost is capped (:class:`ImportLimits`): the length of a line, the number
of rejects (so the rejects file) and of blank lines, and what is kept of each rejected row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

import structlog

from adapters import metrics
from adapters.csv_output import SafeCsvWriter
from adapters.ledger.application import Ledger
from adapters.queries import customer_currencies
from adapters.store.database import Database
from adapters.usage.cdr_csv import COLUMNS, RowRejected, StageRow, open_cdrs, parse_row, record_of
from adapters.usage.pg_stage import Loaded, PostgresStage
from adapters.usage.schema import (
    CDR_COLUMNS,
    STAGE_SCHEMA,
    ensure_schema,
    last_batch,
    same_content,
)
from domain.errors import InvalidInput

log = structlog.get_logger("tollbook.usage")

BATCH_ROWS = 5000
#: Progress callback: (bytes read so far, total bytes of the file).
Progress = Callable[[int, int], None]
#: Characters kept of each field of a rejected row (and of a reason) in the rejects file.
REJECT_FIELD_CHARS = 200


@dataclass(frozen=True)
class ImportLimits:
    """What one import may cost, whatever the file (documented in docs/usage-billing.md)."""

    #: Characters in a line; a longer one is rejected (and skipped unread into memory).
    max_line_length: int = 4096
    #: Rejected rows; one more stops the import (nothing imported; the rejects file stays).
    max_rejects: int = 10_000
    #: Empty lines (skipped); one more makes the file corrupt (nothing imported).
    max_blank_lines: int = 1_000


#: The bounds of each limit an operator may set (CLI options).
LIMIT_RANGES = {
    "max_line_length": (256, 1 << 20),
    "max_rejects": (0, 1_000_000),
    "max_blank_lines": (0, 1_000_000),
}


class TooManyRejects(InvalidInput):
    """More rows rejected than the import allows: the file is imported not at all."""

    code = "too_many_rejects"


@dataclass(frozen=True)
class ImportSummary:
    file: str
    batch: int
    rows: int
    inserted: int
    duplicates: int
    rejected: int
    rejects_file: str | None
    same_file_imported_before: bool
    blank_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Rejects:
    """The rejects CSV, created on the first reject only; at most ``limit`` + 1 rows, each of
    bounded size (unprintable characters escaped, then fields cut to REJECT_FIELD_CHARS). It is
    read by people, in a spreadsheet: formulas in the rejected fields are neutralised
    (adapters/csv_output.py)."""

    def __init__(self, path: Path, source: Path, limit: int) -> None:
        self.path, self.source, self.limit, self.count = path, source, limit, 0
        self._lock = threading.Lock()  # PostgreSQL: the reader and the mover both reject
        self._file: IO[str] | None = None
        self._writer: SafeCsvWriter | None = None

    def add(self, line_no: int, reason: str, record: list[str]) -> None:
        with self._lock:
            self._add(line_no, reason, record)

    def _add(self, line_no: int, reason: str, record: list[str]) -> None:
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
            self._writer = SafeCsvWriter(self._file, ["line", "reason", *COLUMNS], numeric=["line"])
            self._writer.header()
        kept = [_kept(field) for field in record[: len(COLUMNS)]]
        self._writer.row([line_no, _kept(reason), *kept])
        self.count += 1
        if self.count > self.limit:
            raise TooManyRejects(
                f"{self.source}: more than {self.limit} rows rejected (stopped at line"
                f" {line_no}; see {self.path}, or raise --max-rejects): nothing was imported"
                " from it"
            )

    def close(self, *, keep: bool) -> None:
        if self._file is not None:
            self._file.close()
            if not keep:
                self.path.unlink(missing_ok=True)


def _kept(text: str) -> str:
    """What the rejects file keeps of a field: its start, readable (escapes, not raw bytes)."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else _escape(char) for char in text)
    return text[:REJECT_FIELD_CHARS] + ("..." if len(text) > REJECT_FIELD_CHARS else "")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def rejects_path_for(path: Path) -> Path:
    name = path.name.removesuffix(".gz").removesuffix(".csv")
    return path.with_name(f"{name}.rejects.csv")


def import_cdrs(
    ledger: Ledger,
    db: Database,
    path: Path,
    *,
    rejects: Path | None = None,
    progress: Progress | None = None,
    limits: ImportLimits = ImportLimits(),  # frozen: one shared default is safe
) -> ImportSummary:
    """Import one CDR file; all of it (minus rejected rows) or, if the file is corrupt or has
    more rejects than ``limits`` allow, none."""
    with metrics.timed(metrics.IMPORT_DURATION, outcome="ok"):
        summary = _import_cdrs(ledger, db, path, rejects, progress, limits)
    metrics.IMPORT_ROWS.labels(result="inserted").inc(summary.inserted)
    metrics.IMPORT_ROWS.labels(result="duplicate").inc(summary.duplicates)
    metrics.IMPORT_ROWS.labels(result="rejected").inc(summary.rejected)
    return summary


def _import_cdrs(
    ledger: Ledger,
    db: Database,
    path: Path,
    rejects: Path | None,
    progress: Progress | None,
    limits: ImportLimits,
) -> ImportSummary:
    ensure_schema(db)
    currencies = customer_currencies(ledger)
    rejected = _Rejects(rejects or rejects_path_for(path), path, limits.max_rejects)
    total_bytes = path.stat().st_size if path.exists() else 0
    ok = keep_rejects = False
    loaded: Loaded | None = None
    try:
        # PostgreSQL stages over a second connection, which must outlive the transaction: it
        # first drops a killed import's stage (whether or not this import succeeds), and
        # analyses what the import wrote once it committed (no third connection for either)
        with ExitStack() as stack:
            stage = stack.enter_context(PostgresStage(db)) if db.dialect == "postgres" else None
            reader = stack.enter_context(
                open_cdrs(
                    path,
                    reject=rejected.add,
                    max_line_length=limits.max_line_length,
                    max_blank_lines=limits.max_blank_lines,
                )
            )
            with db.connect() as conn:
                if db.dialect == "postgres":
                    conn.execute("LOCK TABLE usage_imports IN EXCLUSIVE MODE")  # in order
                batch = last_batch(conn) + 1

                def good_rows() -> Iterator[StageRow]:
                    for line_no, record in reader.rows:
                        try:
                            yield parse_row(line_no, record, reader.order, currencies)
                        except RowRejected as reason:
                            rejected.add(line_no, str(reason), record)
                        if progress and line_no % BATCH_ROWS == 0:
                            progress(reader.bytes_read(), total_bytes)

                if stage is not None:

                    def advanced() -> None:
                        if progress:
                            progress(reader.bytes_read(), total_bytes)

                    loaded = stage.load(
                        conn,
                        batch,
                        reader.batches,
                        rejected.add,
                        order=reader.order,
                        header=reader.header,
                        currencies=currencies,
                        progress=advanced,
                        share_read=lambda: reader.position() / total_bytes if total_bytes else None,
                    )
                    staged, conflicts, inserted = loaded.staged, loaded.conflicts, loaded.inserted
                else:
                    conn.execute(STAGE_SCHEMA)
                    staged = _stage(conn, good_rows())
                    conflicts = _reject_conflicts(conn, rejected)
                    inserted = _insert_new(db, conn, batch)
                    conn.execute("DROP TABLE usage_stage_dups")
                    conn.execute("DROP TABLE usage_stage")
                if progress:
                    progress(total_bytes, total_bytes)
                duplicates = staged - conflicts - inserted
                sha = reader.sha256()
                before = conn.execute(
                    db.sql("SELECT COUNT(*) FROM usage_imports WHERE file_sha256 = ?"), (sha,)
                ).fetchone()[0]
                rows = staged + rejected.count - conflicts
                conn.execute(
                    db.sql("INSERT INTO usage_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                    (
                        batch,
                        path.name,
                        sha,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                        rows,
                        inserted,
                        duplicates,
                        rejected.count,
                    ),
                )
            ok = True  # committed
            if stage is not None and loaded is not None:
                stage.analyse(loaded)  # fresh statistics for the billing run's plans
    except TooManyRejects:
        keep_rejects = True  # the rows that stopped it, for a person to look at
        raise
    finally:
        rejected.close(keep=ok or keep_rejects)
    summary = ImportSummary(
        file=str(path),
        batch=batch,
        rows=rows,
        inserted=inserted,
        duplicates=duplicates,
        rejected=rejected.count,
        rejects_file=str(rejected.path) if rejected.count else None,
        same_file_imported_before=before > 0,
        blank_lines=reader.blank_lines(),
    )
    log.info("cdrs imported", **summary.as_dict())
    return summary


def _stage(conn: Any, rows: Iterator[StageRow]) -> int:
    """SQLite: the file's good rows into the temporary stage table, in batched inserts."""
    columns = ", ".join(("line_no", *CDR_COLUMNS))
    insert = f"INSERT INTO usage_stage ({columns}) VALUES ({', '.join('?' * 13)})"
    count = 0
    for chunk in iter(lambda: list(islice(rows, BATCH_ROWS)), []):
        conn.executemany(insert, chunk)
        count += len(chunk)
    return count


_SAME = same_content("a", "b")


def _reject_conflicts(conn: Any, rejected: _Rejects) -> int:
    """Reject rows whose call id is already stored, or appears earlier in the file, with
    different content. Identical repeats are duplicates, skipped without a word."""
    conn.execute("CREATE INDEX usage_stage_call ON usage_stage (call_id, line_no)")
    conn.execute("ANALYZE usage_stage")  # a fresh temp table has no statistics: plans go wrong
    # call ids the file repeats, with the line of their first occurrence (usually very few)
    conn.execute(
        "CREATE TEMP TABLE usage_stage_dups AS SELECT call_id, MIN(line_no) AS first_line"
        " FROM usage_stage GROUP BY call_id HAVING COUNT(*) > 1"
    )
    conn.execute("CREATE TEMP TABLE usage_stage_rejects (line_no BIGINT PRIMARY KEY, reason TEXT)")
    conn.execute(
        "INSERT INTO usage_stage_rejects SELECT a.line_no,"
        " 'call id ' || a.call_id || ' was already imported with different content'"
        f" FROM usage_stage a JOIN usage_cdrs b ON b.call_id = a.call_id WHERE NOT ({_SAME})"
    )
    conn.execute(
        "INSERT INTO usage_stage_rejects SELECT a.line_no,"
        " 'duplicate call id ' || a.call_id || ' with different content (first on line '"
        " || CAST(d.first_line AS TEXT) || ')'"
        " FROM usage_stage_dups d"
        " JOIN usage_stage a ON a.call_id = d.call_id AND a.line_no > d.first_line"
        " JOIN usage_stage b ON b.call_id = d.call_id AND b.line_no = d.first_line"
        f" WHERE NOT ({_SAME})"
        " AND a.line_no NOT IN (SELECT line_no FROM usage_stage_rejects)"
    )
    columns = ", ".join(f"s.{c}" for c in CDR_COLUMNS)
    cursor = conn.execute(
        f"SELECT r.line_no, r.reason, {columns} FROM usage_stage_rejects r"
        " JOIN usage_stage s ON s.line_no = r.line_no ORDER BY r.line_no"
    )
    count = 0
    for line_no, reason, *row in cursor:
        rejected.add(int(line_no), reason, record_of(tuple(row)))
        count += 1
    conn.execute(
        "DELETE FROM usage_stage WHERE line_no IN (SELECT line_no FROM usage_stage_rejects)"
    )
    conn.execute("DROP TABLE usage_stage_rejects")
    return count


def _insert_new(db: Database, conn: Any, batch: int) -> int:
    """Move the first occurrence of every call id not yet stored into usage_cdrs."""
    columns = ", ".join(CDR_COLUMNS)
    cursor = conn.execute(
        db.sql(
            f"INSERT INTO usage_cdrs ({columns}, batch)"
            f" SELECT {', '.join(f's.{c}' for c in CDR_COLUMNS)}, ? FROM usage_stage s"
            " WHERE NOT EXISTS (SELECT 1 FROM usage_stage_dups d"
            " WHERE d.call_id = s.call_id AND s.line_no > d.first_line)"
            " AND NOT EXISTS (SELECT 1 FROM usage_cdrs c WHERE c.call_id = s.call_id)"
        ),
        (batch,),
    )
    return int(cursor.rowcount)
