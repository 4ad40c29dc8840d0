"""A customer's statement of account as every entry point asks for it (CLI, HTTP, portal, the
e-mail): the customer by account number or id, the period, and the PDF of one currency
(docs/statements.md). The PDF adapter is imported when a PDF is asked for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters.app.einvoices import Download
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.queries.statements import Section, Statement, statement
from domain.currencies import MINOR_UNITS
from domain.errors import InvalidInput, NotFound


def customer_statement(ledger: Ledger, ref: str, start: date, end: date) -> Statement:
    """The statement of customer ``ref`` from ``start`` to ``end`` (both days included); an
    unknown customer is ``NotFound``, a bad period ``InvalidInput`` naming ``from``/``to``."""
    customer = ledger.customer(ref)
    return statement(
        queries_for(ledger), str(customer.id), customer.registered.account_number, start, end
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


def statement_pdf(ledger: Ledger, found: Statement, currency: str | None = None) -> Download:
    """The PDF of one currency of the statement: the same bytes from every surface."""
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.statement import statement_document

    section = section_of(ledger, found, currency)
    customer = ledger.customer(found.customer_id)
    document = statement_document(
        found, section, ledger.settings(), customer.profile_on(found.end)
    )
    return Download(render(document, PdfConfig.from_env()).pdf, file_name(found, section.currency))
