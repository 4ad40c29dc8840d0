"""What other invoices already bill of a customer's period: the billing run's overlap check,
answered by the ``billed_periods`` read model (projections/billed_periods.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from adapters.config_error import ConfigError
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.queries import queries_for
from domain.invoice import Invoice
from domain.usage import Period
from projections.billed_periods import BILLED_KINDS, LINES

#: customers per query: one bound parameter each, well under both drivers' limits
CUSTOMERS_PER_QUERY = 500


@dataclass(frozen=True)
class BilledLine:
    """A package, setup or usage line of another invoice that bills part of the period."""

    invoice_id: UUID
    number: str | None
    package_id: UUID | None
    kind: str
    description: str
    period_start: date
    period_end: date

    def as_dict(self) -> dict[str, str | None]:
        return {
            "invoice_id": str(self.invoice_id),
            "number": self.number,
            "package_id": None if self.package_id is None else str(self.package_id),
            "kind": self.kind,
            "description": self.description,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
        }


def billed_elsewhere(
    ledger: Ledger, customer_ids: Sequence[UUID], period: Period, own: Collection[UUID]
) -> dict[UUID, list[BilledLine]]:
    """Per customer, the lines of its invoices (neither void nor in ``own``: the run's own
    invoices of the period) whose service period overlaps ``period``."""
    found: dict[UUID, list[BilledLine]] = defaultdict(list)
    if not customer_ids:
        return found
    try:
        queries = queries_for(ledger)
    except ConfigError:  # memory:// has no read models: fold the log
        return _folded(ledger, customer_ids, period, own)
    queries.catch_up("billed_periods")
    store = queries.store
    wanted = [str(c) for c in customer_ids]
    for start in range(0, len(wanted), CUSTOMERS_PER_QUERY):
        chunk = wanted[start : start + CUSTOMERS_PER_QUERY]
        statement = (
            f"SELECT {', '.join(LINES.columns)} FROM {LINES.name}"
            f" WHERE customer_id IN ({', '.join('?' for _ in chunk)})"
            " AND state IN ('draft', 'issued') AND period_start <= ? AND period_end >= ?"
            f" AND kind IN ({', '.join(repr(k) for k in BILLED_KINDS)})"
            " ORDER BY customer_id, invoice_id, line_id"
        )
        params = (*chunk, store.to_db("date", period.end), store.to_db("date", period.start))
        with store.db.connect(write=False) as conn:
            rows = conn.execute(store.db.sql(statement), params).fetchall()
        for values in rows:
            row = store.row_from_db(LINES, values)
            if UUID(row["invoice_id"]) in own:
                continue
            found[UUID(row["customer_id"])].append(
                BilledLine(
                    UUID(row["invoice_id"]),
                    row["number"],
                    UUID(row["package_id"]) if row["package_id"] else None,
                    row["kind"],
                    row["description"],
                    row["period_start"],
                    row["period_end"],
                )
            )
    return found


def _folded(
    ledger: Ledger, customer_ids: Sequence[UUID], period: Period, own: Collection[UUID]
) -> dict[UUID, list[BilledLine]]:
    found: dict[UUID, list[BilledLine]] = defaultdict(list)
    wanted = set(customer_ids)
    for invoice in LogFolds(ledger).invoices():
        if invoice.customer_id in wanted and invoice.id not in own and invoice.state != "void":
            found[invoice.customer_id].extend(_overlapping(invoice, period))
    return found


def _overlapping(invoice: Invoice, period: Period) -> list[BilledLine]:
    lines = []
    for line in invoice.lines.values():
        start = line.period_start or line.period_end or invoice.period_start
        end = line.period_end or line.period_start or invoice.period_end
        if (
            line.kind in BILLED_KINDS
            and start
            and end
            and start <= period.end
            and end >= period.start
        ):
            lines.append(
                BilledLine(
                    invoice.id,
                    invoice.number,
                    line.package_id,
                    line.kind,
                    line.description,
                    start,
                    end,
                )
            )
    return lines
