"""Prepaid and credit: a customer's unallocated credit applied to a new invoice as it is
issued, and what that credit (the prepaid balance) is.

A top-up is simply a completed payment recorded with no invoice: its money is customer credit
until it is allocated (by hand, or here when an invoice of a customer with
``auto_apply_credit`` is issued) or refunded. docs/money.md#prepaid-and-credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from domain import allocation, limits
from domain.aggregate import Stamp
from domain.invoice import Invoice
from domain.payment import Payment


def prepaid_balance(payments: Iterable[Payment]) -> Decimal:
    """The customer's credit: what its completed payments hold unallocated and unrefunded."""
    return sum((payment.unallocated for payment in payments), Decimal(0))


def oldest_first(payments: Iterable[Payment]) -> list[Payment]:
    """Payments in the order their credit is used: received first, used first (the order
    they were recorded in breaks a tie: ``sorted`` is stable)."""
    return sorted(payments, key=lambda payment: payment.details.received_on)


def apply_credit(invoice: Invoice, payments: Sequence[Payment], stamp: Stamp) -> list[Payment]:
    """Allocate the credit of ``payments`` (oldest first) to the issued ``invoice`` until
    nothing is outstanding or no credit is left; the payments that gave some. Each
    allocation is an ordinary one (``Payment.Allocated`` + ``Invoice.PaymentApplied``), to be
    saved with the invoice in the same transaction as its issue."""
    used: list[Payment] = []
    for payment in oldest_first(payments):
        if invoice.outstanding <= 0:
            break
        if payment.currency != invoice.currency or payment.unallocated <= 0:
            continue
        if len(payment.allocations) >= limits.MAX_ALLOCATIONS:
            continue  # this payment is spread as far as it may go; the next one pays
        amount = min(payment.unallocated, invoice.outstanding)
        allocation.allocate(payment, invoice, amount, stamp)
        used.append(payment)
    return used
