"""What the portal reads from the read models: the invoice register, balances, aged debt and
the invoiced-vs-paid figures of the customer chart. Each read catches the read models up
first, so a page shows every event committed before it was asked for."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.store.read_models import SqlViewStore
from domain.application import Ledger
from domain.money import round_to_currency
from domain.payment import Payment
from projections.aged_receivables import BUCKETS, MOVEMENTS, AgedRow, age
from projections.customer_balances import BALANCES
from projections.invoice_register import REGISTER, status_of
from projections.runner import Runner
from projections.view import Row

SORTABLE = {
    "number": "number",
    "customer": "customer_account",
    "date": "invoice_date",
    "due_date": "due_date",
    "status": "status",
    "total": "total",
    "due": "outstanding",
}


@dataclass(frozen=True)
class InvoiceFilter:
    customer_id: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    due_min: Decimal | None = None
    due_max: Decimal | None = None
    sort: str = "date"
    descending: bool = True


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    invoiced: Decimal
    paid: Decimal


class ReadSide:
    """The read models in the ledger's database, caught up before each read."""

    def __init__(self, ledger: Ledger, store: SqlViewStore) -> None:
        self.ledger = ledger
        self.store = store
        self.runner = Runner(ledger, store)
        # the store keeps a per-process row cache: one catch-up at a time in this process
        self._lock = threading.Lock()

    def catch_up(self) -> None:
        """Bring every read model up to the log's head (they advance together in one pass)."""
        with self._lock:
            self.runner.catch_up()

    def invoices(self, wanted: InvoiceFilter, today: date) -> list[Row]:
        """Register rows (with ``status``) matching the filter, sorted."""
        self.catch_up()
        where = {"customer_id": wanted.customer_id} if wanted.customer_id else None
        rows = self.store.select(
            REGISTER, where, ranges={"invoice_date": (wanted.date_from, wanted.date_to)}
        )
        result = []
        for row in rows:
            row["status"] = status_of(row, today)
            if wanted.status and row["status"] != wanted.status:
                continue
            due = amount_due(row)
            if wanted.due_min is not None and due < wanted.due_min:
                continue
            if wanted.due_max is not None and due > wanted.due_max:
                continue
            row["amount_due"] = due
            result.append(row)
        column = SORTABLE.get(wanted.sort, "invoice_date")
        # rows without a value (drafts have no number) sort last either way
        present = [r for r in result if r[column] is not None]
        missing = [r for r in result if r[column] is None]
        present.sort(key=lambda r: (r[column], r["position"]), reverse=wanted.descending)
        return present + missing

    def balances(self, customer_id: str) -> list[Row]:
        self.catch_up()
        return self.store.select(BALANCES, {"customer_id": customer_id}, order_by="currency")

    def aged(self, customer_id: str, day: date) -> list[AgedRow]:
        self.catch_up()
        movements = self.store.select(
            MOVEMENTS, {"customer_id": customer_id}, ranges={"on_date": (None, day)}
        )
        return age(movements, day)

    def monthly(
        self, customer_id: str, payments: list[Payment], today: date, months: int = 12
    ) -> dict[str, list[MonthFigures]]:
        """Per currency, for the last ``months`` months: invoiced (issued, not void, by issue
        date) and paid (completed payments, by the day received)."""
        self.catch_up()
        keys = _month_keys(today, months)
        invoiced: dict[str, dict[str, Decimal]] = {}
        for row in self.store.select(REGISTER, {"customer_id": customer_id}):
            if row["state"] != "issued" or row["issued_on"] is None:
                continue
            month = row["issued_on"].strftime("%Y-%m")
            if month in keys:
                per = invoiced.setdefault(row["currency"], {})
                per[month] = per.get(month, Decimal(0)) + row["total"]
        paid: dict[str, dict[str, Decimal]] = {}
        for payment in payments:
            month = payment.details.received_on.strftime("%Y-%m")
            if payment.status == "completed" and month in keys:
                per = paid.setdefault(payment.currency, {})
                per[month] = per.get(month, Decimal(0)) + payment.amount
        return {
            currency: [
                MonthFigures(
                    key,
                    invoiced.get(currency, {}).get(key, Decimal(0)),
                    paid.get(currency, {}).get(key, Decimal(0)),
                )
                for key in keys
            ]
            for currency in sorted(set(invoiced) | set(paid))
        }


def amount_due(row: Row) -> Decimal:
    """What the invoice asks for: outstanding when issued, the would-be total for a draft."""
    if row["state"] == "draft":
        return Decimal(row["total"])
    return Decimal(row["outstanding"])


def totals_by_currency(rows: list[Row]) -> list[dict[str, Any]]:
    """The totals row of the invoice list, one per currency (amounts never mix currencies)."""
    sums: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        per = sums.setdefault(row["currency"], dict.fromkeys(("total", "paid", "due"), Decimal(0)))
        counts[row["currency"]] = counts.get(row["currency"], 0) + 1
        if row["state"] != "void":
            per["total"] += row["total"]
            per["paid"] += row["paid"]
        per["due"] += row["amount_due"]
    return [
        {
            "currency": currency,
            "count": counts[currency],
            **{name: round_to_currency(value, currency) for name, value in per.items()},
        }
        for currency, per in sorted(sums.items())
    ]


def _month_keys(today: date, months: int) -> list[str]:
    year, month = today.year, today.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(keys))


__all__ = ["BUCKETS", "InvoiceFilter", "MonthFigures", "ReadSide", "amount_due"]
