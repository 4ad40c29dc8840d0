"""The invoice as a plain document (amounts as strings, dates ISO 8601): what ``invoice show
--json``, the API and the portal print, and what the invoice documents read model
(projections/invoice_documents.py) stores, so both are one function of the folded aggregate.

Without a day (``today`` None) the status is the one of the figures alone; the day's status
(``overdue``) is ``domain.invoice_status.on_day`` of it, applied by whoever reads the document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain import invoice_status
from domain.invoice import Invoice
from domain.invoice_line import Totals, line_taxes
from domain.money import round_to_currency


def money_text(amount: Decimal, currency: str) -> str:
    """Amounts travel as strings at the currency's minor units."""
    return str(round_to_currency(amount, currency))


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def invoice_doc(invoice: Invoice, today: date | None = None) -> dict[str, Any]:
    """The invoice as a document. An invoice whose stored values no arithmetic can hold
    (stored before the limits) still gets one, with its amounts ``None`` and an ``error``
    saying why, so one such invoice never breaks a list."""
    try:
        return _invoice_doc(invoice, today)
    except ArithmeticError as error:
        return _invoice_doc_without_amounts(invoice, error)


def amounts_error(error: ArithmeticError) -> str:
    """Why a document's amounts cannot be computed, in words."""
    return (
        f"its amounts cannot be computed: a stored value is beyond the ledger's limits"
        f" ({type(error).__name__}); see `tollbook reconcile`"
    )


def _invoice_head(invoice: Invoice, status: str) -> dict[str, Any]:
    """What an invoice's document says before its lines: the same whether or not its amounts
    can be computed."""
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "version": invoice.version,
        "customer_id": str(invoice.customer_id),
        "customer_account": invoice.customer_account,
        "currency": invoice.currency,
        "status": status,
        "invoice_date": _iso(invoice.invoice_date),
        "due_date": _iso(invoice.due_date),
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "issued_on": _iso(invoice.issued_on),
        "memo": invoice.memo,
        "billing": invoice.billing.model_dump(mode="json") if invoice.billing else None,
        # what the issued invoice says about the customer's tax treatment (drafts: null)
        "tax_treatment_wording": (
            invoice.billing.tax_treatment.legal_wording if invoice.billing else None
        ),
    }


def _invoice_doc_without_amounts(invoice: Invoice, error: ArithmeticError) -> dict[str, Any]:
    amounts = ("net", "tax", "total", "credited", "paid", "outstanding", "amount_due")
    return {
        **_invoice_head(invoice, invoice.state),
        "lines": [
            {**line.model_dump(mode="json"), "position": position, "net": None, "tax": None}
            for position, line in enumerate(invoice.lines.values(), start=1)
        ],
        **dict.fromkeys(amounts),
        "tax_summary": [],
        "allocations": [
            {"payment_id": str(pid), "amount": str(amount)}
            for pid, amount in invoice.allocations.items()
        ],
        "void_reason": invoice.void_reason,
        "error": amounts_error(error),
    }


def tax_summary(totals: Totals) -> list[dict[str, str]]:
    """The tax per rate, each row saying how its tax was worked out (``basis``): in
    ``per_line`` mode the sum of the line taxes at that rate, in ``per_invoice_rate`` mode
    round(net x rate / 100) (docs/money.md)."""
    cur = totals.currency
    basis = "sum_of_line_taxes" if totals.rounding == "per_line" else "net_times_rate"
    return [
        {"rate": rate, "net": money_text(net, cur), "tax": money_text(tax, cur), "basis": basis}
        for rate, (net, tax) in totals.tax_by_rate.items()
    ]


def _invoice_doc(invoice: Invoice, today: date | None) -> dict[str, Any]:
    totals = invoice.totals
    cur = invoice.currency
    # Invoice.outstanding and .status, from the totals worked out once (each property works
    # them out again: three times a document, most of a read-model rebuild's cost)
    owed = invoice_status.outstanding(
        invoice.state, totals.total, invoice.credited, invoice.allocated
    )
    status = invoice_status.status(
        invoice.state, owed, invoice.allocated, invoice.credited, invoice.due_date, today
    )
    # each line's share of the tax: its own rounded tax per line, its share of the rate's
    # tax per rate, so the lines always add up to the totals
    shares = line_taxes(invoice.lines.values(), cur, invoice.tax_rounding)
    return {
        **_invoice_head(invoice, status),
        "lines": [
            {
                **line.model_dump(mode="json"),
                "position": position,
                "net": money_text(line.net(cur), cur),
                "tax": money_text(shares[line.line_id], cur),
            }
            for position, line in enumerate(invoice.lines.values(), start=1)
        ],
        "net": money_text(totals.net, cur),
        "tax": money_text(totals.tax, cur),
        "total": money_text(totals.total, cur),
        "tax_rounding": invoice.tax_rounding,
        "tax_summary": tax_summary(totals),
        "credited": money_text(invoice.credited, cur),
        "paid": money_text(invoice.allocated, cur),
        "outstanding": money_text(owed, cur),
        # what the document asks for: a draft shows what it would ask once issued
        "amount_due": money_text(totals.total if invoice.state == "draft" else owed, cur),
        "allocations": [
            {"payment_id": str(pid), "amount": money_text(amount, cur)}
            for pid, amount in invoice.allocations.items()
        ],
        "void_reason": invoice.void_reason,
    }
