"""A customer's statement of account as every entry point asks for it (CLI, HTTP, portal, the
e-mail): the customer by account number or id, the period, and the PDF of one currency
(docs/statements.md). The PDF adapter is imported when a PDF is asked for."""

from __future__ import annotations

from datetime import date

from adapters.app.einvoices import Download
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.queries.statements import Statement, statement


def customer_statement(ledger: Ledger, ref: str, start: date, end: date) -> Statement:
    """The statement of customer ``ref`` from ``start`` to ``end`` (both days included); an
    unknown customer is ``NotFound``, a bad period ``InvalidInput`` naming ``from``/``to``."""
    customer = ledger.customer(ref)
    return statement(
        queries_for(ledger), str(customer.id), customer.registered.account_number, start, end
    )


def statement_pdf(ledger: Ledger, found: Statement, currency: str | None = None) -> Download:
    """The PDF of one currency of the statement (adapters/pdf/statement.py)."""
    from adapters.einvoice.signing import sign_if_configured
    from adapters.pdf.statement import render_statement

    name, pdf = render_statement(ledger, found, currency)
    # signed as every PDF we hand out is, when a key is configured (docs/pdf.md, "Signing")
    return Download(sign_if_configured(pdf, ledger.clock()), name)
