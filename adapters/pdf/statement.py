"""What a printed statement of account says: one currency of a customer's statement
(adapters/queries/statements.py) laid out as the invoices are (same fonts, page, footer).

Deterministic like every tollbook PDF: the creation date is the period's last day, and the
seller and customer are printed as they stand in the ledger (settings now, the customer's
details in force on the last day), so the same statement renders to the same bytes until
those details change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from adapters.pdf import formatting as fmt
from adapters.pdf.document import (
    Column,
    Document,
    Figure,
    StatementRow,
    _customer,
    _midnight,
    _seller,
)
from adapters.queries.statements import Section, Statement
from domain.currencies import MINOR_UNITS
from domain.customer import CustomerProfile
from domain.errors import InvalidInput, NotFound
from domain.settings import SellerSettings
from projections.aged_receivables import BUCKETS

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger

COLUMNS = (
    Column("Date", 21.0, "L"),
    Column("Details", 66.0, "L"),
    Column("Due", 21.0, "L"),
    Column("Debit", 22.0, "R"),
    Column("Credit", 22.0, "R"),
    Column("Balance", 28.0, "R"),
)
_BUCKET_WORDS = {
    "current": "Not yet due",
    "1-30": "1–30 days overdue",
    "31-60": "31–60 days overdue",
    "61-90": "61–90 days overdue",
    "90+": "Over 90 days overdue",
}


def statement_document(
    found: Statement,
    section: Section,
    settings: SellerSettings,
    profile: CustomerProfile,
) -> Document:
    """The printed statement of ``section``'s currency; other currencies are named, never
    mixed in."""
    cur = section.currency
    seller = _seller(None, settings)
    customer = _customer(None, profile)
    period = f"{fmt.day(found.start)} – {fmt.day(found.end)}"
    reference = f"{found.customer_account}, {period}"
    others = [s.currency for s in found.sections if s.currency != cur]
    facts = [
        ("Period", period),
        ("Customer account", found.customer_account),
        ("Currency", cur),
        ("Opening balance", fmt.amount(section.opening, cur)),
        ("Closing balance", fmt.amount(section.closing, cur)),
    ]
    if others:
        facts.append(("Also billed in", ", ".join(others) + " (separate statements)"))
    rows = [StatementRow(fmt.day(found.start), "Opening balance", "", "", "",
                         fmt.amount(section.opening, cur))]  # fmt: skip
    for line in section.lines:
        rows.append(
            StatementRow(
                fmt.day(line.on_date),
                # the due date has its own column
                f"Invoice {line.reference}" if line.kind == "invoice" else line.description,
                fmt.day(line.due_date) if line.due_date else "",
                fmt.amount(line.amount, cur) if line.amount > 0 else "",
                fmt.amount(-line.amount, cur) if line.amount < 0 else "",
                fmt.amount(line.balance, cur),
            )
        )
    figures = (
        Figure("Opening balance", fmt.amount(section.opening, cur)),
        Figure("Invoices", fmt.amount(section.invoiced, cur)),
        Figure("Invoices voided", fmt.amount(-section.voided, cur)),
        Figure("Credit notes", fmt.amount(-section.credited, cur)),
        Figure("Payments", fmt.amount(-section.paid, cur)),
        Figure("Refunds", fmt.amount(section.refunded, cur)),
        Figure(f"Closing balance ({cur})", fmt.amount(section.closing, cur), strong=True),
        Figure("Owed on invoices", fmt.amount(section.owed, cur)),
        Figure("Credit on account", fmt.amount(-section.closing_credit, cur)),
    )
    aged = "\n".join(
        f"{_BUCKET_WORDS[bucket]}: {fmt.amount(section.aged[bucket], cur)}" for bucket in BUCKETS
    )
    notes = [(f"Owed on invoices on {fmt.day(found.end)}, by age", aged)]
    if settings.payment_instructions and section.closing > 0:
        notes.append(("Payment instructions", settings.payment_instructions))
    if section.closing > 0:
        asks = f"Balance due: {fmt.amount(section.closing, cur)} {cur} on {fmt.day(found.end)}."
    elif section.closing < 0:
        asks = f"In credit: {fmt.amount(-section.closing, cur)} {cur} on {fmt.day(found.end)}."
    else:
        asks = f"Nothing due on {fmt.day(found.end)}."
    return Document(
        kind="statement",
        heading="STATEMENT",
        reference=reference,
        mark=None,
        seller=seller,
        customer=customer,
        facts=tuple(facts),
        rows=rows,
        figures=figures,
        notes=tuple(notes),
        currency=cur,
        title=f"Statement of account {reference} for {customer.name}",
        author=seller.name,
        created=_midnight(found.end),
        asks=asks,
        columns=COLUMNS,
    )


def section_of(ledger: Ledger, found: Statement, currency: str | None) -> Section:
    """The section a PDF prints: ``currency``'s, else the customer's own currency's (a
    statement with nothing in it still prints one, showing a zero balance)."""
    wanted = (currency or ledger.customer(found.customer_id).currency).upper()
    if wanted not in MINOR_UNITS:
        raise InvalidInput(f"unknown currency {currency!r}", field="currency")
    for section in found.sections:
        if section.currency == wanted:
            return section
    if currency is not None and found.sections:
        shown = ", ".join(s.currency for s in found.sections)
        raise NotFound(
            f"customer {found.customer_account} has nothing in {wanted} from {found.start}"
            f" to {found.end} (the statement holds {shown})",
            field="currency",
        )
    return Section(wanted, Decimal(0), Decimal(0))


def file_name(found: Statement, currency: str) -> str:
    """``statement-ACME-2026-11-01-2026-11-30-GBP.pdf``; an account number is printable
    text, but a file name keeps letters, digits, dot, dash and underscore only."""
    account = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                      for c in found.customer_account)  # fmt: skip
    return f"statement-{account}-{found.start}-{found.end}-{currency}.pdf"


def render_statement(
    ledger: Ledger, found: Statement, currency: str | None = None
) -> tuple[str, bytes]:
    """The file name and PDF of one currency of the statement: the same bytes from every
    surface (CLI, HTTP, portal, e-mail)."""
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render

    section = section_of(ledger, found, currency)
    customer = ledger.customer(found.customer_id)
    document = statement_document(found, section, ledger.settings(), customer.profile_on(found.end))
    return file_name(found, section.currency), render(document, PdfConfig.from_env()).pdf
