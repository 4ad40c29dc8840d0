"""A document longer than a page opens with a summary page; the unit prices of a table share
their decimals; the seller's details, tax point and supply period are printed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import uuid5

import pytest

from adapters.pdf.document import credit_note_document, invoice_document
from adapters.pdf.render import render
from domain.aggregate import Stamp
from domain.credit_note import credit_invoice
from domain.invoice_line import InvoiceLine
from domain.money import price_column, price_places
from domain.seller_details import SellerDetails
from tests.pdf_support import NS, flowing, issued_invoice, page_texts, usage_line
from tests.unit.test_pdf_layout import assert_sound


def test_a_long_invoice_opens_with_a_summary_and_the_lines_follow_from_page_two():
    invoice = issued_invoice([usage_line(n) for n in range(45)])
    rendered = render(invoice_document(invoice))
    pages, texts = rendered.layout.pages, [flowing(t) for t in page_texts(rendered.pdf)]

    assert len(pages) == 3
    assert {"summary", "summary-totals", "summary-notes"} <= set(pages[0].roles())
    assert "table-header" not in pages[0].roles() and "rows" not in pages[0].roles()
    totals = invoice.totals
    first = texts[0]
    for expected in (
        "Due date 1 Dec 2026",
        f"Amount due: {totals.total:,.2f} EUR by 1 Dec 2026.",
        "45 lines in detail from page 2.",
        f"Net {totals.net:,.2f}",
        f"Total (EUR) {totals.total:,.2f}",
        f"Amount due (EUR) {totals.total:,.2f}",
        "Payment instructions Pay by bank transfer to 20-00-00 12345678",
        "Page 1 of 3",
    ):
        assert expected in first, expected
    # every figure of the totals (tax per rate as the ledger gives it) is on the summary
    for figure in invoice_document(invoice).figures:
        assert f"{figure.label} {figure.amount}" in first, figure
    assert any(f.label.startswith("Tax") for f in invoice_document(invoice).figures)
    # the summary's figures are the closing totals' own
    summary = [t.text for t in pages[0].block("summary-totals").texts]
    assert summary == [t.text for t in pages[-1].block("totals").texts]
    assert "Calls to destination 00000" in texts[1] and "(continued)" in texts[1]
    assert all("rows" in page.roles() for page in pages[1:])
    assert_sound(rendered.layout)
    assert render(invoice_document(invoice)).pdf == rendered.pdf  # deterministic


def test_a_one_page_invoice_has_no_summary_page():
    rendered = render(invoice_document(issued_invoice([usage_line(n) for n in range(5)])))
    assert rendered.page_count == 1
    assert "summary" not in rendered.layout.pages[0].roles()


def test_notes_too_long_for_a_summary_keep_the_plain_layout():
    # long payment instructions and a long memo: more than page 1 has room for below its header
    document = invoice_document(issued_invoice([usage_line(n) for n in range(45)]))
    notes = (("Payment instructions", "Pay us. " * 190), ("Note", "Thanks. " * 130))
    rendered = render(replace(document, notes=notes))
    assert "summary" not in rendered.layout.pages[0].roles()
    assert "rows" in rendered.layout.pages[0].roles()
    assert_sound(rendered.layout)


@pytest.mark.parametrize(
    ("prices", "currency", "printed"),
    [
        (
            ["120", "0.0123", "0.012345", "0.013"],
            "GBP",
            ["120.000000", "0.012300", "0.012345", "0.013000"],
        ),
        (["120", "45.5"], "GBP", ["120.00", "45.50"]),
        (["1200", "0.5"], "JPY", ["1,200.0", "0.5"]),
        (["12.5"], "BHD", ["12.500"]),
        (["0.00000001", "1"], "GBP", ["0.00000001", "1.00000000"]),
    ],
)
def test_a_column_of_unit_prices_shares_the_decimals_of_its_most_precise_price(
    prices, currency, printed
):
    values = [D(p) for p in prices]
    assert price_column(values, currency) == printed
    assert price_places([], currency) in (0, 2, 3)


def test_the_pdf_table_pads_unit_prices_to_the_column(tmp_path):
    lines = [
        InvoiceLine(
            line_id=uuid5(NS, f"p{n}"),
            description=f"Item {n}",
            quantity=D(1),
            unit_price=D(price),
            tax_rate=D(20),
        )
        for n, price in enumerate(("120.00", "0.0123", "0.012345", "0.013"))
    ]
    text = flowing(page_texts(render(invoice_document(issued_invoice(lines))).pdf)[0])
    for n, price in enumerate(("120.000000", "0.012300", "0.012345", "0.013000")):
        assert f"Item {n} 1 {price} 20%" in text


def test_seller_details_tax_point_and_supply_period_are_printed():
    invoice = issued_invoice([usage_line(1)])
    details = SellerDetails(
        registration_number="01234567",
        contact_email="billing@northwind.example",
        contact_phone="+44 20 7946 0000",
        sort_code="60-16-13",
        bank_account_number="31926819",
    )
    invoice.billing = invoice.billing.model_copy(update={"seller_details": details})
    text = flowing(page_texts(render(invoice_document(invoice)).pdf)[0])
    for expected in (
        "VAT/Tax reg. no. GB123456789 Company reg. no. 01234567",
        "billing@northwind.example Tel. +44 20 7946 0000",
        "Tax point 1 Nov 2026",
        "Supply period 1–31 Oct 2026",
        "Bank details Sort code 60-16-13 · Account 31926819",
    ):
        assert expected in text, expected
    assert "IBAN" not in text
    assert date(2026, 11, 1) == invoice.invoice_date


def test_a_long_credit_note_opens_with_its_total_credit_and_the_invoice_it_credits():
    invoice = issued_invoice([usage_line(n) for n in range(45)])
    stamp = Stamp("test", datetime(2026, 11, 2, tzinfo=UTC), "outage")
    note = credit_invoice(
        uuid5(NS, "note"), invoice, list(invoice.lines.values()), "CN-7", date(2026, 11, 2), stamp
    )
    rendered = render(credit_note_document(note, reason="outage"))
    first = flowing(page_texts(rendered.pdf)[0])

    assert "summary" in rendered.layout.pages[0].roles() and rendered.page_count > 1
    total = f"{note.totals.total:,.2f}"
    assert f"Total credit: {total} EUR, against invoice INV-2026-000042 of 1 Nov 2026." in first
    assert f"Total credit (EUR) {total}" in first
