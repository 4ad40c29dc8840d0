"""PDFs read from the ledger (SQLite and PostgreSQL): figures, snapshots, as-of, credit notes."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal as D

from adapters.pdf.render import render
from adapters.pdf.sources import credit_note_source, invoice_source
from domain.changes import CustomerChanges, SettingsChanges
from domain.credit_note import CreditLine
from tests.pdf_support import flowing, page_texts


def seed(ledger):
    ledger.change_settings(
        SettingsChanges.model_validate(
            {
                "company_name": "Northwind Voice Ltd",
                "address": "1 Exchange Sq\nLondon EC2A 2BR",
                "tax_number": "GB123456789",
                "registration_number": "01234567",
                "contact_email": "billing@northwind.example",
                "contact_phone": "+44 20 7946 0000",
                "iban": "gb29 nwbk 6016 1331 9268 19",
                "bic": "NWBKGB2L",
                "sort_code": "601613",
                "bank_account_number": "31926819",
                "payment_instructions": "Please reference the invoice number",
            }
        ),
        "t",
    )
    ledger.register_customer(
        "t",
        account_number="LDZ",
        name="Łódź Sp. z o.o.",
        billing_address="ul. Piotrkowska 1\n90-001 Łódź",
        tax_number="PL1234567890",
        currency="PLN",
        tax_rate=D("23"),
        tax_description="VAT 23%",
        payment_terms_days=14,
    )
    invoice_id = ledger.create_invoice(
        "LDZ",
        "t",
        invoice_date=date(2026, 11, 1),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        memo="Thank you for your business",
    )
    ledger.add_line(
        invoice_id,
        "t",
        description="SIP trunk 30 channels",
        quantity=D("2"),
        unit_price=D("120.00"),
    )
    ledger.add_line(
        invoice_id,
        "t",
        description="Calls to PL mobiles",
        quantity=D("5321.5"),
        unit_price=D("0.0123"),
        unit="min",
    )
    ledger.add_line(
        invoice_id,
        "t",
        description="Porting fee",
        quantity=D("1"),
        unit_price=D("1250"),
        tax_rate=D("0"),
    )
    return invoice_id


def test_an_issued_invoice_shows_every_name_and_figure(ledger):
    number = ledger.issue_invoice(seed(ledger), "t")
    payment = ledger.record_payment("LDZ", "t", amount=D("100.00"), status="completed")
    ledger.allocate(payment, [(number, D("100.00"))], "t")
    note = ledger.issue_credit_note(
        number,
        "t",
        "Outage",
        lines=[
            CreditLine.model_validate(
                {
                    "description": "Outage credit",
                    "quantity": D("1"),
                    "unit_price": D("20"),
                    "tax_rate": D("23"),
                }
            )
        ],
    )

    rendered = render(invoice_source(ledger, number))
    (page,) = page_texts(rendered.pdf)
    text = flowing(page)

    for expected in [
        "Northwind Voice Ltd",
        "1 Exchange Sq",
        "London EC2A 2BR",
        "VAT/Tax reg. no. GB123456789",
        "Company reg. no. 01234567",
        "billing@northwind.example",
        "Tel. +44 20 7946 0000",
        "Łódź Sp. z o.o.",
        "ul. Piotrkowska 1",
        "90-001 Łódź",
        "Tax no. PL1234567890",
        "Invoice number INV-2026-000001",
        "Invoice date 1 Nov 2026",
        "Due date 15 Nov 2026",
        "Tax point 1 Nov 2026",
        "Supply period 1–31 Oct 2026",
        "Currency PLN",
        "Customer account LDZ",
        # the unit prices share the decimals of the most precise one (0.0123)
        "SIP trunk 30 channels 1–31 Oct 2026 2 120.0000 23% 240.00",
        # 5321.5 x 0.0123 = 65.45445 -> 65.45
        "Calls to PL mobiles 1–31 Oct 2026 5,321.5 min 0.0123 23% 65.45",
        "Porting fee 1–31 Oct 2026 1 1,250.0000 0% 1,250.00",
        "Net 1,555.45",
        # 23% of 240.00 = 55.20, of 65.45 = 15.05 (15.0535), summed per line: 70.25
        "VAT 23%: sum of line taxes on 305.45 70.25",
        "VAT 0%: sum of line taxes on 1,250.00 0.00",
        "Total (PLN) 1,625.70",
        f"Credit note {note} -24.60",  # 20.00 + 23% tax
        "Paid -100.00",
        "Amount due (PLN) 1,501.10",
        "Bank details IBAN GB29 NWBK 6016 1331 9268 19 · BIC NWBKGB2L",
        "Sort code 60-16-13 · Account 31926819",
        "Please reference the invoice number",
        "Thank you for your business",
        "Page 1 of 1",
    ]:
        assert expected in text, expected
    assert "DRAFT" not in text and "VOID" not in text


def test_an_issued_invoice_keeps_its_bytes_when_the_customer_and_seller_change(make_ledger):
    ledger = make_ledger()
    number = ledger.issue_invoice(seed(ledger), "t")
    before = render(invoice_source(ledger, number)).pdf

    ledger.change_customer(
        "LDZ", CustomerChanges.model_validate({"name": "Renamed Sp. z o.o."}), "t"
    )
    ledger.change_settings(SettingsChanges.model_validate({"company_name": "Southwind plc"}), "t")
    after = render(invoice_source(make_ledger(), number)).pdf  # a fresh reader of the store

    assert hashlib.sha256(after).hexdigest() == hashlib.sha256(before).hexdigest()
    assert "Łódź Sp. z o.o." in page_texts(after)[0]


def test_a_draft_shows_the_current_customer_profile_and_a_draft_mark(ledger):
    invoice_id = seed(ledger)
    ledger.change_customer(
        "LDZ", CustomerChanges.model_validate({"name": "Łódź Telekom S.A."}), "t"
    )

    text = page_texts(render(invoice_source(ledger, invoice_id)).pdf)[0]

    assert "Łódź Telekom S.A." in text
    assert "DRAFT" in text and "Draft, not yet numbered" in text
    assert "Amount due (PLN) 1,625.70" in text


def test_the_auditor_view_shows_the_invoice_as_it_stood_at_a_past_moment(ledger, clock):
    invoice_id = seed(ledger)
    before_issue = clock.advance(minutes=1)
    clock.set(datetime(2026, 11, 1, 9, tzinfo=UTC))
    number = ledger.issue_invoice(invoice_id, "t")
    after_issue = clock.advance(minutes=1)
    clock.set(datetime(2026, 11, 5, 9, tzinfo=UTC))
    payment = ledger.record_payment("LDZ", "t", amount=D("1625.70"), status="completed")
    ledger.allocate(payment, [(number, D("1625.70"))], "t")

    then_draft = page_texts(render(invoice_source(ledger, number, at=before_issue)).pdf)[0]
    then_issued = render(invoice_source(ledger, number, at=after_issue)).pdf
    now = page_texts(render(invoice_source(ledger, number)).pdf)[0]

    assert "DRAFT" in then_draft and number not in then_draft
    assert "As it stood at" in then_draft
    assert "Amount due (PLN) 1,625.70" in page_texts(then_issued)[0]
    assert "Paid" not in page_texts(then_issued)[0]
    assert "Paid -1,625.70" in now and "Amount due (PLN) 0.00" in now
    again = render(invoice_source(ledger, number, at=after_issue)).pdf
    assert again == then_issued


def test_a_void_invoice_carries_the_void_mark_and_asks_for_nothing(ledger):
    number = ledger.issue_invoice(seed(ledger), "t")
    ledger.void_invoice(number, "t", "issued to the wrong customer")

    text = flowing(page_texts(render(invoice_source(ledger, number)).pdf)[0])

    assert "VOID" in text and "issued to the wrong customer" in text
    assert "Amount due (PLN) 0.00" in text


def test_a_credit_note_has_its_own_title_and_names_the_invoice_it_credits(ledger):
    number = ledger.issue_invoice(seed(ledger), "t")
    note = ledger.issue_credit_note(
        number,
        "t",
        "Two days of outage",
        lines=[
            CreditLine.model_validate(
                {
                    "description": "Outage credit",
                    "quantity": D("2"),
                    "unit_price": D("10"),
                    "tax_rate": D("23"),
                }
            )
        ],
    )

    rendered = render(credit_note_source(ledger, note))
    text = flowing(page_texts(rendered.pdf)[0])

    assert "CREDIT NOTE" in text and "INVOICE" not in text
    for expected in [
        f"Credit note number {note}",
        f"Credits invoice {number} of 1 Nov 2026",
        "Łódź Sp. z o.o.",
        "Outage credit 2 10.00 23% 20.00",
        "VAT 23%: sum of line taxes on 20.00 4.60",
        "Total credit (PLN) 24.60",
        "Two days of outage",
        "Page 1 of 1",
    ]:
        assert expected in text, expected
    assert render(credit_note_source(ledger, note)).pdf == rendered.pdf
