"""Plain-dict documents of aggregates and events, shared by the CLI's --json and other adapters.

Amounts are strings (never floats), dates ISO 8601.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from adapters.ledger.event_mapper import event_payload
from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.invoice import Invoice
from domain.invoice_line import Totals, line_taxes
from domain.money import round_to_currency
from domain.package import Package
from domain.payment import Payment

if TYPE_CHECKING:  # the runner imports every projection: a command showing one invoice
    from projections.balances import BalanceRow
    from projections.runner import Fault


def _m(amount: Decimal, currency: str) -> str:
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
        {"rate": rate, "net": _m(net, cur), "tax": _m(tax, cur), "basis": basis}
        for rate, (net, tax) in totals.tax_by_rate.items()
    ]


def _invoice_doc(invoice: Invoice, today: date | None) -> dict[str, Any]:
    totals = invoice.totals
    cur = invoice.currency
    # each line's share of the tax: its own rounded tax per line, its share of the rate's
    # tax per rate, so the lines always add up to the totals
    shares = line_taxes(invoice.lines.values(), cur, invoice.tax_rounding)
    return {
        **_invoice_head(invoice, invoice.status(today)),
        "lines": [
            {
                **line.model_dump(mode="json"),
                "position": position,
                "net": _m(line.net(cur), cur),
                "tax": _m(shares[line.line_id], cur),
            }
            for position, line in enumerate(invoice.lines.values(), start=1)
        ],
        "net": _m(totals.net, cur),
        "tax": _m(totals.tax, cur),
        "total": _m(totals.total, cur),
        "tax_rounding": invoice.tax_rounding,
        "tax_summary": tax_summary(totals),
        "credited": _m(invoice.credited, cur),
        "paid": _m(invoice.allocated, cur),
        "outstanding": _m(invoice.outstanding, cur),
        # what the document asks for: a draft shows what it would ask once issued
        "amount_due": _m(totals.total if invoice.state == "draft" else invoice.outstanding, cur),
        "allocations": [
            {"payment_id": str(pid), "amount": _m(amount, cur)}
            for pid, amount in invoice.allocations.items()
        ],
        "void_reason": invoice.void_reason,
    }


def customer_doc(customer: Customer, day: date) -> dict[str, Any]:
    profile = customer.profile_on(day)
    return {
        "id": str(customer.id),
        "version": customer.version,
        **profile.model_dump(mode="json"),
        # what documents print and exports send: ``address``, else the free text's lines
        "postal_address": profile.postal_address.model_dump(mode="json"),
        # what the customer's invoices print about its tax treatment ("" for standard)
        "tax_treatment_wording": profile.tax_treatment.legal_wording,
        "scheduled_changes": [
            {"effective_from": when.isoformat(), "changes": after}
            for when, after in customer.changes
            if when > day
        ],
        "packages": [a.model_dump(mode="json") for a in customer.assignments.values()],
    }


def package_doc(package: Package) -> dict[str, Any]:
    return {
        "id": str(package.id),
        "version": package.version,
        **package.terms.model_dump(mode="json"),
    }


def payment_doc(payment: Payment) -> dict[str, Any]:
    return {
        "id": str(payment.id),
        "version": payment.version,
        **payment.details.model_dump(mode="json"),
        "amount": _m(payment.amount, payment.currency),
        "fee": _m(payment.details.fee, payment.currency),
        "status": payment.status,
        "allocated": _m(payment.allocated, payment.currency),
        "refunded": _m(payment.refunded, payment.currency),
        "unallocated": _m(payment.unallocated, payment.currency),
        "allocations": [
            {"invoice_id": str(iid), "amount": _m(amount, payment.currency)}
            for iid, amount in payment.allocations.items()
        ],
    }


def credit_note_doc(note: CreditNote) -> dict[str, Any]:
    totals = note.totals
    return {
        "id": str(note.id),
        "number": note.number,
        "invoice_id": str(note.invoice_id),
        "invoice_number": note.invoice_number,
        "invoice_date": note.invoice_date.isoformat() if note.invoice_date else None,
        "customer_account": note.customer_account,
        "currency": note.currency,
        "issued_on": note.issued_on.isoformat(),
        "lines": [line.model_dump(mode="json") for line in note.lines],
        "net": _m(totals.net, note.currency),
        "tax": _m(totals.tax, note.currency),
        "total": _m(totals.total, note.currency),
        "tax_rounding": totals.rounding,
        "tax_summary": tax_summary(totals),
        "tax_treatment_wording": note.billing.tax_treatment.legal_wording,
    }


def balance_doc(row: BalanceRow) -> dict[str, Any]:
    return {
        "customer_id": str(row.customer_id),
        "customer_account": row.customer_account,
        "currency": row.currency,
        "invoiced": _m(row.invoiced, row.currency),
        "credited": _m(row.credited, row.currency),
        "received": _m(row.received, row.currency),
        "allocated": _m(row.allocated, row.currency),
        "refunded": _m(row.refunded, row.currency),
        "unallocated": _m(row.unallocated, row.currency),
        "outstanding": _m(row.outstanding, row.currency),
        "net_due": _m(row.net_due, row.currency),
    }


def event_doc(event: Event) -> dict[str, Any]:
    payload = event_payload(event)
    return {
        "type": type(event).__qualname__,
        "aggregate_id": str(event.originator_id),
        "version": event.originator_version,
        "timestamp": payload.pop("timestamp"),
        "actor": payload.pop("actor"),
        "reason": payload.pop("reason"),
        "data": payload,
    }


def fault_doc(fault: Fault) -> dict[str, Any]:
    """Why a read model stopped (``projections status --json`` and ``/health``)."""
    return {
        "event_id": fault.event_id,
        "event_type": fault.event_type,
        "aggregate_id": fault.aggregate_id,
        "aggregate_version": fault.aggregate_version,
        "error": fault.error,
        "since": fault.since,
    }
