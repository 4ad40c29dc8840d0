"""PostgreSQL CDR import: the file's lines COPYed raw, checked and converted in SQL.

Python reads the file a chunk at a time and COPYs its lines, numbered (a plain line as its
fields, any other whole), into a temporary table of a second connection of its own, the
staging one. That connection converts the chunk in one statement (:func:`conversion`: the
checks of ``parse_row`` and the conversion, set-based) and writes the good rows, converted,
into an unlogged stage table. The import's transaction, on another thread, meanwhile moves
the chunk before from the stage into usage_cdrs (computing each row's hash as it goes).
Python never touches the usual row one by one.

SQL is sure of a row only in the usual shapes (a plain decimal, ``YYYY-MM-DDTHH:MM:SSZ``, ...)
and when every check of ``parse_row`` passes. Any other line (a quoted field, an odd time,
a bad value) is handed back and judged by the same Python code as on SQLite
(adapters/usage/cdr_csv.py ``parse_row``): rejected with its reason, or converted there and
added to the stage. When a chunk has rows converted in Python, or repeats a call id, it is
moved in line order so the first line of a call id still wins.

Call ids are unique through ``usage_call_ids`` (usage_cdrs is partitioned by month, and a
partitioned table's unique index must hold start_epoch); a chunk inserts its ids there first.
A month's partition is made when a chunk first needs it, in the import's transaction.

The stage is scratch: usage_cdrs changes only in the import's transaction, so a corrupt file
or a crash part-way still imports nothing. A stage left behind by a crashed import is
dropped when the next import starts, before it reads its file (imports run one at a time:
they lock usage_imports first); the temporary table goes with its connection.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from uuid import uuid4

import psycopg
import structlog

from adapters.store.database import Database
from adapters.usage.cdr_csv import (
    COLUMNS,
    LineBatch,
    RowRejected,
    StageRow,
    parse_row,
    record_of,
    split_line,
)
from adapters.usage.partitions import Month, create_partition, months_between, partitions
from adapters.usage.schema import CDR_COLUMNS, CDR_TYPES, same_content
from domain.usage import (
    CDR_END_EPOCH,
    CDR_FIRST_EPOCH,
    CDR_MAX_CALL_ID,
    CDR_MAX_CHARGE,
    CDR_MAX_DESTINATION,
    CDR_MAX_DIALLED,
    CDR_MAX_PREFIX,
    CDR_MAX_RATE,
    CDR_MAX_SECONDS,
    CDR_RATE_PLACES,
    MICROS,
)

log = structlog.get_logger("tollbook.usage")

#: Lines per staged chunk, at most: big enough that a chunk's statements are mostly row work
#: (at 25,000 the backends' CPU per row is the same as at 100,000), small enough that the first
#: chunk (converted with no insert to overlap) and the last (inserted after reading ends) are
#: short: at 100,000 those two were half the time of a 200,000-line file.
CHUNK_ROWS = 25_000
#: ... and at least (about one read of the file, see adapters/usage/cdr_csv.py CHUNK_BYTES).
MIN_CHUNK_ROWS = 2_500
#: The staging and the mover are a two-stage pipeline of about equal speed (~7 us a row each):
#: an import takes about a row's time for every line, plus one chunk's time (the biggest
#: chunk is waited for once, whether first or last), plus ~3 ms a chunk (its statements, its
#: commit, Python around them). The sum is least at chunks of sqrt(lines x 3 ms / 7 us), about
#: sqrt(lines x CHUNK_FACTOR): 2,700 lines for a file of 20,000, 8,500 for 200,000, the
#: maximum from 1,700,000 on.
CHUNK_FACTOR = 360


def chunk_rows(lines: float | None) -> int:
    """Lines per chunk for a file of about ``lines`` lines (None: not known)."""
    if lines is None:
        return CHUNK_ROWS
    return min(CHUNK_ROWS, max(MIN_CHUNK_ROWS, int(math.sqrt(lines * CHUNK_FACTOR))))


PREFIX = "usage_stage_"
#: reject(line number, reason, the row as the file had it)
Reject = Callable[[int, str, list[str]], None]
ACCOUNTS = "usage_accounts"
#: the staging connection's temporary table of one chunk's raw lines
RAW = "usage_raw_lines"

_COLUMNS = ", ".join(CDR_COLUMNS)
#: The stage holds every usage_cdrs column but the row hash: the mover computes it as it
#: inserts, which puts that work (a sha256 a row) on the import's core rather than on the
#: staging one, the busier of the two.
assert CDR_COLUMNS[-1] == "row_hash"
_STAGED = CDR_COLUMNS[:-1]
_STAGED_COLUMNS = ", ".join(_STAGED)
_STAGED_TYPES = ",".join(column for column in CDR_TYPES.split(",") if column.split()[0] in _STAGED)
_SAME = same_content("d", "c")


@dataclass
class Loaded:
    staged: int = 0
    inserted: int = 0
    conflicts: int = 0
    #: the lines of the chunks some of whose rows were not inserted (duplicates or
    #: conflicts), a run of such chunks in one range
    dirty: list[Lines] = field(default_factory=list)
    #: whether the chunk counted last was one of them
    after_dirty: bool = False
    #: the first and last start_epoch of the good rows (which partitions to analyse)
    first_epoch: int | None = None
    last_epoch: int | None = None
    #: the months between them that have a partition (the ones to analyse)
    months: list[Month] = field(default_factory=list)


@dataclass(frozen=True)
class Lines:
    """Staged lines first..last (the stage's index on line_no finds them)."""

    first: int
    last: int

    def where(self, alias: str = "s") -> str:
        return f"{alias}.line_no BETWEEN {int(self.first)} AND {int(self.last)}"


@dataclass(frozen=True)
class Chunk:
    """A staged chunk, converted: its good rows are the stage's rows of ``lines``."""

    lines: Lines
    good: int
    #: rows Python converted are among them: move in line order
    ordered: bool

    @property
    def good_rows(self) -> str:
        return self.lines.where()


#: the start_time shapes SQL converts (digits as 9); Python's ``fromisoformat`` takes more
_TIMES = ("9999-99-99T99:99:99Z", "9999-99-99T99:99:99", "9999-99-99 99:99:99",
          "9999-99-99 99:99:99Z", "9999-99-99T99:99:99+99:99", "9999-99-99T99:99:99-99:99",
          "9999-99-99 99:99:99+99:99", "9999-99-99 99:99:99-99:99")  # fmt: skip
_DIGITS = "'0123456789'"


def _whole(value: str) -> str:
    """SQL: ``value`` (digits only: checked with the others) is a number of seconds
    ``_seconds`` takes, at most 6 digits once leading zeros go (the limit is checked on the
    number)."""
    # most are short: the length alone settles them, without stripping
    return f"{value} <> '' AND (length({value}) <= 6 OR length(ltrim({value}, '0')) <= 6)"


def _plain(value: str, places: int) -> str:
    """SQL: ``value`` (digits and at most one point: checked with the others) is a plain
    decimal with a digit and at most ``places`` decimals as written."""
    # a short one cannot have too many decimals: its length settles it, without a search
    return (
        f"{value} NOT IN ('', '.') AND (length({value}) <= {places + 1}"
        f" OR strpos({value}, '.') = 0 OR length({value}) - strpos({value}, '.') <= {places})"
    )


#: the stage's columns: the line number, the 11 fields in the file's order, and the whole
#: line when it is not a plain one (see adapters/usage/cdr_csv.py ``_line_batches``)
FIELDS = tuple(f"f{n}" for n in range(1, len(COLUMNS) + 1))
STAGE_COLUMNS = ("line_no", *FIELDS, "line")


def conversion(raw: str, order: tuple[int, ...]) -> str:
    """SQL: every line of the table ``raw`` as (line_no, fast, the staged columns),
    ``fast`` true when SQL converted it exactly as ``parse_row`` would (the columns are then
    set), false when Python must look at it.

    Each step is a subquery computed once per row (OFFSET 0), and every cast is behind a
    check that makes it safe: a hostile line never raises an error here."""
    at = {name: f"s.{FIELDS[order[i]]}" for i, name in enumerate(COLUMNS)}
    times = ", ".join(f"'{shape}'" for shape in _TIMES)
    call_id, account, t = at["call_id"], at["account"], at["start_time"]
    dur, bil, rate, charge = (
        at["duration"],
        at["billed_duration"],
        at["rate_per_minute"],
        at["charge"],
    )
    dialled, prefix, destination = (
        at["dialled_number"],
        at["destination_prefix"],
        at["destination"],
    )  # plain lines have no spaces to strip (the reader sends padded ones whole)
    shaped = (
        f"SELECT s.line_no, {call_id} AS call_id, {account} AS account, {t} AS t, {dur} AS dur,"
        f" {bil} AS bil, {dialled} AS dialled, {prefix} AS prefix,"
        f" {destination} AS destination, {rate} AS rate, {charge} AS charge,"
        f" upper({at['currency']}) AS cur,"
        f" COALESCE(s.line IS NULL AND {call_id} <> ''"
        f" AND translate({t}, {_DIGITS}, '9999999999') IN ({times})"
        # the four numbers' non-digits at once: none in the whole seconds, at most one point
        # in the decimals (a point alone, or nothing, is no number)
        f" AND translate(concat_ws('|', {dur}, {bil}, {rate}, {charge}), {_DIGITS}, '')"
        " IN ('|||', '|||.', '||.|', '||.|.')"
        f" AND {_whole(dur)} AND {_whole(bil)}"
        f" AND {_plain(rate, CDR_RATE_PLACES)} AND {_plain(charge, MICROS)}"
        # three ASCII bytes (compared with the customer's currency, an ASCII code)
        f" AND octet_length({at['currency']}) = 3, FALSE)"
        f" AS shaped FROM {raw} s OFFSET 0"
    )
    numbers = (
        "SELECT b.line_no, b.shaped,"
        " b.call_id, b.account, b.dialled, b.prefix,"
        " b.destination, b.cur, x.currency AS expected,"
        " CASE WHEN b.shaped THEN CAST(substr(b.t, 1, 4) AS INTEGER) END AS y,"
        " CASE WHEN b.shaped THEN CAST(substr(b.t, 6, 2) AS INTEGER) END AS mo,"
        " CASE WHEN b.shaped THEN CAST(substr(b.t, 9, 2) AS INTEGER) END AS d,"
        " CASE WHEN b.shaped THEN CAST(substr(b.t, 12, 2) AS INTEGER) * 3600"
        "  + CAST(substr(b.t, 15, 2) AS INTEGER) * 60 + CAST(substr(b.t, 18, 2) AS INTEGER)"
        "  END AS secs,"
        " CASE WHEN b.shaped THEN substr(b.t, 12, 2) < '24' AND substr(b.t, 15, 2) < '60'"
        "  AND substr(b.t, 18, 2) < '60' AND (length(b.t) <> 25"
        "  OR (substr(b.t, 21, 2) < '24' AND substr(b.t, 24, 2) < '60')) END AS clock_ok,"
        " CASE WHEN b.shaped AND length(b.t) = 25 THEN"
        "  (CAST(substr(b.t, 21, 2) AS INTEGER) * 3600 + CAST(substr(b.t, 24, 2) AS INTEGER)"
        "  * 60) * CASE WHEN substr(b.t, 20, 1) = '-' THEN -1 ELSE 1 END ELSE 0 END AS off,"
        " CASE WHEN b.shaped THEN CAST(b.dur AS INTEGER) END AS duration,"
        " CASE WHEN b.shaped THEN CAST(b.bil AS INTEGER) END AS billed_seconds,"
        " CASE WHEN b.shaped THEN CAST(b.rate AS NUMERIC) END AS rate_n,"
        " CASE WHEN b.shaped THEN CAST(b.charge AS NUMERIC) END AS charge_n"
        f" FROM ({shaped}) b LEFT JOIN {ACCOUNTS} x ON x.account = b.account OFFSET 0"
    )
    days_in_month = (
        "CASE WHEN c.mo IN (4, 6, 9, 11) THEN 30 WHEN c.mo = 2 THEN"
        " CASE WHEN mod(c.y, 4) = 0 AND (mod(c.y, 100) <> 0 OR mod(c.y, 400) = 0) THEN 29"
        " ELSE 28 END ELSE 31 END"
    )
    date_ok = f"c.y >= 1 AND c.mo BETWEEN 1 AND 12 AND c.d BETWEEN 1 AND {days_in_month}"
    epoch = (
        f"CASE WHEN c.shaped AND c.clock_ok AND {date_ok} THEN"
        " CAST(make_date(c.y, c.mo, c.d) - DATE '1970-01-01' AS BIGINT) * 86400"
        " + c.secs - c.off END"
    )
    checked = (
        "SELECT c.line_no, c.call_id,"
        " c.account, c.dialled, c.prefix, c.destination,"
        " c.expected, c.duration, c.billed_seconds, CAST(c.rate_n AS TEXT) AS rate,"
        f" CASE WHEN c.charge_n <= {CDR_MAX_CHARGE}"
        f" THEN CAST(c.charge_n * {10**MICROS} AS BIGINT) END AS charge_micros,"
        f" {epoch} AS start_epoch,"
        " COALESCE(c.shaped AND c.expected IS NOT NULL AND c.cur = c.expected"
        f"  AND length(c.call_id) <= {CDR_MAX_CALL_ID}"
        f"  AND length(c.dialled) <= {CDR_MAX_DIALLED}"
        f"  AND length(c.prefix) <= {CDR_MAX_PREFIX}"
        f"  AND length(c.destination) <= {CDR_MAX_DESTINATION}"
        f"  AND c.duration <= {CDR_MAX_SECONDS} AND c.billed_seconds <= {CDR_MAX_SECONDS}"
        f"  AND c.rate_n <= {CDR_MAX_RATE} AND c.charge_n <= {CDR_MAX_CHARGE}"
        # Python writes a rate below 1E-6 in exponent notation: leave those to it
        "  AND (scale(c.rate_n) <= 6 OR c.rate_n >= 0.000001), FALSE) AS shaped_ok"
        f" FROM ({numbers}) c OFFSET 0"
    )
    fast = (
        f"shaped_ok AND COALESCE(start_epoch >= {CDR_FIRST_EPOCH}"
        f" AND start_epoch < {CDR_END_EPOCH}, FALSE)"
    )
    return (
        f"SELECT line_no, {fast} AS fast, call_id, account, start_epoch, duration,"
        " billed_seconds, dialled, prefix, destination, rate, charge_micros,"
        " expected AS currency"
        f" FROM ({checked}) g"
    )


def row_hash(alias: str) -> str:
    """SQL: the row hash (as ``domain.usage.row_hash``) of the staged row ``alias``."""
    return (
        f"CAST(CAST('x' || encode(substring(sha256(convert_to({alias}.call_id || '|'"
        f" || {alias}.account || '|' || {alias}.start_epoch || '|' || {alias}.billed_seconds"
        f" || '|' || {alias}.charge_micros, 'UTF8')) FROM 1 FOR 4), 'hex') AS BIT(32))"
        " AS BIGINT)"
    )


class PostgresStage:
    """The stage table and the connection that fills and converts it; enter it before the
    import's transaction begins and leave it after that transaction ends (it drops the stage
    then, when the import's locks on it are gone).

    The stage holds the good rows only, converted (``line_no`` and the usage_cdrs columns),
    for the mover to read. A chunk's raw lines go to a temporary table of the staging
    connection (:data:`RAW`: the fields, ``line``; see :func:`conversion`), emptied for each
    chunk: they are read once, by that connection, so they need no index and no sharing."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.name = f"{PREFIX}{uuid4().hex}"
        self._staging: Any = None

    def __enter__(self) -> PostgresStage:
        self._staging = self.db.autocommit_connection()
        try:
            _drop_left_behind(self._staging)
        except BaseException:
            self._staging.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            # A failed import's stage (a finished one dropped its own). The next import, if
            # one was waiting, may be dropping it too and hold it until it commits: wait a
            # little, not for that whole import.
            self._staging.execute("SET lock_timeout = '5s'")
            self._staging.execute(f"DROP TABLE IF EXISTS {self.name}")
        except psycopg.Error:
            if kind is None:
                raise
            # the import's own error says what went wrong; the next import drops the stage
            log.warning("could not drop the stage table", table=self.name, exc_info=True)
        finally:
            self._staging.close()

    def analyse(self, loaded: Loaded) -> None:
        """ANALYZE the partitions of the months the import wrote to, once it committed: the
        billing run's plans need fresh statistics, and autovacuum may be minutes away."""
        for month in loaded.months:
            # purged since the import committed: nothing left to analyse
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                self._staging.execute(f"ANALYZE {month.table}")

    def load(
        self,
        conn: Any,
        batch: int,
        lines: Iterator[LineBatch],
        reject: Reject,
        *,
        order: tuple[int, ...],
        header: list[str],
        currencies: Mapping[str, str],
        progress: Callable[[], None] | None = None,
        share_read: Callable[[], float | None] | None = None,
    ) -> Loaded:
        """Stage ``lines`` and insert the good new rows into usage_cdrs in ``conn``'s
        transaction (which must hold the usage_imports lock); reject bad rows, and rows
        whose call id is stored with other content. The caller commits ``conn``.
        ``reject`` is called from two threads (the reader's and the mover's)."""
        self.order, self.header, self.currencies, self.reject = order, header, currencies, reject
        self.share_read = share_read  # of the file, so far: how many lines it has, about
        fields = ", ".join(f"{name} TEXT" for name in FIELDS)
        self._staging.execute(
            f"CREATE UNLOGGED TABLE {self.name} (line_no BIGINT, {_STAGED_TYPES})"
        )
        self._staging.execute(f"CREATE INDEX {self.name}_line ON {self.name} (line_no)")
        # emptied by each chunk's commit: in place, where TRUNCATE gives the table a new file,
        # a catalog change whose commit waits for the WAL to reach the disk (3 ms a chunk)
        self._staging.execute(
            f"CREATE TEMP TABLE {RAW} (line_no BIGINT, {fields}, line TEXT) ON COMMIT DELETE ROWS"
        )
        self._staging.execute("SET jit = off")  # compiling costs more than it saves here
        self._staging.execute(
            f"CREATE TEMP TABLE {ACCOUNTS} (account TEXT PRIMARY KEY, currency TEXT NOT NULL)"
        )
        with self._staging.cursor().copy(f"COPY {ACCOUNTS} FROM STDIN") as copy:
            for account, currency in currencies.items():
                # Python strips the field before it looks; SQL compares ASCII codes only
                if account == account.strip() and currency.isascii():
                    copy.write_row((account, currency))
        self._staging.execute(f"ANALYZE {ACCOUNTS}")
        mover = _Mover(conn, batch, self.name, reject)
        loaded = Loaded()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdr-insert") as pool:
            moving: Future[tuple[Chunk, int]] | None = None
            while chunk := self._stage(lines, loaded, progress):
                if moving is not None:
                    self._count(loaded, moving.result())
                moving = pool.submit(mover.move, chunk)
            if moving is not None:
                self._count(loaded, moving.result())
        loaded.conflicts = mover.reject_conflicts(loaded.dirty)
        if loaded.first_epoch is not None and loaded.last_epoch is not None:
            touched = months_between(loaded.first_epoch, loaded.last_epoch)
            loaded.months = [month for month in touched if month in mover.known]
        conn.execute(f"DROP TABLE {self.name}")  # with the import's commit
        return loaded

    def _stage(
        self, lines: Iterator[LineBatch], loaded: Loaded, progress: Callable[[], None] | None
    ) -> Chunk | None:
        """COPY about :func:`chunk_rows` lines, convert them into the stage, judge in Python the
        lines SQL was not sure of; None when the file is read."""
        with self._staging.transaction():  # its commit empties RAW
            return self._stage_chunk(lines, loaded, progress)

    def _stage_chunk(
        self, lines: Iterator[LineBatch], loaded: Loaded, progress: Callable[[], None] | None
    ) -> Chunk | None:
        count = first = last = 0
        copy_in = f"COPY {RAW} ({', '.join(STAGE_COLUMNS)}) FROM STDIN (DELIMITER ',')"
        with self._staging.cursor().copy(copy_in) as copy:
            for part in lines:
                copy.write(part.copy_text)
                first = first or part.first_line
                last = part.last_line
                count += part.count
                if progress:
                    progress()
                if count >= self._chunk_rows(last):
                    break
        if not count:
            return None
        chunk = Lines(first, last)
        # Only the good rows are written, and only three numbers come back: the lines SQL
        # was not sure of are fetched apart, and only when there are some (rarely).
        good, low, high = self._staging.execute(
            f"WITH v AS (INSERT INTO {self.name} (line_no, {_STAGED_COLUMNS})"
            f" SELECT line_no, {_STAGED_COLUMNS} FROM ({conversion(RAW, self.order)}) c"
            " WHERE fast"
            " RETURNING start_epoch)"
            " SELECT COUNT(*), MIN(start_epoch), MAX(start_epoch) FROM v"
        ).fetchone()
        typed: list[StageRow] = []
        if good < count:
            unsure = self._staging.execute(
                f"SELECT r.line_no, COALESCE(r.line, concat_ws(',', {', '.join(FIELDS)}))"
                f" FROM {RAW} r WHERE r.line_no NOT IN"
                f" (SELECT line_no FROM {self.name} s WHERE {chunk.where()})"
            ).fetchall()
            typed = self._judge(unsure)
        if typed:
            with self._staging.cursor().copy(
                f"COPY {self.name} (line_no, {_STAGED_COLUMNS}) FROM STDIN"
            ) as copy:
                for row in typed:
                    copy.write_row(row[:-1])  # the mover computes the row hash
            epochs = [row[3] for row in typed]
            low, high = (
                min([*epochs, *([low] if low is not None else [])]),
                max([*epochs, *([high] if high is not None else [])]),
            )
        if low is not None:
            loaded.first_epoch = min(low, loaded.first_epoch or low)
            loaded.last_epoch = max(high, loaded.last_epoch or high)
        return Chunk(chunk, int(good) + len(typed), bool(typed))

    def _chunk_rows(self, lines_read: int) -> int:
        """Lines per chunk, for as many lines as the file seems to have."""
        share = self.share_read() if self.share_read else None
        return chunk_rows(lines_read / share if share else None)

    def _judge(self, lines: Iterable[tuple[int, str]]) -> list[StageRow]:
        """The lines SQL was not sure of, judged by Python: rejected, or converted."""
        typed: list[StageRow] = []
        for line_no, line in lines:
            record = split_line(int(line_no), line, self.header, self.reject)
            if record is None:
                continue
            try:
                typed.append(parse_row(int(line_no), record, self.order, self.currencies))
            except RowRejected as reason:
                self.reject(int(line_no), str(reason), record)
        return typed

    @staticmethod
    def _count(loaded: Loaded, moved: tuple[Chunk, int]) -> None:
        chunk, inserted = moved
        loaded.staged += chunk.good
        loaded.inserted += inserted
        dirty = inserted < chunk.good
        if dirty and loaded.after_dirty:
            # no other chunk's lines lie between the two: one range (a file imported again
            # has every chunk dirty, and the conflicts' query one range, not one per chunk)
            loaded.dirty[-1] = Lines(loaded.dirty[-1].first, chunk.lines.last)
        elif dirty:
            loaded.dirty.append(chunk.lines)
        loaded.after_dirty = dirty


class _Mover:
    """Moves converted chunks into usage_cdrs, in the import's transaction (one thread)."""

    def __init__(self, conn: Any, batch: int, stage: str, reject: Reject) -> None:
        self.conn, self.batch, self.stage, self.reject = conn, batch, stage, reject
        conn.execute("SET LOCAL work_mem = '64MB'")  # a chunk's rows, in line order
        conn.execute("SET LOCAL jit = off")
        self.known = set(partitions(conn))

    def move(self, chunk: Chunk) -> tuple[Chunk, int]:
        """Insert a chunk's good new rows, each call id's first line winning: (chunk, rows
        inserted). Usually all of them are new: two plain inserts. A chunk that repeats a
        call id (in the file, or stored), or has rows converted in Python, goes in line
        order with ``ON CONFLICT DO NOTHING``. The partitions of the months a chunk needs
        are made when its insert finds one missing, and the insert runs again."""
        ordered, made = chunk.ordered, False
        while True:
            sql = self._ordered_sql(chunk) if ordered else self._plain_sql(chunk)
            try:
                with self.conn.transaction():  # one savepoint a try, whatever went wrong
                    return chunk, int(self.conn.execute(sql).rowcount)
            except psycopg.errors.UniqueViolation:
                if ordered:
                    raise
                ordered = True
            except psycopg.errors.CheckViolation as error:
                if made or "no partition" not in str(error):
                    raise
                self._make_partitions(chunk)
                made = True

    def _plain_sql(self, chunk: Chunk) -> str:
        rows = f"FROM {self.stage} s WHERE {chunk.good_rows}"
        return (
            "WITH ids AS (INSERT INTO usage_call_ids (call_id, account, start_epoch)"
            f" SELECT call_id, account, start_epoch {rows})"
            f" INSERT INTO usage_cdrs ({_COLUMNS}, batch)"
            f" SELECT {_STAGED_COLUMNS}, {row_hash('s')}, {int(self.batch)} {rows}"
        )

    def _ordered_sql(self, chunk: Chunk) -> str:
        """Good rows of the chunk in line order; a call id already stored, or met before in
        the file, is skipped (rejected later if it differs)."""
        return (
            f"WITH v AS MATERIALIZED (SELECT line_no, {_STAGED_COLUMNS} FROM {self.stage} s"
            f"  WHERE {chunk.good_rows}),"
            " ids AS (INSERT INTO usage_call_ids (call_id, account, start_epoch)"
            "  SELECT call_id, account, start_epoch FROM v ORDER BY line_no"
            "  ON CONFLICT (call_id) DO NOTHING RETURNING call_id),"
            " firsts AS (SELECT MIN(line_no) AS line_no FROM v"
            "  WHERE call_id IN (SELECT call_id FROM ids) GROUP BY call_id)"
            f" INSERT INTO usage_cdrs ({_COLUMNS}, batch)"
            f" SELECT {_STAGED_COLUMNS}, {row_hash('v')}, {int(self.batch)} FROM v"
            " WHERE line_no IN (SELECT line_no FROM firsts)"
        )

    def _make_partitions(self, chunk: Chunk) -> None:
        """Make the partitions of the months of the chunk's rows that have none."""
        self.known = set(partitions(self.conn))  # a rolled-back savepoint may have undone some
        days = self.conn.execute(
            f"SELECT DISTINCT start_epoch / 86400 FROM {self.stage} s WHERE {chunk.good_rows}"
        ).fetchall()
        for month in sorted({Month.of(int(day) * 86400) for (day,) in days} - self.known):
            create_partition(self.conn, month)
            log.info("usage partition created", partition=month.table)
            self.known.add(month)

    def reject_conflicts(self, dirty: list[Lines]) -> int:
        """Among the good rows not inserted, reject those whose stored row differs: stored
        by an earlier import, or the call id's first line in this file. Identical ones are
        duplicates, skipped without a word. Only chunks with such rows are looked at.

        Each stored row is found by its full key in usage_cdrs' index (account, start_epoch,
        call_id; migration step 3): one probe a row, however many CDRs share its account
        and second (with (account, start_epoch) alone a file of them took quadratic time)."""
        if not dirty:
            return 0
        ranges = " OR ".join(f"({lines.where()})" for lines in dirty)
        cursor = self.conn.execute(
            f"WITH d AS MATERIALIZED (SELECT * FROM {self.stage} s WHERE {ranges}),"
            f" f AS (SELECT call_id, MIN(line_no) AS first_line FROM {self.stage}"
            "  WHERE call_id IN (SELECT call_id FROM d) GROUP BY call_id)"
            f" SELECT d.line_no, CASE WHEN c.batch = {int(self.batch)}"
            "  THEN 'duplicate call id ' || d.call_id || ' with different content"
            " (first on line ' || CAST(f.first_line AS TEXT) || ')'"
            "  ELSE 'call id ' || d.call_id || ' was already imported with different content'"
            f"  END, {', '.join(f'd.{c}' for c in _STAGED)}"
            " FROM d JOIN usage_call_ids i ON i.call_id = d.call_id"
            " JOIN usage_cdrs c ON c.account = i.account AND c.start_epoch = i.start_epoch"
            " AND c.call_id = i.call_id JOIN f ON f.call_id = d.call_id"
            f" WHERE NOT ({_SAME}) ORDER BY d.line_no"
        )
        count = 0
        for line_no, reason, *row in cursor.fetchall():
            self.reject(int(line_no), reason, record_of(tuple(row)))
            count += 1
        return count


def _drop_left_behind(conn: Any) -> None:
    """Drop the stages of imports that were killed, in a transaction of its own, so they go
    even if the import that calls this fails. Safe: it holds the import lock, so no running
    import's stage exists (one is created, and dropped, under that lock)."""
    with conn.transaction():
        conn.execute("LOCK TABLE usage_imports IN EXCLUSIVE MODE")
        names = conn.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename LIKE %s",
            (PREFIX.replace("_", r"\_") + "%",),
        ).fetchall()
        for (name,) in names:
            log.info("dropping a killed import's stage table", table=name)
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
