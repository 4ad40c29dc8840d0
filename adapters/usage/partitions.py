"""usage_cdrs by month: on PostgreSQL one partition per calendar month (UTC) of start_epoch.

A month's partition is made when an import first meets a CDR of that month (inside the
import's transaction: an import that fails leaves no partition), analysed after each import
that wrote to it, and dropped whole by ``tollbook usage purge`` (docs/usage-billing.md). Call
ids stay unique over every month through ``usage_call_ids`` (adapters/store/migrations/
v0002_usage_partitions.py). SQLite keeps one table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.errors import InvalidInput
from domain.usage import CDR_FIRST_YEAR, CDR_LAST_YEAR

PARENT = "usage_cdrs"
_NAME = re.compile(r"usage_cdrs_y(\d{4})m(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` within the years a CDR may have (an operator's argument)."""
        match = _MONTH.fullmatch(text) if text.isascii() and len(text) == 7 else None
        if match is None or not 1 <= int(match[2]) <= 12:
            shown = repr(text[:20]) + ("..." if len(text) > 20 else "")
            raise InvalidInput(f"month must look like 2026-10 (YYYY-MM), got {shown}")
        month = cls(int(match[1]), int(match[2]))
        if not CDR_FIRST_YEAR <= month.year <= CDR_LAST_YEAR + 1:
            raise InvalidInput(
                f"month must be within the years {CDR_FIRST_YEAR}-{CDR_LAST_YEAR + 1}, got {text}"
            )
        return month

    @classmethod
    def of(cls, epoch: int) -> Month:
        moment = datetime.fromtimestamp(epoch, UTC)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> int:
        """Epoch seconds of the month's first second (UTC)."""
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp())

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def end(self) -> int:
        return self.next.start

    @property
    def table(self) -> str:
        return f"usage_cdrs_y{self.year:04d}m{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def create_partition(conn: Any, month: Month) -> None:
    """Make ``month``'s partition in ``conn``'s transaction. Attaching (rather than CREATE
    TABLE ... PARTITION OF) locks usage_cdrs only against other DDL: readers and the billing
    run go on while the import that makes it runs. The partition gets usage_cdrs' statistics
    targets (a new table has none of its own: migration step 4 leaves out the columns no
    plan needs)."""
    conn.execute(f"CREATE TABLE {month.table} (LIKE {PARENT} INCLUDING DEFAULTS)")
    targets = conn.execute(
        "SELECT attname, attstattarget FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0",
        (PARENT,),
    ).fetchall()
    if targets:
        settings = ", ".join(
            f'ALTER COLUMN "{name}" SET STATISTICS {int(target)}' for name, target in targets
        )
        conn.execute(f"ALTER TABLE {month.table} {settings}")
    conn.execute(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {month.table}"
        f" FOR VALUES FROM ({month.start}) TO ({month.end})"
    )


def partitions(conn: Any) -> list[Month]:
    """The months that have a partition, in order."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        (PARENT,),
    ).fetchall()
    found = [_NAME.fullmatch(str(name)) for (name,) in rows]
    return sorted(Month(int(m[1]), int(m[2])) for m in found if m)


def months_between(first: int, last: int) -> Iterable[Month]:
    month, end = Month.of(first), Month.of(last)
    while month <= end:
        yield month
        month = month.next
