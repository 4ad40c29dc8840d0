"""The Factur-X e-invoice over HTTP: ``GET /invoices/{ref}.pdf?format=factur-x`` and
``GET /credit-notes/{ref}.pdf?format=factur-x``: the CLI's bytes, the XML valid, refusals as
problem documents. On SQLite only: these tests are about documents, not storage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.app.statements import customer_statement
from adapters.einvoice.pdfa3 import embedded_xml
from adapters.einvoice.signing import SigningConfig
from adapters.einvoice.sources import credit_note_facturx, invoice_facturx
from adapters.einvoice.verify import check_signature, verify
from adapters.pdf.config import PdfConfig
from adapters.pdf.render import render
from adapters.pdf.sources import credit_note_source, invoice_source
from adapters.pdf.statement import render_statement
from tests.einvoice_support import (
    assert_en16931,
    cycle,
    seller,
    seller_p12,  # noqa: F401  (the module's key)
    signing,  # noqa: F401
    store_url,  # noqa: F401  (SQLite only)
)
from tests.helpers import event_count


@pytest.fixture
def books(services):
    return cycle(services.ledger)


def test_invoice_and_credit_note_as_factur_x(reader, services, books):
    invoice = reader.get(f"/invoices/{books.numbers[0]}.pdf", format="factur-x")
    plain = reader.get(f"/invoices/{books.numbers[0]}.pdf")
    note = reader.get(f"/credit-notes/{books.credit_note}.pdf", format="factur-x")

    assert invoice.status_code == 200
    assert invoice.headers["content-type"] == "application/pdf"
    assert f'filename="{books.numbers[0]}.pdf"' in invoice.headers["content-disposition"]
    # the CLI's bytes (same ledger, same moment): one renderer behind every surface
    ledger = services.ledger
    assert invoice.content == invoice_facturx(ledger, books.numbers[0], PdfConfig()).pdf
    assert note.content == credit_note_facturx(ledger, books.credit_note, PdfConfig()).pdf
    assert plain.content != invoice.content and embedded_xml(plain.content) is None
    assert_en16931(embedded_xml(note.content))


def test_a_missing_seller_detail_is_a_problem_naming_the_setting(reader, services, books):
    ledger = services.ledger
    seller(ledger, country="")  # issued while the seller's country was not set
    invoice_id = ledger.create_invoice("SIB01", "test")
    ledger.add_line(invoice_id, "test", description="Calls", quantity=D("1"), unit_price=D("5"))
    number = ledger.issue_invoice(invoice_id, "test")

    refused = reader.get(f"/invoices/{number}.pdf", format="factur-x")
    seller(ledger, country="GB")  # set later: an invoice issued before takes it from settings
    accepted = reader.get(f"/invoices/{number}.pdf", format="factur-x")

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert (body["code"], body["field"]) == ("einvoice_incomplete", "settings.country")
    assert "seller's country" in body["detail"]
    assert accepted.status_code == 200
    assert_en16931(embedded_xml(accepted.content))


def test_a_draft_is_a_conflict_and_an_unknown_format_a_validation_error(reader, services, books):
    draft = services.ledger.create_invoice("SIB01", "test")

    as_draft = reader.get(f"/invoices/{draft}.pdf", format="factur-x")
    unknown = reader.get(f"/invoices/{books.numbers[0]}.pdf", format="ubl")

    assert as_draft.status_code == 409
    assert "draft" in as_draft.json()["detail"]
    assert unknown.status_code == 422


def test_the_seller_country_over_http(admin, services):
    before = event_count(services.ledger)

    refused = admin.patch("/settings", {"country": "XX"})
    unchanged = event_count(services.ledger)
    accepted = admin.patch("/settings", {"country": "fr"})

    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["field"]) == ("unknown_country", "country")
    assert unchanged == before
    assert accepted.status_code == 200 and accepted.json()["country"] == "FR"


@pytest.mark.usefixtures("signing")
def test_with_a_signing_key_every_download_is_signed_and_verifies(reader, services, books):
    """The API signs as the CLI does: the unsigned document's bytes, then a PAdES signature
    that ``verify-pdf`` finds intact, by the seller, over the ledger's document."""
    ledger = services.ledger
    invoice_id = ledger.invoice(books.numbers[0]).id
    config = PdfConfig()
    downloads = {
        "invoice": (
            reader.get(f"/invoices/{books.numbers[0]}.pdf"),
            render(invoice_source(ledger, invoice_id), config).pdf,
        ),
        "invoice factur-x": (
            reader.get(f"/invoices/{books.numbers[0]}.pdf", format="factur-x"),
            invoice_facturx(ledger, invoice_id, config).pdf,
        ),
        "credit note": (
            reader.get(f"/credit-notes/{books.credit_note}.pdf"),
            render(credit_note_source(ledger, books.credit_note), config).pdf,
        ),
        "credit note factur-x": (
            reader.get(f"/credit-notes/{books.credit_note}.pdf", format="factur-x"),
            credit_note_facturx(ledger, books.credit_note, config).pdf,
        ),
        "statement": (
            reader.get(
                "/customers/SIB01/statement",
                format="pdf",
                to="2026-12-31",
                **{"from": "2026-01-01"},
            ),
            render_statement(
                ledger, customer_statement(ledger, "SIB01", date(2026, 1, 1), date(2026, 12, 31))
            )[1],
        ),
    }
    key = SigningConfig.from_env()
    assert key is not None
    for what, (response, unsigned) in downloads.items():
        assert response.status_code == 200, what
        signed = response.content
        assert signed.startswith(unsigned) and len(signed) > len(unsigned), what
        checked = check_signature(signed, key.certificate())
        assert (checked.status, checked.seller_certificate) == ("intact", True), what
    # verify-pdf's whole verdict (it renders the ledger's document again to compare)
    verdict = verify(downloads["invoice"][0].content, ledger, config, key.certificate())
    assert (verdict.outcome, verdict.ledger.status) == ("verified", "current")
