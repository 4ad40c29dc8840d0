"""Which invoice bills a customer's period now: the billing run's first invoice of it, or,
once that is voided, the one that bills the period again (``invoice_id_for(..., replaces=)``),
following the chain of voids to its end."""

from __future__ import annotations

from uuid import UUID

from adapters.ledger.application import Ledger
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.usage import Period, invoice_id_for

#: a period voided and billed again this many times is refused rather than followed further
MAX_GENERATIONS = 100


def live_invoice(ledger: Ledger, customer_id: UUID, period: Period) -> Invoice | None:
    """The period's billing-run invoice that is not void (None: never billed, or every
    generation voided and not billed again yet)."""
    invoice = _invoice_or_none(ledger, invoice_id_for(customer_id, period))
    for _ in range(MAX_GENERATIONS):
        if invoice is None or invoice.state != "void":
            return invoice
        invoice = _invoice_or_none(ledger, invoice_id_for(customer_id, period, replaces=invoice.id))
    raise NotFound(f"period {period.label} was voided more than {MAX_GENERATIONS} times")


def _invoice_or_none(ledger: Ledger, invoice_id: UUID) -> Invoice | None:
    try:
        return ledger.invoice(invoice_id)
    except NotFound:
        return None
