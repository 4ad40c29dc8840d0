"""A plain CSV / JSON export of invoices, credit notes and payments for a period.

What an accountant without an integration asks for: one row per document, amounts as strings
at the currency's minor units, dates ISO 8601. Drafts are never included. The CSV neutralises
spreadsheet formulas in text cells (adapters/csv_output.py); amounts stay plain numbers.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from adapters.csv_output import SafeCsvWriter
from domain.application import Ledger
from domain.money import round_to_currency

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


def rows_for_period(ledger: Ledger, start: date, end: date) -> list[dict[str, str]]:
    rows: list[dict[str, Any]] = []
    as_at = min(end, ledger.today())  # statuses as they stand at the period's end, or today
    invoices = ledger.invoices()
    numbers = {invoice.id: invoice.label for invoice in invoices}
    for invoice in invoices:
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
    for note in ledger.credit_notes():
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
    for payment in ledger.payments():
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
