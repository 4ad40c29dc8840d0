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


def invoice_source(
    ledger: Ledger, ref: str | UUID, *, at: datetime | None = None, label_moment: bool = True
) -> Document:
    """The invoice's document; with ``at``, exactly as the invoice stood at that moment.

    An issued invoice carries its billing snapshot. A draft is printed with the seller settings
    and customer profile in force (at ``at`` for an auditor's view). ``label_moment`` False
    leaves out the "As it stood at" line: the document as it was printed at that moment
    (``tollbook invoice verify-pdf`` compares a file with it).
    """
    return invoice_document_of(
        ledger, load_invoice(ledger, ref, at=at), at=at, label_moment=label_moment
    )


def load_invoice(ledger: Ledger, ref: str | UUID, *, at: datetime | None = None) -> Invoice:
    """The invoice now, or as it stood at ``at``."""
    invoice_id = ledger.invoice_id(ref)
    return ledger.as_of(Invoice, invoice_id, at=at) if at else ledger.invoice(invoice_id)


def invoice_document_of(
    ledger: Ledger, invoice: Invoice, *, at: datetime | None = None, label_moment: bool = True
) -> Document:
    """The printed document of an invoice already loaded (now, or as it stood at ``at``)."""
    settings: SellerSettings | None = None
    profile: CustomerProfile | None = None
    if invoice.billing is None:
        settings, profile = _draft_context(ledger, invoice, at)
    as_of = at if label_moment else None
    numbers = {note_id: ledger.credit_note(note_id).number for note_id in invoice.credit_notes}
    try:
        return invoice_document(
            invoice, settings=settings, profile=profile, credit_note_numbers=numbers, as_of=as_of
        )
    except ArithmeticError as error:  # a value stored before the limits (docs/money.md)
        raise UnreadableRecord(
            f"invoice {invoice.label} cannot be rendered: its amounts cannot be computed, a"
            f" stored value is beyond the ledger's limits ({type(error).__name__});"
            " see `tollbook reconcile`"
        ) from None


def settings_at(ledger: Ledger, at: datetime | None) -> SellerSettings:
    """The seller settings now, or as they stood at ``at``."""
    if at is None:
        return ledger.settings()
    try:
        return ledger.as_of(AccountSettings, SETTINGS_ID, at=at).values
    except NotFound:
        return SellerSettings()


def profile_at(ledger: Ledger, customer_id: UUID, at: datetime | None) -> CustomerProfile:
    """The customer's profile today, or as it stood on ``at``'s day."""
    if at is None:
        return ledger.customer(customer_id).profile_on(ledger.today())
    return ledger.as_of(Customer, customer_id, at=at).profile_on(at.date())


def _draft_context(
    ledger: Ledger, invoice: Invoice, at: datetime | None
) -> tuple[SellerSettings, CustomerProfile]:
    return settings_at(ledger, at), profile_at(ledger, invoice.customer_id, at)


def credit_note_source(ledger: Ledger, ref: str | UUID) -> Document:
    """A credit note's document (credit notes never change once issued)."""
    note = ledger.credit_note(ref)
    issued = ledger.events_of(note.id)[0]
    invoice_date = None if note.invoice_date else ledger.invoice(note.invoice_id).invoice_date
    return credit_note_document(note, reason=issued.reason or "", invoice_date=invoice_date)
