"""Credit notes: documents of their own that reduce what is owed on one issued invoice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import allocation, limits
from domain.aggregate import Aggregate, Created, Stamp
from domain.delivery import DocumentSendFailed, DocumentSent, Sendable
from domain.errors import InvalidInput, InvalidState, OutOfRange, OverCredit
from domain.invoice import BillingSnapshot, Invoice, check_line
from domain.invoice_line import InvoiceLine, Totals, totals_of
from domain.money import TaxRounding
from domain.payment import Payment
from domain.values import CurrencyCode, Dec, Frozen


class CreditLine(Frozen):
    """A line to credit explicitly: becomes one of the credit note's lines."""

    description: str
    quantity: Dec
    unit_price: Dec
    tax_rate: Dec
    tax_description: str = ""


class CreditNote(Sendable, Aggregate):
    """An issued credit note: numbered, linked to its invoice, with a reason. Immutable."""

    invoice_id: UUID
    invoice_number: str
    invoice_date: date | None
    customer_id: UUID
    customer_account: str
    currency: str
    number: str
    issued_on: date
    lines: list[InvoiceLine]
    billing: BillingSnapshot
    tax_rounding: TaxRounding

    class Issued(Created):
        """A credit note was issued against ``invoice_number``, dated ``invoice_date``
        (credit notes issued before the date was recorded load with none)."""

        invoice_id: UUID
        invoice_number: str
        customer_id: UUID
        customer_account: str
        currency: CurrencyCode
        number: str
        issued_on: date
        lines: list[InvoiceLine]
        billing: BillingSnapshot
        net: Dec
        tax: Dec
        total: Dec
        invoice_date: date | None = None
        # the credited invoice's mode, so a full credit equals the invoice to the cent
        # (credit notes issued before it existed: per_line)
        tax_rounding: TaxRounding = "per_line"

        def apply(self, aggregate: Any) -> None:
            for name in (
                "invoice_id",
                "invoice_number",
                "invoice_date",
                "customer_id",
                "customer_account",
                "currency",
                "number",
                "issued_on",
                "lines",
                "billing",
                "tax_rounding",
            ):
                setattr(aggregate, name, getattr(self, name))

    class Sent(DocumentSent):
        """The credit note was e-mailed and the SMTP server accepted the message (the fields
        as on ``Invoice.Sent``; docs/email.md)."""

    class SendFailed(DocumentSendFailed):
        """An attempt to e-mail the credit note failed; retried from ``retry_at`` by
        ``tollbook invoice retry-sends``, which retries both kinds (docs/email.md)."""

    @property
    def totals(self) -> Totals:
        return totals_of(self.lines, self.currency, self.tax_rounding)

    @property
    def label(self) -> str:
        return f"credit note {self.number}"

    def check_sendable(self) -> None:
        """A credit note is issued when it comes into being and never voided: always sendable."""


def check_creditable(invoice: Invoice) -> None:
    """Only an issued invoice is credited (a draft is edited, a void one is gone); checked
    before the note's lines are made from the invoice's."""
    if invoice.state != "issued":
        raise InvalidState(f"invoice {invoice.label} is {invoice.state}: only issued invoices")


def credit_invoice(
    credit_note_id: UUID,
    invoice: Invoice,
    lines: list[InvoiceLine],
    number: str,
    issued_on: date,
    stamp: Stamp,
    payments: Mapping[UUID, Payment] | None = None,
) -> CreditNote:
    """Issue a credit note for ``invoice`` and record it on the invoice (save the note, the
    invoice and every payment in ``payments`` together).

    A credit may be as large as what was never credited (total less earlier credit notes).
    The part of it beyond what is outstanding is released from the invoice's payment
    allocations, the latest allocation first: those payments' money becomes customer credit
    (``Payment.Unallocated`` / ``Invoice.PaymentUnapplied``, recorded before ``Credited`` so
    the invoice never shows a negative outstanding). ``payments`` holds the invoice's
    allocated payments (only needed when the credit exceeds the outstanding amount).
    """
    check_creditable(invoice)
    if not (stamp.reason or "").strip():
        raise InvalidInput("a credit note needs a reason", field="reason")
    if not lines:
        raise InvalidInput("a credit note needs at least one line")
    limits.check_count(len(lines), limits.MAX_LINES, what="lines on one credit note")
    assert invoice.number is not None and invoice.billing is not None
    for line in lines:
        check_line(line, invoice.currency, invoice.billing.tax_treatment)
    totals = totals_of(lines, invoice.currency, invoice.tax_rounding)
    if totals.total <= 0:
        raise OutOfRange("a credit note's total must be greater than zero", field="amount")
    creditable = invoice.totals.total - invoice.credited
    if totals.total > creditable:
        raise OverCredit(
            f"credit of {totals.total} {invoice.currency} exceeds the {creditable}"
            f" {invoice.currency} of {invoice.label} not credited yet",
            field="amount",
        )
    release_allocations(invoice, totals.total - invoice.outstanding, payments or {}, stamp)
    note = CreditNote._start(
        CreditNote.Issued,
        credit_note_id,
        stamp,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        invoice_date=invoice.invoice_date,
        customer_id=invoice.customer_id,
        customer_account=invoice.customer_account,
        currency=invoice.currency,
        number=number,
        issued_on=issued_on,
        lines=lines,
        billing=invoice.billing,
        net=totals.net,
        tax=totals.tax,
        total=totals.total,
        tax_rounding=invoice.tax_rounding,
    )
    invoice.record_credit(credit_note_id, number, totals.total, stamp)
    return note


def release_allocations(
    invoice: Invoice, amount: Decimal, payments: Mapping[UUID, Payment], stamp: Stamp
) -> dict[UUID, Decimal]:
    """Take ``amount`` of the invoice's payment allocations back to their payments (customer
    credit again), the latest allocation first; what was released from each payment."""
    released: dict[UUID, Decimal] = {}
    for payment_id, allocated in reversed(list(invoice.allocations.items())):
        if amount <= 0:
            break
        payment = payments.get(payment_id)
        if payment is None:
            raise InvalidState(f"payment {payment_id} allocated to {invoice.label} was not loaded")
        part = min(allocated, amount)
        allocation.unallocate(payment, invoice, part, stamp)
        released[payment_id] = part
        amount -= part
    return released
