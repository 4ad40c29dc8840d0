"""Plain-dict documents of aggregates and events, shared by the CLI's --json and other adapters.

Amounts are strings (never floats), dates ISO 8601.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from adapters.ledger.event_mapper import event_payload
from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.package import Package
from domain.payment import Payment
from projections.invoice_document import amounts_error, invoice_doc, tax_summary
from projections.invoice_document import money_text as _m

# the invoice's document moved beside the read model that stores it; callers import it here
__all__ = ["amounts_error", "invoice_doc"]

if TYPE_CHECKING:  # the runner imports every projection: a command showing one invoice
    from projections.balances import BalanceRow
    from projections.runner import Fault


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
