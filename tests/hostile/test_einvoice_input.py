"""Hostile input to e-invoicing and signatures: a seller or customer detail EN 16931 needs and
the ledger lacks, a country that is none, documents EN 16931 cannot express, files that are
not PDFs, a signing key that cannot be used. Each is refused with its code, the field it
concerns and a specific exit code; nothing is written. (SQLite: documents, not storage.)"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.einvoice.model import Seller, invoice_einvoice
from domain.address import PostalAddress
from domain.errors import EInvoiceIncomplete, EInvoiceNotPossible
from tests.einvoice_support import (
    cycle,
    seller,
    store_url,  # noqa: F401  (SQLite only)
)
from tests.helpers import event_count
from tests.pdf_support import STAMP, billing, draft_invoice, usage_line


@pytest.fixture
def books(ledger):
    return cycle(ledger)


def fresh_invoice(ledger, account="SIB01") -> str:
    invoice_id = ledger.create_invoice(account, "test")
    ledger.add_line(invoice_id, "test", description="Calls", quantity=D("1"), unit_price=D("5"))
    return ledger.issue_invoice(invoice_id, "test")


@pytest.mark.parametrize(
    ("setting", "value", "field", "words"),
    [
        ("country", "", "settings.country", "seller's country (BT-40)"),
        ("tax_number", "", "settings.tax_number", "seller's VAT number"),
        ("tax_number", "123456789", "settings.tax_number", "country prefix"),
        ("tax_number", "ZZ123456789", "settings.tax_number", "country prefix"),
    ],
)
def test_missing_seller_details_name_the_setting(
    tollbook, ledger, books, tmp_path, setting, value, field, words
):
    seller(ledger, **{setting: value})
    number = fresh_invoice(ledger)
    before = event_count(ledger)

    result = tollbook("invoice", "pdf", number, "--factur-x", "-o", str(tmp_path), "--json")

    assert result.code == 2
    assert "[einvoice_incomplete]" in result.err and words in result.err
    assert field.split(".")[1] in result.err  # the command to set it names the setting
    assert list(tmp_path.glob("*.pdf")) == []
    assert event_count(ledger) == before


def test_a_customer_without_a_country_is_named(tollbook, ledger, books, tmp_path):
    ledger.register_customer(
        "test",
        account_number="NOWHERE",
        name="Nowhere Ltd",
        billing_address="1 Road",
        currency="EUR",
    )
    number = fresh_invoice(ledger, "NOWHERE")

    result = tollbook("invoice", "pdf", number, "--factur-x", "-o", str(tmp_path))

    assert result.code == 2
    assert "customer NOWHERE" in result.err and "(BT-55)" in result.err


@pytest.mark.parametrize("country", ["XX", "GBR", "g", "G\u200bB", "G B", "ÜK"])
def test_seller_country_must_be_an_iso_code(tollbook, ledger, country):
    before = event_count(ledger)

    result = tollbook("settings", "set", f"country={country}")

    assert result.code == 2
    assert "[unknown_country]" in result.err
    assert event_count(ledger) == before


def test_seller_country_is_stored_upper_case(tollbook, ledger):
    assert tollbook("settings", "set", "country= de ").code == 0
    assert ledger.settings().country == "DE"


def builder_invoice(currency="EUR", tax_number="DE123456789", rate=D("0")):
    invoice = draft_invoice([usage_line(1).model_copy(update={"tax_rate": rate})], currency)
    snapshot = billing().model_copy(
        update={
            "customer_tax_number": tax_number,
            "address": PostalAddress(lines=("Alexanderplatz 1",), country="DE"),
        }
    )
    invoice.issue("INV-2026-000042", date(2026, 11, 1), snapshot, STAMP)
    return invoice


SELLER = Seller("Northwind Voice Ltd", "1 Exchange Sq", "GB123456789", "GB")


@pytest.mark.parametrize("tax_number", ["", "123456789", "CHE-123.456.789"])
def test_reverse_charge_needs_the_buyers_vat_number(tax_number):
    with pytest.raises(EInvoiceIncomplete) as refused:
        invoice_einvoice(
            builder_invoice(tax_number=tax_number), SELLER, PostalAddress(), "reverse_charge"
        )

    assert refused.value.field == "customer.tax_number"
    assert "BR-AE-02" in str(refused.value)


def test_outside_scope_needs_a_registration_number_not_a_vat_number():
    with pytest.raises(EInvoiceIncomplete) as refused:
        invoice_einvoice(builder_invoice(), SELLER, PostalAddress(), "outside_scope")

    assert refused.value.field == "settings.registration_number"


def test_a_currency_with_three_decimals_is_no_e_invoice():
    with pytest.raises(EInvoiceNotPossible, match="BHD has 3"):
        invoice_einvoice(builder_invoice(currency="BHD"), SELLER, PostalAddress(), "standard")


def test_void_and_draft_invoices_are_no_e_invoices(tollbook, ledger, books, tmp_path):
    number = fresh_invoice(ledger)
    ledger.void_invoice(number, "test", "sent by mistake")

    result = tollbook("invoice", "pdf", number, "--factur-x", "-o", str(tmp_path))

    assert result.code == 1
    assert "it is void" in result.err and "[einvoice_not_possible]" in result.err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a PDF"),
        (b"<html>not a pdf</html>", "not a PDF"),
        (b"%PDF-1.7\n garbage", None),
    ],
)
def test_verify_pdf_refuses_what_is_not_a_pdf(tollbook, ledger, tmp_path, content, words):
    path = tmp_path / "file.pdf"
    path.write_bytes(content)

    result = tollbook("invoice", "verify-pdf", str(path), "--json")

    if words:
        assert result.code == 2 and words in result.err and "[invalid_input]" in result.err
    else:  # looks like a PDF, is not one: read, found wanting
        assert result.code == 1
        assert result.json()["verdict"] == "failed"


def test_verify_pdf_refuses_a_file_over_the_limit_and_a_missing_one(tollbook, ledger, tmp_path):
    from adapters.einvoice.verify import MAX_FILE_BYTES

    big = tmp_path / "big.pdf"
    with big.open("wb") as handle:
        handle.write(b"%PDF-1.7\n")
        handle.truncate(MAX_FILE_BYTES + 1)

    too_big = tollbook("invoice", "verify-pdf", str(big))
    missing = tollbook("invoice", "verify-pdf", str(tmp_path / "nope.pdf"))

    assert too_big.code == 2 and "at most" in too_big.err
    assert missing.code == 2 and "does not exist" in missing.err


def test_signing_configuration_errors_are_config_errors(
    tollbook, ledger, books, tmp_path, monkeypatch
):
    out = str(tmp_path)
    no_key = tollbook("invoice", "pdf", books.numbers[0], "--sign", "-o", out)
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(tmp_path / "missing.p12"))
    missing = tollbook("invoice", "pdf", books.numbers[0], "-o", out)
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"not pkcs12")
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(junk))
    unreadable = tollbook("invoice", "pdf", books.numbers[0], "-o", out)
    monkeypatch.setenv("TOLLBOOK_SIGNING_KEY", str(junk))
    both = tollbook("invoice", "pdf", books.numbers[0], "-o", out)

    assert no_key.code == 5 and "--sign needs a signing key" in no_key.err
    assert missing.code == 5 and "TOLLBOOK_SIGNING_PKCS12" in missing.err
    assert unreadable.code == 5 and "cannot load the signing key" in unreadable.err
    assert both.code == 5 and "not both" in both.err
    assert list(tmp_path.glob("*.pdf")) == []


def test_a_reverse_charge_customer_without_a_vat_number(tollbook, ledger, books, tmp_path):
    ledger.register_customer(
        "test",
        account_number="RC02",
        name="Paris Télécom SAS",
        address=PostalAddress(lines=("1 rue de Rivoli",), city="Paris", country="FR"),
        currency="EUR",
        tax_treatment="reverse_charge",
        tax_rate=D("0"),
    )
    number = fresh_invoice(ledger, "RC02")

    result = tollbook("invoice", "pdf", number, "--factur-x", "-o", str(tmp_path))

    assert result.code == 2
    assert "BR-AE-02" in result.err and "customer RC02 has none" in result.err


def test_factur_x_and_signing_are_one_document_at_a_time(tollbook, ledger, tmp_path):
    result = tollbook(
        "invoice", "pdf", "--all", "--period", "2026-10", "-o", str(tmp_path), "--factur-x"
    )

    assert result.code == 2 and "--factur-x" in result.err


def test_verify_pdf_of_a_pdf_that_names_no_document(tollbook, ledger, tmp_path):
    import io

    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "blank.pdf"
    path.write_bytes(buffer.getvalue())

    result = tollbook("invoice", "verify-pdf", str(path), "--json")

    assert result.code == 1
    assert result.json()["ledger"]["status"] == "unknown"
    assert result.json()["signature"]["status"] == "unsigned"


def test_a_broken_signing_key_stops_the_service_before_it_listens(tollbook, tmp_path, monkeypatch):
    """The API and portal sign every download with the configured key: a key that cannot be
    loaded stops ``serve`` at start (exit 5), not the first download."""
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"not pkcs12")
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(junk))

    result = tollbook("serve", "--port", "1")

    assert result.code == 5
    assert "cannot load the signing key" in result.err
