"""Reports on the query path: aged receivables and the payment history, a page at a time, and
the invoiced-vs-paid figures of one customer's chart. Each reads read models only (caught up
first, as every list), never the event log.

Aged receivables page by customer and currency, in the balances read model's order (customer
account, customer id, currency): a page takes ``limit`` of those, reads the dated movements of
just those customers up to the day asked, and ages them. A customer and currency with nothing
owed on that day is left out of the page, so a page may hold fewer rows than ``limit`` (even
none) and still have a next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from adapters.queries.lists import Queries
from adapters.queries.paging import Page, check_limit
from adapters.queries.sql import Filter, select_page
from projections.aged_receivables import MOVEMENTS, AgedRow, age
from projections.customer_balances import BALANCES
from projections.invoice_register import REGISTER
from projections.payment_history import HISTORY, PAYMENTS
from projections.view import Row

#: movements of one page's customers read per query (bound parameters stay few)
_CUSTOMERS_PER_QUERY = 200
#: a customer's chart never reads more rows than this from one table (12 months of a busy
#: customer is far below it; more is a sign of something wrong, and the chart says so)
CHART_ROWS = 100_000


@dataclass(frozen=True)
class AgedPage(Page[AgedRow]):
    """A page of aged rows, and the movements they were aged from (for per-invoice detail)."""

    movements: list[Row]


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    invoiced: Decimal
    paid: Decimal


def aged(
    queries: Queries,
    as_of: date,
    *,
    customer_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> AgedPage:
    """Receivables as they stood at the end of ``as_of``, per customer and currency, by
    bucket; a page of ``limit`` customer-currency pairs (see the module's docstring)."""
    check_limit(limit)
    queries.catch_up("balances", "aged_receivables")
    where = Filter(queries.store, BALANCES)
    filters: dict[str, object] = {"as_of": as_of}
    if customer_id is not None:
        where.equal("customer_id", customer_id)
        filters["customer_id"] = customer_id
    pairs = queries.page("aged", BALANCES, where, filters, limit, cursor)
    wanted = {(row["customer_id"], row["currency"]) for row in pairs.items}
    ids = sorted({customer for customer, _ in wanted})
    movements: list[Row] = []
    for start in range(0, len(ids), _CUSTOMERS_PER_QUERY):
        moved = Filter(queries.store, MOVEMENTS)
        moved.among("customer_id", ids[start : start + _CUSTOMERS_PER_QUERY])
        moved.compare("on_date", "<=", as_of)
        rows, _ = select_page(queries.store, MOVEMENTS, moved, ("position",), 2**62)
        movements += [m for m in rows if (m["customer_id"], m["currency"]) in wanted]
    return AgedPage(age(movements, as_of), pairs.next_cursor, movements)


def payment_history(
    queries: Queries,
    *,
    customer_id: str | None = None,
    invoice_id: str | None = None,
    payment_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Row]:
    """Every payment movement (received, completed, cancelled, allocated, unallocated,
    refunded) in the order it happened, filtered, a page at a time."""
    check_limit(limit)
    queries.catch_up("payment_history")
    where = Filter(queries.store, HISTORY)
    filters: dict[str, object] = {}
    for column, value in (
        ("customer_id", customer_id),
        ("invoice_id", invoice_id),
        ("payment_id", payment_id),
    ):
        if value is not None:
            where.equal(column, value)
            filters[column] = value
    return queries.page("payment_history", HISTORY, where, filters, limit, cursor)


def monthly(
    queries: Queries, customer_id: str, today: date, months: int = 12
) -> dict[str, list[MonthFigures]]:
    """Per currency, for the last ``months`` months: invoiced (issued, not void, by invoice
    date: the date the invoice bears, not the day it was issued) and paid (completed
    payments, by the day received), from the invoice register and the payments read model
    (the customer's rows of those months only)."""
    queries.catch_up("invoice_register", "payment_history")
    keys = _month_keys(today, months)
    first = date.fromisoformat(f"{keys[0]}-01")
    issued = Filter(queries.store, REGISTER)
    issued.equal("customer_id", customer_id)
    issued.equal("state", "issued")
    issued.compare("invoice_date", ">=", first)
    invoices, _ = select_page(queries.store, REGISTER, issued, ("seq",), CHART_ROWS)
    completed = Filter(queries.store, PAYMENTS)
    completed.equal("customer_id", customer_id)
    completed.equal("status", "completed")
    completed.compare("received_on", ">=", first)
    payments, _ = select_page(queries.store, PAYMENTS, completed, ("seq",), CHART_ROWS)
    invoiced = _per_month(invoices, "invoice_date", "total", keys)
    paid = _per_month(payments, "received_on", "amount", keys)
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


def _per_month(
    rows: list[Row], day: str, amount: str, keys: list[str]
) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        month = row[day].strftime("%Y-%m")
        if month in keys:
            per = sums.setdefault(row["currency"], {})
            per[month] = per.get(month, Decimal(0)) + row[amount]
    return sums


def _month_keys(today: date, months: int) -> list[str]:
    year, month = today.year, today.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(keys))
