"""Reading what a PDF shows from the ledger: now, or as it stood at a past moment."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from adapters.ledger.application import Ledger
from adapters.pdf.document import Document, credit_note_document, invoice_document
from domain.customer import Customer, CustomerProfile
from domain.errors import NotFound, UnreadableRecord
from domain.invoice import Invoice
from domain.settings import SETTINGS_ID, AccountSettings, SellerSettings


def invoice_source(ledger: Ledger, ref: str | UUID, *, at: datetime | None = None) -> Document:
    """The invoice's document; with ``at``, exactly as the invoice stood at that moment.

    An issued invoice carries its billing snapshot. A draft is printed with the seller settings
    and customer profile in force (at ``at`` for an auditor's view).
    """
    invoice_id = ledger.invoice_id(ref)
    invoice = ledger.as_of(Invoice, invoice_id, at=at) if at else ledger.invoice(invoice_id)
    settings: SellerSettings | None = None
    profile: CustomerProfile | None = None
    if invoice.billing is None:
        settings, profile = _draft_context(ledger, invoice, at)
    numbers = {note_id: ledger.credit_note(note_id).number for note_id in invoice.credit_notes}
    try:
        return invoice_document(
            invoice, settings=settings, profile=profile, credit_note_numbers=numbers, as_of=at
        )
    except ArithmeticError as error:  # a value stored before the limits (docs/money.md)
        raise UnreadableRecord(
            f"invoice {invoice.label} cannot be rendered: its amounts cannot be computed, a"
            f" stored value is beyond the ledger's limits ({type(error).__name__});"
            " see `tollbook reconcile`"
        ) from None


def _draft_context(
    ledger: Ledger, invoice: Invoice, at: datetime | None
) -> tuple[SellerSettings, CustomerProfile]:
    if at is None:
        customer = ledger.customer(invoice.customer_id)
        return ledger.settings(), customer.profile_on(ledger.today())
    try:
        settings = ledger.as_of(AccountSettings, SETTINGS_ID, at=at).values
    except NotFound:
        settings = SellerSettings()
    customer = ledger.as_of(Customer, invoice.customer_id, at=at)
    return settings, customer.profile_on(at.date())


def credit_note_source(ledger: Ledger, ref: str | UUID) -> Document:
    """A credit note's document (credit notes never change once issued)."""
    note = ledger.credit_note(ref)
    issued = ledger.events_of(note.id)[0]
    invoice_date = None if note.invoice_date else ledger.invoice(note.invoice_id).invoice_date
    return credit_note_document(note, reason=issued.reason or "", invoice_date=invoice_date)
