"""The payment history as a caller names its filters: a customer's account number or id, an
invoice's number or id, a payment's id or prefix — resolved the same way for the CLI and the
HTTP API, then read from the payment history read model a page at a time."""

from __future__ import annotations

from adapters.ledger.application import Ledger
from adapters.queries import queries_for, reports
from adapters.queries.paging import Page
from projections.view import Row


def payment_history_page(
    ledger: Ledger,
    *,
    customer: str | None = None,
    invoice: str | None = None,
    payment: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Row]:
    """One page of payment movements; an unknown reference is ``NotFound`` (404 / exit 3)."""
    return reports.payment_history(
        queries_for(ledger),
        customer_id=str(ledger.customer(customer).id) if customer else None,
        invoice_id=str(ledger.invoice_id(invoice)) if invoice else None,
        payment_id=str(ledger.payment(payment).id) if payment else None,
        limit=limit,
        cursor=cursor,
    )
