"""What an EN 16931 e-invoice says, built from the same ledger state the PDF prints.

``invoice_einvoice`` and ``credit_note_einvoice`` take the invoice (as of a moment) or the
credit note, with the details an issued document snapshotted (seller, customer) and, for what
a snapshot may lack (the seller's country, the customer's country, recorded since), the
current ones. They refuse, naming the setting or customer field, when EN 16931 needs a detail
the ledger does not hold; ``cii.py`` turns the result into the CII XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from adapters.einvoice.categories import OUTSIDE_SCOPE, Category, category_for
from domain.address import PostalAddress
from domain.countries import COUNTRY_NAMES
from domain.credit_note import CreditNote
from domain.currencies import MINOR_UNITS
from domain.errors import EInvoiceIncomplete, EInvoiceNotPossible
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine, Totals
from domain.money import round_half_up
from domain.settings import SellerSettings

INVOICE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE = "381"  # UNTDID 1001: credit note

#: our free-text units -> UN/ECE Recommendation 20 codes (BT-130); anything else is C62 (one)
UNIT_CODES = {
    "s": "SEC",
    "sec": "SEC",
    "second": "SEC",
    "seconds": "SEC",
    "min": "MIN",
    "mins": "MIN",
    "minute": "MIN",
    "minutes": "MIN",
    "h": "HUR",
    "hr": "HUR",
    "hour": "HUR",
    "hours": "HUR",
    "day": "DAY",
    "days": "DAY",
    "month": "MON",
    "months": "MON",
    "mb": "4L",
    "gb": "E34",
}
#: VAT identifiers start with the country's ISO code, Greece's with EL (BR-CO-09)
VAT_PREFIXES = frozenset(COUNTRY_NAMES) | {"EL"}


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    country: str
    lines: tuple[str, ...] = ()
    city: str = ""
    postal_code: str = ""
    region: str = ""
    vat_id: str = ""  # BT-31 / BT-48, with its country prefix
    identifier: str = ""  # BT-29 / BT-46: the customer's account with us
    legal_id: str = ""  # BT-30: the seller's legal registration (company) number


@dataclass(frozen=True, slots=True)
class Line:
    line_id: str
    name: str
    quantity: Decimal
    unit_code: str
    net: Decimal
    price: Decimal
    category: Category
    rate: Decimal
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    category: Category
    rate: Decimal
    basis: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class Content:
    """What invoices and credit notes state alike: parties, lines and amounts."""

    currency: str
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    breakdown: tuple[Breakdown, ...]
    net: Decimal  # BT-106 = BT-109 (no document-level allowances or charges)
    tax: Decimal  # BT-110
    total: Decimal  # BT-112


@dataclass(frozen=True, slots=True)
class EInvoice:
    number: str
    type_code: str
    issue_date: date
    content: Content
    prepaid: Decimal  # BT-113: paid or credited already
    due: Decimal  # BT-115
    delivery_date: date  # BT-72
    due_date: date | None = None  # BT-9
    payment_terms: str = ""  # BT-20
    period_start: date | None = None  # BT-73
    period_end: date | None = None  # BT-74
    preceding: tuple[str, date] | None = None  # BG-3: the invoice a credit note credits
    notes: tuple[str, ...] = ()  # BG-1


@dataclass(frozen=True, slots=True)
class Seller:
    """The seller as the document states it (its snapshot); the country and the registration
    number from the settings where the snapshot lacks them (taken before they were recorded
    with an invoice, or before they were set)."""

    name: str
    address: str
    tax_number: str
    country: str
    registration_number: str = ""

    @classmethod
    def of(cls, billing: BillingSnapshot, settings: SellerSettings) -> Seller:
        details = billing.seller_details
        registration = details.registration_number if details is not None else ""
        return cls(
            billing.seller_name,
            billing.seller_address,
            billing.seller_tax_number,
            billing.seller_country or settings.country,
            registration or settings.registration_number,
        )


def invoice_einvoice(
    invoice: Invoice, seller: Seller, buyer_address: PostalAddress, treatment: str
) -> EInvoice:
    """The e-invoice of an issued invoice as it stands (amount due after payments and
    credits, as the PDF prints it). ``buyer_address`` fills the country a snapshot lacks."""
    if invoice.state != "issued" or invoice.billing is None or invoice.number is None:
        what = "a draft has no number yet" if invoice.state == "draft" else "it is void"
        raise EInvoiceNotPossible(
            f"invoice {invoice.label} cannot be an e-invoice: {what}; only issued invoices"
            " and credit notes are"
        )
    lines = list(invoice.lines.values())
    content = _content(lines, invoice.totals, invoice.billing, seller, buyer_address, treatment)
    due = invoice.outstanding
    return EInvoice(
        number=invoice.number,
        content=content,
        type_code=INVOICE,
        issue_date=invoice.invoice_date,
        due_date=invoice.due_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        delivery_date=invoice.period_end or invoice.invoice_date,
        prepaid=content.total - due,
        due=due,
        notes=_notes(invoice.billing.payment_instructions, invoice.memo, treatment),
    )


def credit_note_einvoice(
    note: CreditNote,
    invoice_date: date,
    seller: Seller,
    buyer_address: PostalAddress,
    treatment: str,
) -> EInvoice:
    """The e-invoice of a credit note: type 381, naming the invoice it credits (BG-3)."""
    content = _content(note.lines, note.totals, note.billing, seller, buyer_address, treatment)
    return EInvoice(
        number=note.number,
        content=content,
        type_code=CREDIT_NOTE,
        issue_date=note.issued_on,
        delivery_date=note.issued_on,
        payment_terms=f"Credited against invoice {note.invoice_number}.",
        preceding=(note.invoice_number, invoice_date),
        prepaid=Decimal(0),
        due=content.total,
        notes=_notes("", "", treatment),
    )


def _content(
    lines: list[InvoiceLine],
    totals: Totals,
    billing: BillingSnapshot,
    seller: Seller,
    buyer_address: PostalAddress,
    treatment: str,
) -> Content:
    currency = totals.currency
    if MINOR_UNITS[currency] > 2:
        raise EInvoiceNotPossible(
            f"EN 16931 amounts have at most 2 decimals: {currency} has {MINOR_UNITS[currency]},"
            " so a document in it cannot be an e-invoice"
        )
    categories = {category_for(treatment, line.tax_rate) for line in lines}
    outside = OUTSIDE_SCOPE in categories
    if outside and len(categories) > 1:  # BR-O-11 .. BR-O-14
        raise EInvoiceNotPossible(
            "an e-invoice with lines outside the scope of VAT may have no other lines"
        )
    return Content(
        currency=currency,
        seller=_seller_party(seller, outside),
        buyer=_buyer_party(billing, buyer_address, treatment, outside),
        lines=tuple(_line(n, line, currency, treatment) for n, line in enumerate(lines, 1)),
        breakdown=_breakdown(totals, treatment),
        net=totals.net,
        tax=totals.tax,
        total=totals.total,
    )


def _seller_party(seller: Seller, outside: bool) -> Party:
    if not seller.name.strip():
        raise EInvoiceIncomplete(
            "an e-invoice names the seller (BT-27): set the company name"
            " (tollbook settings set company_name=...)",
            field="settings.company_name",
        )
    if not seller.country:
        raise EInvoiceIncomplete(
            "an e-invoice needs the seller's country (BT-40): set it"
            " (tollbook settings set country=GB)",
            field="settings.country",
        )
    lines = tuple(part.strip() for part in seller.address.splitlines() if part.strip())
    if outside:
        # BR-O-02 forbids the seller's VAT identifier on a document outside the scope of VAT;
        # BR-CO-26 then wants another seller identifier: the legal registration number (BT-30)
        registration = " ".join(seller.registration_number.split())
        if not registration:
            raise EInvoiceIncomplete(
                "an e-invoice outside the scope of VAT may not carry the seller's VAT number"
                " (BR-O-02) and names the seller by its legal registration number instead"
                " (BT-30, BR-CO-26): set it (tollbook settings set registration_number=...)",
                field="settings.registration_number",
            )
        return Party(name=seller.name, country=seller.country, lines=lines, legal_id=registration)
    vat_id = _vat_id(seller.tax_number)
    if not vat_id:
        raise EInvoiceIncomplete(
            "an e-invoice needs the seller's VAT number with its country prefix (BT-31,"
            " BR-CO-26, BR-CO-09), e.g. GB123456789: set it"
            " (tollbook settings set tax_number=...)",
            field="settings.tax_number",
        )
    return Party(name=seller.name, country=seller.country, lines=lines, vat_id=vat_id)


def _buyer_party(
    billing: BillingSnapshot, current: PostalAddress, treatment: str, outside: bool
) -> Party:
    address = billing.postal_address
    country = address.country or current.country
    account = billing.customer_account
    if not country:
        raise EInvoiceIncomplete(
            f"an e-invoice needs the customer's country (BT-55): customer {account}'s"
            " address has none (tollbook customer edit ... --country XX)",
            field="customer.country",
        )
    vat_id = "" if outside else _vat_id(billing.customer_tax_number)
    if treatment == "reverse_charge" and not vat_id:
        raise EInvoiceIncomplete(
            f"a reverse-charge e-invoice needs the customer's VAT number with its country"
            f" prefix (BT-48, BR-AE-02): customer {account} has"
            f" {'none' if not billing.customer_tax_number else 'one without a prefix'}",
            field="customer.tax_number",
        )
    return Party(
        name=billing.customer_name,
        country=country,
        lines=address.lines if address.country else (),
        city=address.city,
        postal_code=address.postal_code,
        region=address.region,
        vat_id=vat_id,
        identifier=account,
    )


def _vat_id(tax_number: str) -> str:
    """The tax number as a VAT identifier (no spaces, its country prefix), or "" if it has
    no prefix: such a number is printed on the PDF but is no BT-31/BT-48."""
    compact = "".join(tax_number.split()).upper()
    if len(compact) > 2 and compact[:2] in VAT_PREFIXES and compact[2:].isalnum():
        return compact
    return ""


def _line(number: int, line: InvoiceLine, currency: str, treatment: str) -> Line:
    return Line(
        line_id=str(number),
        name=line.description,
        # BR-27: a price is never negative. A discount line (the one line with a negative
        # unit price, domain/discount.py) goes as a negative quantity at its positive price
        quantity=-line.quantity if line.unit_price < 0 else line.quantity,
        unit_code=UNIT_CODES.get(line.unit.strip().lower(), "C62"),
        net=line.net(currency),
        price=abs(line.unit_price),
        category=category_for(treatment, line.tax_rate),
        rate=line.tax_rate,
        period_start=line.period_start,
        period_end=line.period_end,
    )


def _breakdown(totals: Totals, treatment: str) -> tuple[Breakdown, ...]:
    """One entry per rate, with the tax the PDF prints for it. BR-CO-17 allows the tax of a
    category to differ from basis x rate by at most one unit (the sum of rounded line taxes);
    beyond that EN 16931 refuses the document."""
    result = []
    for key, (basis, tax) in sorted(totals.tax_by_rate.items(), key=lambda kv: Decimal(kv[0])):
        rate = Decimal(key)
        expected = round_half_up(basis * rate / 100, Decimal("0.01"))
        if abs(tax - expected) > 1:
            raise EInvoiceNotPossible(
                f"the tax at {key}% ({tax}) differs from {key}% of {basis} by more than one"
                f" {totals.currency} (rounded line by line): EN 16931 refuses that (BR-CO-17)"
            )
        result.append(Breakdown(category_for(treatment, rate), rate, basis, tax))
    return tuple(result)


def _notes(instructions: str, memo: str, treatment: str) -> tuple[str, ...]:
    notes = [text for text in (instructions, memo) if text.strip()]
    category = category_for(treatment, Decimal(1))
    if category.reason:
        notes.append(category.reason)
    return tuple(notes)
