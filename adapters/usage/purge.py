"""``tollbook usage purge --before YYYY-MM``: remove the CDRs of the months before a month.

PostgreSQL drops the months' partitions of usage_cdrs whole (and their call ids from
usage_call_ids); SQLite deletes their rows. Usage that no invoice has billed yet is not
removed unless forced: a CDR is billed when an invoice of its customer that is not void has a
usage line whose UTC window holds its start and whose import batches (after, through] hold its
batch (the line's source, written by the billing run: docs/usage-billing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.partitions import Month, partitions
from adapters.usage.schema import ensure_schema
from domain.errors import BillingError

log = structlog.get_logger("tollbook.usage")


class UnbilledUsage(BillingError):
    """The months hold usage no invoice has billed: nothing was removed."""

    code = "unbilled_usage"


@dataclass(frozen=True)
class Unbilled:
    account: str
    calls: int
    first_epoch: int
    last_epoch: int


@dataclass
class PurgeReport:
    before: str
    #: (month, CDRs removed), oldest first
    months: list[tuple[str, int]] = field(default_factory=list)
    #: usage not billed that was removed anyway (--force)
    unbilled: list[Unbilled] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(count for _, count in self.months)

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "months": [{"month": month, "cdrs": count} for month, count in self.months],
            "cdrs": self.rows,
            "unbilled_removed": [u.__dict__ for u in self.unbilled],
        }


def purge_usage(ledger: Ledger, db: Database, before: Month, *, force: bool = False) -> PurgeReport:
    """Remove every CDR that started before ``before`` (UTC); refuse (UnbilledUsage) when
    some of it is not billed yet, unless ``force``."""
    ensure_schema(db)
    report = PurgeReport(before.label)
    cover = _billed_cover(ledger)
    with db.connect() as conn:
        if db.dialect == "postgres":
            conn.execute("LOCK TABLE usage_imports IN EXCLUSIVE MODE")  # no import meanwhile
        unbilled = _unbilled(db, conn, before.start, cover)
        if unbilled and not force:
            listed = ", ".join(
                f"{u.account} ({u.calls} calls from {Month.of(u.first_epoch).label})"
                for u in unbilled[:5]
            )
            more = f" and {len(unbilled) - 5} more accounts" if len(unbilled) > 5 else ""
            raise UnbilledUsage(
                f"usage before {before.label} is not billed yet for {listed}{more}:"
                " bill it first, or purge with --force; nothing was removed"
            )
        report.unbilled = unbilled
        if db.dialect == "postgres":
            for month in [m for m in partitions(conn) if m < before]:
                count = conn.execute(f"SELECT COUNT(*) FROM {month.table}").fetchone()[0]
                conn.execute(
                    "DELETE FROM usage_call_ids WHERE start_epoch >= %s AND start_epoch < %s",
                    (month.start, month.end),
                )
                conn.execute(f"DROP TABLE {month.table}")
                report.months.append((month.label, int(count)))
        else:
            rows = conn.execute(
                "SELECT strftime('%Y-%m', start_epoch, 'unixepoch') AS m, COUNT(*)"
                " FROM usage_cdrs WHERE start_epoch < ? GROUP BY m ORDER BY m",
                (before.start,),
            ).fetchall()
            conn.execute("DELETE FROM usage_cdrs WHERE start_epoch < ?", (before.start,))
            report.months = [(str(m), int(count)) for m, count in rows]
    log.info(
        "usage purged",
        before=before.label,
        months=[m for m, _ in report.months],
        cdrs=report.rows,
        unbilled_removed=len(report.unbilled),
    )
    return report


def _billed_cover(ledger: Ledger) -> list[tuple[str, int, int, int, int]]:
    """(account, window start, window end, after batch, through batch) of every usage line
    of every invoice that is not void."""
    accounts: dict[UUID, str] = {}
    cover: set[tuple[str, int, int, int, int]] = set()
    for invoice in LogFolds(ledger).invoices():
        if invoice.state == "void":
            continue
        for line in invoice.lines.values():
            source = line.source
            if line.kind != "usage" or source is None:
                continue
            if source.window_start is None or source.window_end is None:
                continue
            if invoice.customer_id not in accounts:
                customer = ledger.customer(invoice.customer_id)
                accounts[invoice.customer_id] = customer.registered.account_number
            cover.add(
                (
                    accounts[invoice.customer_id],
                    int(source.window_start.timestamp()),
                    int(source.window_end.timestamp()),
                    source.after_batch,
                    source.through_batch,
                )
            )
    return sorted(cover)


def _unbilled(
    db: Database, conn: Any, cutoff: int, cover: list[tuple[str, int, int, int, int]]
) -> list[Unbilled]:
    """Accounts with CDRs before ``cutoff`` that no usage line covers (window and batch)."""
    conn.execute(
        "CREATE TEMP TABLE usage_cover (account TEXT NOT NULL, window_start BIGINT NOT NULL,"
        " window_end BIGINT NOT NULL, after_batch BIGINT NOT NULL,"
        " through_batch BIGINT NOT NULL)"
    )
    try:
        if cover:
            conn.cursor().executemany(
                db.sql("INSERT INTO usage_cover VALUES (?, ?, ?, ?, ?)"), cover
            )
        rows = conn.execute(
            db.sql(
                "SELECT c.account, COUNT(*), MIN(c.start_epoch), MAX(c.start_epoch)"
                " FROM usage_cdrs c WHERE c.start_epoch < ? AND NOT EXISTS"
                " (SELECT 1 FROM usage_cover v WHERE v.account = c.account"
                " AND c.start_epoch >= v.window_start AND c.start_epoch < v.window_end"
                " AND c.batch > v.after_batch AND c.batch <= v.through_batch)"
                " GROUP BY c.account ORDER BY c.account"
            ),
            (cutoff,),
        ).fetchall()
    finally:
        conn.execute("DROP TABLE usage_cover")
    return [Unbilled(str(a), int(n), int(first), int(last)) for a, n, first, last in rows]
