"""EN 16931 e-invoices of a whole billing cycle: every document's CII XML passes the official
schema and the EN 16931 business rules with zero failed assertions, says what the ledger holds,
and the Factur-X PDF around it is byte-for-byte reproducible."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pypdf
import pytest
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from adapters.config_error import ConfigError
from adapters.einvoice.cii import cii_xml
from adapters.einvoice.model import Seller, invoice_einvoice
from adapters.einvoice.pdfa3 import embedded_xml
from adapters.einvoice.signing import SigningConfig, sign
from adapters.einvoice.sources import (
    credit_note_einvoice_of,
    credit_note_facturx,
    invoice_einvoice_of,
    invoice_facturx,
)
from adapters.pdf.config import PdfConfig
from domain.changes import SettingsChanges
from tests.einvoice_support import assert_en16931, certificate, cycle, failed_rules

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def texts(xml: bytes, path: str) -> list[str]:
    return [str(node.text) for node in etree.fromstring(xml).iterfind(path, NS)]


def one(xml: bytes, path: str) -> str:
    found = texts(xml, path)
    assert len(found) == 1, (path, found)
    return found[0]


SETTLEMENT = ".//ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


@pytest.fixture
def books(memory_ledger):
    return cycle(memory_ledger)


def invoice_xml(ledger, ref, treatment=None):
    invoice = ledger.invoice(ref)
    if treatment is None:
        return cii_xml(invoice_einvoice_of(ledger, invoice, None))
    seller = Seller.of(invoice.billing, ledger.settings())
    buyer = ledger.customer(invoice.customer_id).profile_on(ledger.today()).postal_address
    return cii_xml(invoice_einvoice(invoice, seller, buyer, treatment))


def test_every_document_of_the_cycle_passes_schema_and_business_rules(memory_ledger, books):
    note = memory_ledger.credit_note(books.credit_note)
    documents = [
        *(invoice_xml(memory_ledger, ref) for ref in books.numbers),
        cii_xml(credit_note_einvoice_of(memory_ledger, note)),
        invoice_xml(memory_ledger, books.reverse, "exempt"),
        invoice_xml(memory_ledger, books.reverse, "zero_rated"),
    ]
    for xml in documents:
        assert_en16931(xml)


def test_two_rates_unicode_names_and_what_is_still_due(memory_ledger, books):
    invoice = memory_ledger.invoice(books.two_rates)
    xml = invoice_xml(memory_ledger, books.two_rates)

    assert one(xml, ".//rsm:ExchangedDocument/ram:ID") == books.numbers[0]
    assert one(xml, ".//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert one(xml, ".//ram:BuyerTradeParty/ram:Name") == "ООО «Телеком Сибирь»"
    assert one(xml, ".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == (
        "RU5406123456"
    )
    assert one(xml, ".//ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID") == "GB"
    lines = ".//ram:IncludedSupplyChainTradeLineItem"
    assert texts(xml, f"{lines}/ram:SpecifiedTradeProduct/ram:Name")[1] == "Звонки по России"
    assert texts(xml, f"{lines}//ram:BilledQuantity") == ["2", "5321.5"]
    assert texts(xml, f"{lines}//ram:NetPriceProductTradePrice/ram:ChargeAmount") == [
        "120",
        "0.0123",
    ]
    assert texts(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:RateApplicablePercent") == [
        "5",
        "20",
    ]
    totals = invoice.totals
    assert texts(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CalculatedAmount") == [
        str(totals.tax_by_rate["5"][1]),
        str(totals.tax_by_rate["20"][1]),
    ]
    assert D(one(xml, f"{SUMMATION}/ram:GrandTotalAmount")) == totals.total
    # paid 100.00 and credited: what is still due is what the PDF says is due
    assert D(one(xml, f"{SUMMATION}/ram:DuePayableAmount")) == invoice.outstanding
    assert D(one(xml, f"{SUMMATION}/ram:TotalPrepaidAmount")) == totals.total - invoice.outstanding
    assert invoice.outstanding < totals.total - D("100.00")


def test_zero_rated_line_beside_taxed_ones_in_a_currency_without_decimals(memory_ledger, books):
    xml = invoice_xml(memory_ledger, books.cjk)

    assert one(xml, ".//ram:BuyerTradeParty/ram:Name") == "東京テレコム株式会社"
    assert one(xml, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "JPY"
    assert texts(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CategoryCode") == ["Z", "S"]
    assert texts(xml, f"{SUMMATION}/ram:GrandTotalAmount") == ["8702"]  # 3085 + 617 + 5000


def test_reverse_charge_states_why_and_the_buyers_vat_number(memory_ledger, books):
    """The customer's treatment, recorded with the invoice at issue, picks the category."""
    xml = invoice_xml(memory_ledger, books.reverse)

    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert one(xml, f"{tax}/ram:CategoryCode") == "AE"
    assert one(xml, f"{tax}/ram:ExemptionReason") == "Reverse charge"
    assert one(xml, f"{tax}/ram:ExemptionReasonCode") == "VATEX-EU-AE"
    assert one(xml, f"{tax}/ram:CalculatedAmount") == "0.00"
    # the customer's "DE 123 456 789" as a VAT identifier: no spaces, its prefix kept
    assert one(xml, ".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ("DE123456789")


def test_outside_scope_names_the_seller_by_its_registration_number_not_a_vat_number(
    memory_ledger, books
):
    """BR-O-02: no seller or buyer VAT identifier on a document outside the scope of VAT;
    BR-CO-26: the seller is then identified by its legal registration number (BT-30)."""
    xml = invoice_xml(memory_ledger, books.outside)

    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert one(xml, f"{tax}/ram:CategoryCode") == "O"
    assert one(xml, f"{tax}/ram:ExemptionReasonCode") == "VATEX-EU-O"
    assert texts(xml, f"{tax}/ram:RateApplicablePercent") == []  # BR-O-09: no rate
    seller = ".//ram:SellerTradeParty"
    assert one(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID") == "01234567"
    assert texts(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID") == []
    assert texts(xml, ".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == []
    assert one(xml, f"{SUMMATION}/ram:TaxTotalAmount") == "0.00"


def test_credit_note_is_381_and_names_the_invoice_it_credits(memory_ledger, books):
    made = credit_note_facturx(memory_ledger, books.credit_note, PdfConfig())
    invoice = memory_ledger.invoice(books.two_rates)
    note = memory_ledger.credit_note(books.credit_note)

    xml = made.xml
    assert one(xml, ".//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert one(xml, ".//rsm:ExchangedDocument/ram:ID") == note.number
    referenced = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert one(xml, f"{referenced}/ram:IssuerAssignedID") == invoice.number
    assert one(xml, f"{referenced}/ram:FormattedIssueDateTime/*") == (
        invoice.invoice_date.strftime("%Y%m%d")
    )
    assert D(one(xml, f"{SUMMATION}/ram:GrandTotalAmount")) == note.totals.total


def test_the_checker_fails_a_document_that_breaks_a_rule(memory_ledger, books):
    """The business-rule check is real: a grand total that is not net + tax is caught."""
    xml = invoice_xml(memory_ledger, books.two_rates)
    broken = xml.replace(b"<ram:GrandTotalAmount>", b"<ram:GrandTotalAmount>1", 1)

    assert any(rule.startswith("BR-CO-15") for rule in failed_rules(broken))


def test_factur_x_pdf_is_reproducible_and_carries_the_xml(memory_ledger, books):
    config = PdfConfig()
    first = invoice_facturx(memory_ledger, books.numbers[0], config)
    again = invoice_facturx(memory_ledger, books.numbers[0], config)

    assert first.pdf == again.pdf
    assert embedded_xml(first.pdf) == first.xml
    reader = pypdf.PdfReader(io.BytesIO(first.pdf))
    root = reader.trailer["/Root"]
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert root["/AF"][0].get_object()["/AFRelationship"] == "/Data"
    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    # the dates the library stamps are the invoice's, not the clock's
    issued = memory_ledger.invoice(books.numbers[0]).issued_on
    assert f"<xmp:CreateDate>{issued.isoformat()}T00:00:00+00:00".encode() in xmp
    assert reader.metadata["/ModDate"] == f"D:{issued:%Y%m%d}000000+00'00'"


def test_signing_is_an_appended_update_reproducible_at_a_given_moment(memory_ledger, books):
    key, cert = certificate("Northwind Voice Ltd")
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([]),
    )
    pdf = invoice_facturx(memory_ledger, books.numbers[2], PdfConfig()).pdf
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

    signed = sign(pdf, signer, at)

    assert signed.startswith(pdf)  # the unsigned bytes stay as they were
    assert sign(pdf, signer, at) == signed  # same key, same moment: same bytes
    assert sign(pdf, signer, at + timedelta(seconds=1)) != signed
    assert embedded_xml(signed) == embedded_xml(pdf)


def test_a_pem_key_and_certificate_sign_as_a_pkcs12_file_does(tmp_path):
    key, cert = certificate("Northwind Voice Ltd")
    key_file, cert_file = tmp_path / "seller.key", tmp_path / "seller.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pem-pass"),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    env = {"TOLLBOOK_SIGNING_KEY": str(key_file), "TOLLBOOK_SIGNING_CERT": str(cert_file)}

    config = SigningConfig.from_env({**env, "TOLLBOOK_SIGNING_PASSPHRASE": "pem-pass"})
    wrong = SigningConfig.from_env({**env, "TOLLBOOK_SIGNING_PASSPHRASE": "nope"})

    assert config is not None and wrong is not None
    assert config.certificate() == cert.public_bytes(serialization.Encoding.DER)
    with pytest.raises(ConfigError, match="cannot load the signing key"):
        wrong.signer()
    assert SigningConfig.from_env({}) is None


def test_per_invoice_rate_rounding_gives_the_rates_tax_exactly(memory_ledger, books):
    memory_ledger.change_settings(
        SettingsChanges.model_validate({"tax_rounding": "per_invoice_rate"}), "test"
    )
    invoice_id = memory_ledger.create_invoice("SIB01", "test")
    for n in range(7):  # seven lines whose line taxes, rounded one by one, would sum to more
        memory_ledger.add_line(
            invoice_id,
            "test",
            description=f"Calls {n}",
            quantity=D("1"),
            unit_price=D("0.125"),
            tax_rate=D("20"),
        )
    number = memory_ledger.issue_invoice(invoice_id, "test")

    xml = invoice_xml(memory_ledger, number)

    assert_en16931(xml)
    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert (one(xml, f"{tax}/ram:BasisAmount"), one(xml, f"{tax}/ram:CalculatedAmount")) == (
        "0.91",
        "0.18",
    )


def test_a_discounted_invoice_passes_the_business_rules_with_its_discount_as_a_negative_quantity(
    memory_ledger, books
):
    draft = memory_ledger.create_invoice("SIB01", "test")
    memory_ledger.add_line(
        draft, "test", description="SIP trunk", quantity=D(2), unit_price=D("120.00")
    )
    memory_ledger.add_line(
        draft, "test", description="Calls", quantity=D(1), unit_price=D("80.00"), tax_rate=D(5)
    )
    memory_ledger.add_discount(draft, "test", percent=D("12.5"), line_ref="1")
    memory_ledger.add_discount(draft, "test", amount=D("10.00"))
    number = memory_ledger.issue_invoice(draft, "test")
    xml = invoice_xml(memory_ledger, number)

    assert_en16931(xml)  # BR-27 (no negative price), BR-CO-10 (line sums), BR-CO-17 (tax)
    lines = ".//ram:IncludedSupplyChainTradeLineItem"
    assert texts(xml, f"{lines}//ram:BilledQuantity") == ["2", "1", "-1", "-1", "-1"]
    prices = texts(xml, f"{lines}//ram:NetPriceProductTradePrice/ram:ChargeAmount")
    assert len(prices) == 5 and not any(price.startswith("-") for price in prices)
