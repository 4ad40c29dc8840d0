"""Building what a printed invoice or credit note says (``adapters.pdf.content``): no geometry,
no fpdf2.

Built from the invoice (or credit note) and, for a draft, the seller settings and customer
profile in force; an issued document uses the billing snapshot taken when it was issued, so a
later change of address or company name never rewrites an old invoice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID

from adapters.pdf import formatting as fmt

# the document's parts live in adapters.pdf.content (what rendering needs, without the domain);
# they are named here too, where the code that builds them has always found them
from adapters.pdf.content import Column as Column
from adapters.pdf.content import Document as Document
from adapters.pdf.content import Figure as Figure
from adapters.pdf.content import Kind as Kind
from adapters.pdf.content import Party as Party
from adapters.pdf.content import Row as Row
from adapters.pdf.content import StatementRow as StatementRow
from domain.credit_note import CreditNote
from domain.customer import CustomerProfile
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine, Totals, rate_key
from domain.money import price_places
from domain.seller_details import SellerDetails
from domain.settings import SellerSettings
from domain.tax_treatment import TaxTreatment


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _address(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _rows(lines: Sequence[InvoiceLine], currency: str) -> list[Row]:
    places = price_places([line.unit_price for line in lines], currency)
    return [
        Row(
            description=line.description,
            period=fmt.period(line.period_start, line.period_end),
            quantity=fmt.quantity(line.quantity, line.unit),
            unit_price=fmt.unit_price(line.unit_price, currency, places),
            tax_rate=fmt.rate(line.tax_rate),
            net=fmt.amount(line.net(currency), currency),
        )
        for line in lines
    ]


def _tax_figures(totals: Totals, lines: Sequence[InvoiceLine]) -> list[Figure]:
    """The tax per rate, captioned with the lines' tax descriptions and how the amount was
    worked out, so the caption's arithmetic is true (docs/pdf.md): per line, "VAT 20%: sum of
    line taxes on 267.00"; per rate, "VAT 20%: 20% x 267.00" (with a multiplication sign)."""
    cur = totals.currency
    figures = []
    for rate, (net, tax) in totals.tax_by_rate.items():
        percent = fmt.rate(Decimal(rate))
        named = dict.fromkeys(
            line.tax_description.strip()
            for line in lines
            if rate_key(line.tax_rate) == rate and line.tax_description.strip()
        )
        name = " / ".join(named) or f"Tax {percent}"
        if totals.rounding == "per_line":
            caption = f"{name}: sum of line taxes on {fmt.amount(net, cur)}"
        else:
            caption = f"{name}: {percent} × {fmt.amount(net, cur)}"
        figures.append(Figure(caption, fmt.amount(tax, cur)))
    return figures


def _treatment_note(treatment: TaxTreatment) -> list[tuple[str, str]]:
    """The legal wording of the customer's tax treatment (none for standard)."""
    return [("VAT treatment", treatment.legal_wording)] if treatment.legal_wording else []


def _seller_details(
    billing: BillingSnapshot | None, settings: SellerSettings | None
) -> SellerDetails:
    """The issued document's copy; a draft's come from the settings in force."""
    if billing is not None:
        return billing.seller_details or SellerDetails()
    assert settings is not None
    return settings.seller_details


def _contact_lines(details: SellerDetails) -> tuple[str, ...]:
    lines = []
    if details.registration_number:
        lines.append(f"Company reg. no. {details.registration_number}")
    if details.contact_email:
        lines.append(details.contact_email)
    if details.contact_phone:
        lines.append(f"Tel. {details.contact_phone}")
    return tuple(lines)


def _seller(billing: BillingSnapshot | None, settings: SellerSettings | None) -> Party:
    details = _contact_lines(_seller_details(billing, settings))
    if billing is not None:
        name, address, tax = billing.seller_name, billing.seller_address, billing.seller_tax_number
    else:
        assert settings is not None
        name, address, tax = settings.company_name, settings.address, settings.tax_number
    return Party("From", name, _address(address), tax, details=details)


def _customer(billing: BillingSnapshot | None, profile: CustomerProfile | None) -> Party:
    if billing is not None:
        return Party(
            "Bill to",
            billing.customer_name,
            tuple(billing.postal_address.printed()),
            billing.customer_tax_number,
            billing.customer_account,
        )
    assert profile is not None
    return Party(
        "Bill to",
        profile.name,
        tuple(profile.postal_address.printed()),
        profile.tax_number,
        profile.account_number,
    )


def _as_of_fact(as_of: datetime | None) -> list[tuple[str, str]]:
    if as_of is None:
        return []
    return [("As it stood at", as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]


def invoice_document(
    invoice: Invoice,
    *,
    settings: SellerSettings | None = None,
    profile: CustomerProfile | None = None,
    credit_note_numbers: Mapping[UUID, str] | None = None,
    as_of: datetime | None = None,
) -> Document:
    """The printed invoice. A draft needs the current ``settings`` and customer ``profile``."""
    if invoice.billing is None and (settings is None or profile is None):
        raise ValueError("a draft invoice is printed with the current settings and profile")
    cur = invoice.currency
    totals = invoice.totals
    numbers = credit_note_numbers or {}
    seller = _seller(invoice.billing, settings)
    customer = _customer(invoice.billing, profile)
    draft = invoice.state == "draft"
    reference = "Draft, not yet numbered" if draft else str(invoice.number)
    facts = [
        ("Invoice number", "—" if draft else str(invoice.number)),
        ("Invoice date", fmt.day(invoice.invoice_date)),
        # services supplied continuously: the invoice date is the time of supply
        ("Tax point", fmt.day(invoice.invoice_date)),
        ("Due date", fmt.day(invoice.due_date)),
    ]
    if invoice.period_start or invoice.period_end:
        facts.append(("Supply period", fmt.period(invoice.period_start, invoice.period_end)))
    facts += [("Currency", cur), ("Customer account", customer.account)]
    if invoice.state == "void":
        facts.append(("Status", "Void"))
    facts += _as_of_fact(as_of)

    lines = list(invoice.lines.values())
    figures = [Figure("Net", fmt.amount(totals.net, cur)), *_tax_figures(totals, lines)]
    figures.append(Figure(f"Total ({cur})", fmt.amount(totals.total, cur), strong=True))
    if invoice.state == "void":
        figures.append(Figure("Voided", fmt.amount(-totals.total, cur)))
    for note_id, credited in invoice.credit_notes.items():
        label = numbers.get(note_id, "credit note")
        figures.append(Figure(f"Credit note {label}", fmt.amount(-credited, cur)))
    if invoice.allocated:
        figures.append(Figure("Paid", fmt.amount(-invoice.allocated, cur)))
    due = totals.total if draft else invoice.outstanding
    figures.append(Figure(f"Amount due ({cur})", fmt.amount(due, cur), strong=True))

    if invoice.billing is not None:
        treatment = invoice.billing.tax_treatment
    else:
        assert profile is not None
        treatment = profile.tax_treatment
    notes: list[tuple[str, str]] = []
    if invoice.state == "void":
        notes.append(("Void", f"This invoice is void and not payable: {invoice.void_reason}"))
    elif draft:
        notes.append(("Draft", "A draft for review: not a demand for payment."))
    if invoice.billing is not None:
        instructions = invoice.billing.payment_instructions
    else:
        assert settings is not None
        instructions = settings.payment_instructions
    bank = _seller_details(invoice.billing, settings).bank_lines
    if bank and invoice.state != "void":
        notes.append(("Bank details", "\n".join(bank)))
    if instructions and invoice.state != "void":
        notes.append(("Payment instructions", instructions))
    notes += _treatment_note(treatment)
    if invoice.memo:
        notes.append(("Note", invoice.memo))

    if invoice.state == "void":
        asks = "This invoice is void: nothing is due."
    else:
        would = "would be due" if draft else "due"
        asks = f"Amount {would}: {fmt.amount(due, cur)} {cur} by {fmt.day(invoice.due_date)}."
    return Document(
        kind="invoice",
        heading="INVOICE",
        reference=reference,
        mark={"draft": "DRAFT", "void": "VOID"}.get(invoice.state),
        seller=seller,
        customer=customer,
        facts=tuple(facts),
        rows=_rows(lines, cur),
        figures=tuple(figures),
        notes=tuple(notes),
        currency=cur,
        title=f"Invoice {reference} for {customer.name}",
        author=seller.name,
        created=_midnight(invoice.issued_on or invoice.invoice_date),
        asks=asks,
    )


def credit_note_document(
    note: CreditNote, *, reason: str = "", invoice_date: date | None = None
) -> Document:
    """The printed credit note: its own title, and the invoice it credits by number and date
    (``invoice_date`` stands in for a note issued before the event carried the date)."""
    cur = note.currency
    credited_on = note.invoice_date or invoice_date
    credited = note.invoice_number + (f" of {fmt.day(credited_on)}" if credited_on else "")
    totals = note.totals
    seller = _seller(note.billing, None)
    customer = _customer(note.billing, None)
    facts = (
        ("Credit note number", note.number),
        ("Date", fmt.day(note.issued_on)),
        ("Tax point", fmt.day(note.issued_on)),
        ("Credits invoice", credited),
        ("Currency", cur),
        ("Customer account", customer.account),
    )
    figures = (
        Figure("Net", fmt.amount(totals.net, cur)),
        *_tax_figures(totals, note.lines),
        Figure(f"Total credit ({cur})", fmt.amount(totals.total, cur), strong=True),
    )
    notes = [("Reason", reason)] if reason else []
    notes += _treatment_note(note.billing.tax_treatment)
    notes.append(
        (
            "Credit",
            f"This credit note reduces the amount due on invoice {credited}"
            f" by {fmt.amount(totals.total, cur)} {cur}.",
        )
    )
    return Document(
        kind="credit_note",
        heading="CREDIT NOTE",
        reference=note.number,
        mark=None,
        seller=seller,
        customer=customer,
        facts=facts,
        rows=_rows(note.lines, cur),
        figures=figures,
        notes=tuple(notes),
        currency=cur,
        title=f"Credit note {note.number} for {customer.name} (invoice {note.invoice_number})",
        author=seller.name,
        created=_midnight(note.issued_on),
        asks=f"Total credit: {fmt.amount(totals.total, cur)} {cur}, against invoice {credited}.",
    )
