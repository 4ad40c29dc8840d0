"""Which ledger events an accounting connection replays, and the document each one becomes.

Drafts never leave the ledger: only ``Invoice.Issued`` exports an invoice, with the lines as
they stood at that event's version. A pending payment is not money yet: payments leave as
their allocations to invoices (``Payment.Allocated``), which exist only once completed.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from uuid import UUID

from adapters.accounting import documents as docs
from adapters.ledger.application import Ledger
from domain.aggregate import Event
from domain.credit_note import CreditNote as LedgerCreditNote
from domain.customer import Customer, CustomerProfile
from domain.event_handlers import HandlesEvents, on
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine, line_taxes
from domain.money import TaxRounding
from domain.payment import Payment

#: Customer fields an accounting contact carries; a change to any of them updates the contact.
CONTACT_FIELDS = frozenset(
    {"name", "email", "billing_address", "address", "tax_number", "external_accounting_id"}
)


def event_key(event: Event) -> str:
    return f"{event.originator_id}:{event.originator_version}"


def item_for(ledger: Ledger, position: int, event: Event) -> docs.ExportItem | None:
    """The export item for one ledger event, or None when accounting does not care."""
    build = _ITEMS.handler_for(event)
    return None if build is None else build(ledger, position, event)


class _Items(HandlesEvents):
    """One builder per ledger event an accounting connection replays."""

    @on(Customer.Registered)
    def _registered(
        self, ledger: Ledger, position: int, event: Customer.Registered
    ) -> docs.ExportItem | None:
        key = event_key(event)
        contact = contact_of(event.originator_id, event.profile)
        return docs.ExportItem(
            position,
            key,
            "contact",
            event.originator_id,
            event.originator_id,
            contact,
            event.profile.account_number,
        )

    @on(Customer.DetailsChanged)
    def _details_changed(
        self, ledger: Ledger, position: int, event: Customer.DetailsChanged
    ) -> docs.ExportItem | None:
        key = event_key(event)
        if not CONTACT_FIELDS & set(event.after):
            return None
        customer = ledger.as_of(Customer, event.originator_id, version=event.originator_version)
        contact = contact_of(customer.id, customer.latest)
        return docs.ExportItem(
            position, key, "contact", customer.id, customer.id, contact, contact.account_number
        )

    @on(Invoice.Issued)
    def _invoice_issued(
        self, ledger: Ledger, position: int, event: Invoice.Issued
    ) -> docs.ExportItem | None:
        key = event_key(event)
        invoice = ledger.as_of(Invoice, event.originator_id, version=event.originator_version)
        return docs.ExportItem(
            position,
            key,
            "invoice",
            invoice.customer_id,
            invoice.id,
            sales_invoice_of(invoice, event),
            event.number,
        )

    @on(LedgerCreditNote.Issued)
    def _credit_note_issued(
        self, ledger: Ledger, position: int, event: LedgerCreditNote.Issued
    ) -> docs.ExportItem | None:
        key = event_key(event)
        return docs.ExportItem(
            position,
            key,
            "credit_note",
            event.customer_id,
            event.originator_id,
            credit_note_of(event, list(ledger.invoice(event.invoice_id).lines.values())),
            event.number,
        )

    @on(Payment.Allocated)
    def _allocated(
        self, ledger: Ledger, position: int, event: Payment.Allocated
    ) -> docs.ExportItem | None:
        key = event_key(event)
        payment = ledger.as_of(Payment, event.originator_id, version=event.originator_version)
        allocation = docs.PaymentAllocation(
            payment_id=payment.id,
            invoice_id=event.invoice_id,
            invoice_number=event.invoice_number,
            customer_id=payment.details.customer_id,
            amount=event.amount,
            currency=event.currency,
            paid_on=payment.details.received_on,
            method=payment.details.method,
            reference=_public(payment.details.reference),
        )
        return docs.ExportItem(
            position,
            key,
            "payment",
            allocation.customer_id,
            payment.id,
            allocation,
            f"{event.amount} {event.currency} to {event.invoice_number}",
        )

    @on(Payment.Unallocated)
    def _unallocated(
        self, ledger: Ledger, position: int, event: Payment.Unallocated
    ) -> docs.ExportItem | None:
        key = event_key(event)
        payment = ledger.as_of(Payment, event.originator_id, version=event.originator_version)
        unallocation = docs.Unallocation(
            payment_id=payment.id,
            invoice_id=event.invoice_id,
            invoice_number=event.invoice_number,
            customer_id=payment.details.customer_id,
            amount=event.amount,
            remaining=payment.allocations.get(event.invoice_id, Decimal(0)),
            currency=event.currency,
            paid_on=payment.details.received_on,
            method=payment.details.method,
            reference=_public(payment.details.reference),
            earlier=tuple(
                event_key(earlier)
                for earlier in ledger.events_of(payment.id)[: event.originator_version - 1]
                if isinstance(earlier, Payment.Allocated | Payment.Unallocated)
                and earlier.invoice_id == event.invoice_id
            ),
        )
        return docs.ExportItem(
            position,
            key,
            "unallocation",
            unallocation.customer_id,
            payment.id,
            unallocation,
            f"{event.amount} {event.currency} back from {event.invoice_number}",
        )

    @on(Payment.Refunded)
    def _refunded(
        self, ledger: Ledger, position: int, event: Payment.Refunded
    ) -> docs.ExportItem | None:
        key = event_key(event)
        payment = ledger.as_of(Payment, event.originator_id, version=event.originator_version)
        refund = docs.Refund(
            payment_id=payment.id,
            customer_id=payment.details.customer_id,
            amount=event.amount,
            currency=event.currency,
            refunded_on=event.timestamp.astimezone(UTC).date(),
            method=event.method,
            reference=_public(event.reference),
            received_on=payment.details.received_on,
        )
        return docs.ExportItem(
            position,
            key,
            "refund",
            refund.customer_id,
            payment.id,
            refund,
            f"{event.amount} {event.currency} refunded",
        )

    @on(Invoice.Voided)
    def _voided(
        self, ledger: Ledger, position: int, event: Invoice.Voided
    ) -> docs.ExportItem | None:
        key = event_key(event)
        invoice = ledger.as_of(Invoice, event.originator_id, version=event.originator_version)
        assert invoice.number is not None  # only issued invoices are voided
        void = docs.Void(invoice.id, invoice.number, invoice.customer_id, event.reason or "")
        return docs.ExportItem(
            position, key, "void", invoice.customer_id, invoice.id, void, invoice.number
        )

    @on(Invoice.DueDateChanged)
    def _due_date_changed(
        self, ledger: Ledger, position: int, event: Invoice.DueDateChanged
    ) -> docs.ExportItem | None:
        key = event_key(event)
        invoice = ledger.as_of(Invoice, event.originator_id, version=event.originator_version)
        assert invoice.number is not None  # only issued invoices take a new due date
        change = docs.DueDateChange(
            invoice.id,
            invoice.number,
            invoice.customer_id,
            event.before,
            event.after,
            event.reason or "",
        )
        return docs.ExportItem(
            position,
            key,
            "due_date",
            invoice.customer_id,
            invoice.id,
            change,
            f"{invoice.number} due {event.after.isoformat()}",
        )


_ITEMS = _Items()


def contact_of(customer_id: UUID, profile: CustomerProfile) -> docs.Contact:
    return docs.Contact(
        customer_id=customer_id,
        account_number=profile.account_number,
        external_id=profile.external_accounting_id,
        name=profile.name,
        email=profile.email,
        address=profile.postal_address,
        tax_number=profile.tax_number,
        currency=profile.currency,
    )


def lines_of(
    lines: list[InvoiceLine], currency: str, rounding: TaxRounding = "per_line"
) -> tuple[docs.Line, ...]:
    """The lines as exported, each with its share of the document's tax in ``rounding``."""
    shares = line_taxes(lines, currency, rounding)
    return tuple(
        docs.Line(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
            tax_description=line.tax_description,
            kind=line.kind,
            net=line.net(currency),
            tax=shares[line.line_id],
        )
        for line in lines
    )


def sales_invoice_of(invoice: Invoice, issued: Invoice.Issued) -> docs.SalesInvoice:
    period = ""
    if invoice.period_start and invoice.period_end:
        period = f"{invoice.period_start.isoformat()} to {invoice.period_end.isoformat()}"
    return docs.SalesInvoice(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        number=issued.number,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        reference=invoice.memo or period,
        lines=lines_of(list(invoice.lines.values()), invoice.currency, issued.tax_rounding),
        net=issued.net,
        tax=issued.tax,
        total=issued.total,
        tax_treatment=issued.billing.tax_treatment,
    )


def credited_kinds(lines: list[InvoiceLine], invoice_lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """Credit lines booked to the account of the invoice line they credit.

    A credit in full copies the invoice's lines, kinds included. A credit by amount, or by
    lines typed in, is of kind ``manual``: such a line takes the kind of the invoice lines with
    the same description when they agree on one, else the kind every invoice line shares. When
    neither settles it (an amount credited off an invoice of package and usage lines) it stays
    ``manual``, the connection's default account.
    """
    kinds = {line.kind for line in invoice_lines}
    only = next(iter(kinds)) if len(kinds) == 1 else None
    settled = []
    for line in lines:
        kind = line.kind
        if kind == "manual":
            same = {i.kind for i in invoice_lines if i.description == line.description}
            kind = next(iter(same)) if len(same) == 1 else (only or kind)
        settled.append(line if kind == line.kind else line.model_copy(update={"kind": kind}))
    return settled


def credit_note_of(
    event: LedgerCreditNote.Issued, invoice_lines: list[InvoiceLine] | None = None
) -> docs.CreditNote:
    return docs.CreditNote(
        credit_note_id=event.originator_id,
        invoice_id=event.invoice_id,
        invoice_number=event.invoice_number,
        customer_id=event.customer_id,
        number=event.number,
        issued_on=event.issued_on,
        currency=event.currency,
        reason=event.reason or "",
        lines=lines_of(
            credited_kinds(event.lines, invoice_lines or []), event.currency, event.tax_rounding
        ),
        net=event.net,
        tax=event.tax,
        total=event.total,
        tax_treatment=event.billing.tax_treatment,
    )


def _public(reference: str) -> str:
    """Text after ``#`` in a payment reference is private to the seller: it never leaves."""
    return reference.split("#", 1)[0].strip()
