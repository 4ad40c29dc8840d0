"""Credit notes: documents of their own that reduce what is owed on one issued invoice."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from domain import limits
from domain.aggregate import Aggregate, Created, Stamp
from domain.delivery import DocumentSendFailed, DocumentSent, Sendable
from domain.errors import InvalidInput, InvalidState, OutOfRange, OverCredit
from domain.invoice import BillingSnapshot, Invoice, check_line
from domain.invoice_line import InvoiceLine, Totals, totals_of
from domain.money import TaxRounding
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


def credit_invoice(
    credit_note_id: UUID,
    invoice: Invoice,
    lines: list[InvoiceLine],
    number: str,
    issued_on: date,
    stamp: Stamp,
) -> CreditNote:
    """Issue a credit note for ``invoice`` and record it on the invoice (save both together).

    A credit may not exceed what is still outstanding: credit a paid invoice by first
    unallocating the payment, whose money then becomes customer credit.
    """
    if invoice.state != "issued":
        raise InvalidState(f"invoice {invoice.label} is {invoice.state}: only issued invoices")
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
    if totals.total > invoice.outstanding:
        raise OverCredit(
            f"credit of {totals.total} {invoice.currency} exceeds the {invoice.outstanding}"
            f" {invoice.currency} outstanding on {invoice.label}",
            field="amount",
        )
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
