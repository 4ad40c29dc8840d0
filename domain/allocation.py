"""Allocating payments to invoices: the rule that touches two aggregates at once.

Both aggregates get their event here and must be saved together in one transaction; their
versions make a concurrent allocation of the same payment or invoice conflict, never overdraw.
"""

from __future__ import annotations

from decimal import Decimal

from domain.aggregate import Stamp
from domain.errors import (
    CurrencyMismatch,
    CustomerMismatch,
    InvalidInput,
    InvalidState,
    OverAllocation,
    about,
)
from domain.invoice import Invoice
from domain.limits import check_money, shown
from domain.payment import Payment


def allocate(payment: Payment, invoice: Invoice, amount: Decimal, stamp: Stamp) -> None:
    """Allocate ``amount`` of a completed payment to an issued invoice of the same customer."""
    payment.require_completed("allocated")
    with about(str(invoice.id)):
        _check_allocation(payment, invoice, amount)
    payment.allocate(invoice.id, invoice.label, amount, stamp)
    invoice.apply_payment(payment.id, amount, stamp)


def _check_allocation(payment: Payment, invoice: Invoice, amount: Decimal) -> None:
    """This one allocation: a positive amount, an issued invoice of the payment's customer and
    currency with that much outstanding (what the payment has left is ``Payment.allocate``'s
    to check)."""
    if amount <= 0:
        raise InvalidInput(
            f"allocation amount must be greater than zero, got {shown(amount)}", field="amount"
        )
    check_money(amount, payment.currency, what="allocation", field="amount")
    if invoice.customer_id != payment.details.customer_id:
        raise CustomerMismatch(
            f"payment belongs to {payment.details.customer_account}, invoice {invoice.label}"
            f" to {invoice.customer_account}: allocations never cross customers",
            field="amount",
        )
    if invoice.currency != payment.currency:
        raise CurrencyMismatch(
            f"payment is in {payment.currency}, invoice {invoice.label} in {invoice.currency}",
            field="amount",
        )
    if invoice.state != "issued":
        raise InvalidState(
            f"invoice {invoice.label} is {invoice.state}: only issued invoices", field="amount"
        )
    if amount > invoice.outstanding:
        raise OverAllocation(
            f"allocation of {amount} {invoice.currency} exceeds the {invoice.outstanding}"
            f" {invoice.currency} outstanding on {invoice.label}",
            field="amount",
        )


def unallocate(payment: Payment, invoice: Invoice, amount: Decimal, stamp: Stamp) -> None:
    """Take back part or all of an allocation; the money becomes customer credit again."""
    if amount <= 0:
        raise InvalidInput(f"amount must be greater than zero, got {shown(amount)}")
    check_money(amount, payment.currency, what="amount")
    if not (stamp.reason or "").strip():
        raise InvalidInput("un-allocating needs a reason")
    payment.unallocate(invoice.id, invoice.label, amount, stamp)
    invoice.unapply_payment(payment.id, amount, stamp)
