"""A plain CSV / JSON export of invoices, credit notes and payments for a period.

What an accountant without an integration asks for: one row per document, amounts as strings
at the currency's minor units, dates ISO 8601. Drafts are never included. The CSV neutralises
spreadsheet formulas in text cells (adapters/csv_output.py); amounts stay plain numbers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from adapters.config_error import ConfigError
from adapters.csv_output import SafeCsvWriter
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.queries import MAX_LIMIT, InvoiceQuery, Page, queries_for
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from domain.money import round_to_currency
from domain.payment import Payment
from projections.view import Row

COLUMNS = (
    "type",
    "number",
    "date",
    "due_date",
    "customer_account",
    "customer_name",
    "currency",
    "net",
    "tax",
    "total",
    "status",
    "reference",
)
AMOUNT_COLUMNS = ("net", "tax", "total")


@dataclass
class _Documents:
    """The period's invoices, credit notes and payments, and the numbers of the invoices its
    payments are allocated to."""

    invoices: list[Invoice]
    notes: list[CreditNote]
    payments: list[Payment]
    numbers: dict[UUID, str]


def _read(ledger: Ledger, start: date, end: date) -> _Documents:
    """The period's documents: pages of the read models' date indexes, each page's aggregates
    read set-wise (on ``memory://``, without read models, a fold of every document)."""
    try:
        queries = queries_for(ledger)
    except ConfigError:
        invoices = LogFolds(ledger).invoices()
        return _Documents(
            [i for i in invoices if i.state != "draft" and start <= i.invoice_date <= end],
            [n for n in LogFolds(ledger).credit_notes() if start <= n.issued_on <= end],
            [p for p in LogFolds(ledger).payments() if start <= p.details.received_on <= end],
            {invoice.id: invoice.label for invoice in invoices},
        )

    def every(pages: Callable[[str | None], Page[Row]], column: str) -> list[Any]:
        found: list[Any] = []
        cursor: str | None = None
        while True:
            page = pages(cursor)
            found += queries.aggregates([row[column] for row in page.items])
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    today = ledger.today()
    wanted = InvoiceQuery(date_from=start, date_to=end, issued_only=True)
    payments: list[Payment] = every(
        lambda c: queries.payments(received_from=start, received_to=end, limit=MAX_LIMIT, cursor=c),
        "payment_id",
    )
    allocated = sorted({str(i) for p in payments for i in p.allocations})
    rows = queries.register_rows(allocated)
    return _Documents(
        every(lambda c: queries.invoices(wanted, today, limit=MAX_LIMIT, cursor=c), "invoice_id"),
        every(
            lambda c: queries.credit_notes(
                issued_from=start, issued_to=end, limit=MAX_LIMIT, cursor=c
            ),
            "credit_note_id",
        ),
        payments,
        {UUID(i): row["number"] or i for i, row in rows.items()},
    )


def rows_for_period(ledger: Ledger, start: date, end: date) -> list[dict[str, str]]:
    rows: list[dict[str, Any]] = []
    as_at = min(end, ledger.today())  # statuses as they stand at the period's end, or today
    documents = _read(ledger, start, end)
    numbers = documents.numbers
    for invoice in documents.invoices:
        if invoice.state == "draft" or not (start <= invoice.invoice_date <= end):
            continue
        totals = invoice.totals
        cur = invoice.currency
        rows.append(
            {
                "type": "invoice",
                "number": invoice.number,
                "date": invoice.invoice_date,
                "due_date": invoice.due_date,
                "customer_account": invoice.customer_account,
                "customer_name": invoice.billing.customer_name if invoice.billing else "",
                "currency": cur,
                "net": round_to_currency(totals.net, cur),
                "tax": round_to_currency(totals.tax, cur),
                "total": round_to_currency(totals.total, cur),
                "status": invoice.status(as_at),
                "reference": invoice.memo,
            }
        )
    for note in documents.notes:
        if not (start <= note.issued_on <= end):
            continue
        totals = note.totals
        rows.append(
            {
                "type": "credit_note",
                "number": note.number,
                "date": note.issued_on,
                "due_date": "",
                "customer_account": note.customer_account,
                "customer_name": note.billing.customer_name,
                "currency": note.currency,
                "net": -totals.net,
                "tax": -totals.tax,
                "total": -totals.total,
                "status": "issued",
                "reference": note.invoice_number,
            }
        )
    for payment in documents.payments:
        details = payment.details
        if payment.status != "completed" or not (start <= details.received_on <= end):
            continue
        allocated = ", ".join(
            f"{numbers.get(invoice_id, invoice_id)}={amount}"
            for invoice_id, amount in payment.allocations.items()
        )
        rows.append(
            {
                "type": "payment",
                "number": str(payment.id),
                "date": details.received_on,
                "due_date": "",
                "customer_account": details.customer_account,
                "customer_name": "",
                "currency": details.currency,
                "net": "",
                "tax": "",
                "total": details.amount,
                "status": payment.status,
                "reference": (details.reference.split("#", 1)[0].strip() + " " + allocated).strip(),
            }
        )
    rows.sort(key=lambda row: (str(row["date"]), row["type"], str(row["number"])))
    return [{column: _text(row[column]) for column in COLUMNS} for row in rows]


def _text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def render(rows: list[dict[str, str]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, COLUMNS, numeric=AMOUNT_COLUMNS, lineterminator="\n")
    writer.header()
    writer.rows(rows)
    return buffer.getvalue()
