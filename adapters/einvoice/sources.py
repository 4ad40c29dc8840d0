"""Factur-X e-invoices read from the ledger: the invoice now or as it stood at a moment, and
credit notes. The PDF inside is the very document ``tollbook invoice pdf`` prints (with the
PDF/A output intent), the XML is built from the same invoice state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from adapters.einvoice.categories import treatment_of
from adapters.einvoice.cii import cii_xml
from adapters.einvoice.model import (
    EInvoice,
    Seller,
    credit_note_einvoice,
    invoice_einvoice,
)
from adapters.einvoice.pdfa3 import embed, srgb_profile
from adapters.ledger.application import Ledger
from adapters.pdf.config import PdfConfig
from adapters.pdf.document import Document
from adapters.pdf.render import render
from adapters.pdf.sources import (
    credit_note_source,
    invoice_document_of,
    load_invoice,
    profile_at,
    settings_at,
)
from domain.credit_note import CreditNote
from domain.invoice import Invoice


@dataclass(frozen=True, slots=True)
class FacturX:
    pdf: bytes
    xml: bytes
    document: Document
    pages: int


def invoice_einvoice_of(ledger: Ledger, invoice: Invoice, at: datetime | None) -> EInvoice:
    """The e-invoice of an invoice already loaded (now, or as it stood at ``at``)."""
    settings = settings_at(ledger, at)
    buyer = profile_at(ledger, invoice.customer_id, at).postal_address
    billing = invoice.billing
    treatment = treatment_of(billing)
    if billing is None:  # a draft: refused by invoice_einvoice with its reason
        return invoice_einvoice(invoice, Seller("", "", "", ""), buyer, treatment)
    return invoice_einvoice(invoice, Seller.of(billing, settings), buyer, treatment)


def invoice_facturx(
    ledger: Ledger,
    ref: str | UUID,
    config: PdfConfig,
    *,
    at: datetime | None = None,
    label_moment: bool = True,
) -> FacturX:
    """The Factur-X PDF of an issued invoice (as it stood at ``at`` when given)."""
    invoice = load_invoice(ledger, ref, at=at)
    einvoice = invoice_einvoice_of(ledger, invoice, at)
    document = invoice_document_of(ledger, invoice, at=at, label_moment=label_moment)
    return _assemble(document, cii_xml(einvoice), config)


def credit_note_einvoice_of(ledger: Ledger, note: CreditNote) -> EInvoice:
    """The e-invoice of a credit note (type 381, naming the invoice it credits)."""
    invoice = ledger.invoice(note.invoice_id)
    seller = Seller.of(note.billing, ledger.settings())
    buyer = ledger.customer(note.customer_id).profile_on(ledger.today()).postal_address
    return credit_note_einvoice(
        note, invoice.invoice_date, seller, buyer, treatment_of(note.billing)
    )


def credit_note_facturx(ledger: Ledger, ref: str | UUID, config: PdfConfig) -> FacturX:
    """The Factur-X PDF of a credit note."""
    note = ledger.credit_note(ref)
    xml = cii_xml(credit_note_einvoice_of(ledger, note))
    return _assemble(credit_note_source(ledger, note.id), xml, config)


def _assemble(document: Document, xml: bytes, config: PdfConfig) -> FacturX:
    rendered = render(document, config, output_intent=srgb_profile())
    pdf = embed(
        rendered.pdf,
        xml,
        created=document.created,
        title=document.title,
        subject=f"{document.heading.title()} {document.reference}",
        author=document.author,
    )
    return FacturX(pdf, xml, document, rendered.page_count)
