"""Tax through the command line: a reverse-charge customer, line tax descriptions, the
rounding setting, and what the invoice's JSON and PDF then say."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.pdf_support import flowing, page_texts


def _ok(result):
    assert result.code == 0, result.err
    return result


def test_reverse_charge_customer_wording_reaches_json_and_pdf(tollbook, tmp_path):
    _ok(
        tollbook(
            "customer",
            "add",
            "BETA",
            "--name",
            "Beta GmbH",
            "--currency",
            "EUR",
            "--tax-treatment",
            "reverse_charge",
        )
    )
    shown = _ok(tollbook("customer", "show", "BETA", "--json")).json()
    assert (shown["tax_treatment"], shown["tax_rate"], shown["tax_description"]) == (
        "reverse_charge",
        "0",
        "Reverse charge",
    )
    assert shown["tax_treatment_wording"].startswith("Reverse charge: customer to account")
    invoice_id = _ok(tollbook("invoice", "new", "BETA", "--json")).json()["id"]
    _ok(
        tollbook(
            "invoice",
            "line",
            "add",
            invoice_id,
            "--description",
            "SIP trunk",
            "--unit-price",
            "99.00",
        )
    )
    refused = tollbook(
        "invoice",
        "line",
        "add",
        invoice_id,
        "--description",
        "x",
        "--unit-price",
        "1",
        "--tax-rate",
        "19",
    )
    assert refused.code == 2 and "[tax_rate_not_allowed]" in refused.err
    number = _ok(tollbook("invoice", "issue", invoice_id, "--json")).json()["number"]
    doc = _ok(tollbook("invoice", "show", number, "--json")).json()
    assert doc["billing"]["tax_treatment"] == "reverse_charge"
    assert "Article 196 Council Directive 2006/112/EC" in doc["tax_treatment_wording"]
    target = tmp_path / "beta.pdf"
    _ok(tollbook("invoice", "pdf", number, "-o", str(target)))
    text = flowing(" ".join(page_texts(target.read_bytes())))
    assert "Reverse charge: customer to account for VAT to HMRC" in text
    assert "Reverse charge: sum of line taxes on 99.00 0.00" in text
    note = _ok(
        tollbook("credit-note", "new", number, "--amount", "9", "--reason", "Outage", "--json")
    ).json()["number"]
    note_pdf = tmp_path / "note.pdf"
    _ok(tollbook("credit-note", "pdf", note, "-o", str(note_pdf)))
    note_text = flowing(" ".join(page_texts(note_pdf.read_bytes())))
    assert "VAT treatment Reverse charge: customer to account for VAT to HMRC" in note_text


def test_line_tax_descriptions_and_per_invoice_rate_rounding(tollbook, tmp_path):
    _ok(
        tollbook(
            "customer",
            "add",
            "ACME",
            "--name",
            "Acme Ltd",
            "--currency",
            "GBP",
            "--tax-rate",
            "20",
            "--tax-description",
            "VAT 20%",
        )
    )
    _ok(tollbook("settings", "set", "tax_rounding=per_invoice_rate"))
    invoice_id = _ok(tollbook("invoice", "new", "ACME", "--json")).json()["id"]
    for price in ("100.03", "100.03", "66.94"):
        _ok(
            tollbook(
                "invoice",
                "line",
                "add",
                invoice_id,
                "--description",
                "Calls",
                "--unit-price",
                price,
            )
        )
    _ok(
        tollbook(
            "invoice",
            "line",
            "add",
            invoice_id,
            "--description",
            "Porting",
            "--unit-price",
            "10",
            "--tax-rate",
            "0",
            "--tax-description",
            "Exempt: fee",
        )
    )
    _ok(tollbook("invoice", "line", "edit", invoice_id, "3", "--tax-rate", "5"))
    doc = _ok(tollbook("invoice", "show", invoice_id, "--json")).json()
    assert [ln["tax_description"] for ln in doc["lines"]] == [
        "VAT 20%",
        "VAT 20%",
        "VAT 5%",
        "Exempt: fee",
    ]
    _ok(tollbook("invoice", "line", "edit", invoice_id, "3", "--tax-rate", "20"))
    number = _ok(tollbook("invoice", "issue", invoice_id, "--json")).json()["number"]
    doc = _ok(tollbook("invoice", "show", number, "--json")).json()
    assert doc["tax_rounding"] == "per_invoice_rate"
    assert doc["tax_summary"] == [
        {"rate": "20", "net": "267.00", "tax": "53.40", "basis": "net_times_rate"},
        {"rate": "0", "net": "10.00", "tax": "0.00", "basis": "net_times_rate"},
    ]
    # the lines' taxes add up to the summary's, whatever the mode
    assert sum(Decimal(ln["tax"]) for ln in doc["lines"]) == Decimal("53.40")
    target = tmp_path / "acme.pdf"
    _ok(tollbook("invoice", "pdf", number, "-o", str(target)))
    text = flowing(" ".join(page_texts(target.read_bytes())))
    assert "VAT 20%: 20% × 267.00 53.40" in text
    assert "Exempt: fee: 0% × 10.00 0.00" in text
    assert "sum of line taxes" not in text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # words, not storage
def test_a_customer_rate_given_without_words_is_not_labelled_with_the_sellers_no_tax(
    tollbook, tmp_path
):
    # the seller's default is 0 % "No tax": a customer at 20 % used to print "No tax: ... 20.00"
    _ok(tollbook("customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20"))
    shown = _ok(tollbook("customer", "show", "ACME", "--json")).json()
    assert (shown["tax_rate"], shown["tax_description"]) == ("20", "Tax 20%")
    _ok(tollbook("customer", "update", "ACME", "--tax-rate", "5", "--tax-description", "VAT 5%"))
    _ok(tollbook("customer", "update", "ACME", "--tax-rate", "20"))  # the words follow the rate
    assert _ok(tollbook("customer", "show", "ACME", "--json")).json()["tax_description"] == (
        "VAT 20%"
    )
    invoice_id = _ok(tollbook("invoice", "new", "ACME", "--json")).json()["id"]
    _ok(tollbook("invoice", "line", "add", invoice_id, "--description", "x", "--unit-price", "100"))
    number = _ok(tollbook("invoice", "issue", invoice_id)).out.split()[-1]
    target = tmp_path / "invoice.pdf"
    _ok(tollbook("invoice", "pdf", number, "--output", str(target)))
    text = flowing(" ".join(page_texts(target.read_bytes())))
    assert "VAT 20%" in text and "No tax" not in text
