"""Pricing through the command line: discounts, tiered prices, commitments and carried-forward
charges, down to the PDF's text."""

from __future__ import annotations

from pathlib import Path

from tests.integration.usage_helpers import cdr, write_cdrs
from tests.pdf_support import flowing, page_texts


def test_a_discount_on_a_line_and_on_the_invoice_shows_on_the_document_and_the_pdf(
    tollbook, tmp_path: Path
) -> None:
    tollbook("customer", "add", "ACME", "--name", "Acme Calls Ltd", "--tax-rate", "20")
    invoice = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    tollbook("invoice", "line", "add", invoice, "--description", "SIP Trunk", "--unit-price", "120")
    tollbook(
        "invoice", "line", "add", invoice, "--description", "Numbers", "--unit-price", "30",
        "--tax-rate", "0",
    )  # fmt: skip
    on_line = tollbook("invoice", "discount", "add", invoice, "--percent", "25", "--line", "1")
    assert on_line.code == 0 and on_line.out.startswith("added discount ")
    whole = tollbook("invoice", "discount", "add", invoice, "--amount", "12.00", "--json")
    assert whole.code == 0, whole.err
    doc = whole.json()
    discounts = [
        (line["description"], line["tax_rate"], line["net"])
        for line in doc["lines"]
        if line["kind"] == "discount"
    ]
    # line: 25% of 120 at 20%; invoice: 12.00 over 90 (20%) and 30 (0%): 9.00 and 3.00
    assert discounts == [
        ("Discount 25% on SIP Trunk", "20", "-30.00"),
        ("Discount 12.00 GBP (tax 20%)", "20", "-9.00"),
        ("Discount 12.00 GBP (tax 0%)", "0", "-3.00"),
    ]
    assert (doc["net"], doc["tax"], doc["total"]) == ("108.00", "16.20", "124.20")
    number = tollbook("invoice", "issue", invoice).out.split()[-1]
    target = tmp_path / "invoice.pdf"
    assert tollbook("invoice", "pdf", number, "-o", str(target)).code == 0
    text = flowing(" ".join(page_texts(target.read_bytes())))
    assert "Discount 25% on SIP Trunk" in text and "-30.00" in text
    assert "124.20" in text


def test_tiers_and_a_commitment_bill_as_set_and_the_pdf_shows_each_tier(
    tollbook, tmp_path: Path
) -> None:
    tollbook("customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20")
    changed = tollbook(
        "customer", "update", "ACME", "--effective-from", "2026-10-01",
        "--tiers", "UK Mobile=graduated:0-100:0.0100,100-:0.0050", "--minimum-spend", "5.00",
        "--json",
    )  # fmt: skip
    assert changed.code == 0, changed.err
    assert changed.json()["usage_prices"][0]["mode"] == "graduated"
    rows = [cdr("c1", duration=9000, billed=9000, charge="1.80")]  # 150 min
    cdrs = write_cdrs(tmp_path / "oct.csv", rows)
    assert tollbook("usage", "import", str(cdrs)).code == 0
    billed = tollbook("bill", "--period", "2026-10", "--issue", "--json")
    assert billed.code == 0, billed.err
    [result] = billed.json()["invoices"]
    number = result["number"]
    doc = tollbook("invoice", "show", number, "--json").json()
    assert [(line["description"], line["quantity"], line["net"]) for line in doc["lines"]] == [
        ("Calls to UK Mobile (1 call), 0–100 min", "100.00", "1.00"),
        ("Calls to UK Mobile, 100+ min", "50.00", "0.25"),
        ("Minimum commitment top-up (usage 1.25 of 5.00 GBP)", "1", "3.75"),
    ]
    target = tmp_path / "tiers.pdf"
    assert tollbook("invoice", "pdf", number, "-o", str(target)).code == 0
    text = flowing(" ".join(page_texts(target.read_bytes())))
    assert "0–100 min" in text and "100+ min" in text and "50 min" in text
    assert "Minimum commitment top-up" in text


def test_a_small_period_is_carried_forward_and_said_so(tollbook, tmp_path: Path) -> None:
    tollbook("customer", "add", "ACME", "--name", "Acme", "--minimum-invoice", "5.00")
    cdrs = write_cdrs(tmp_path / "oct.csv", [cdr("c1", charge="0.08")])
    tollbook("usage", "import", str(cdrs))
    dry = tollbook("bill", "--period", "2026-10", "--dry-run")
    assert "1 carried forward (below the minimum invoice amount)" in dry.out
    billed = tollbook("bill", "--period", "2026-10")
    assert billed.code == 0 and "carried forward" in billed.out
    assert tollbook("invoice", "list", "--json").json() == []
