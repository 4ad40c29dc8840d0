"""Issue #19's documents through the command line: ``invoice due-date``, the credited column,
shared price decimals, seller details in ``settings`` and credit notes naming their invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest


def issue_acme(ledger) -> str:
    """ACME's invoice dated 31 Oct 2026, due 14 Nov, of prices 120, 0.0123 and 0.012345."""
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Calls Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    invoice_id = ledger.create_invoice("ACME", "t", invoice_date=date(2026, 10, 31))
    for price in ("120", "0.0123", "0.012345"):
        ledger.add_line(invoice_id, "t", description="Calls", quantity=D(100), unit_price=D(price))
    return str(ledger.issue_invoice(invoice_id, "t"))


@pytest.fixture
def acme(ledger):
    return issue_acme(ledger)


def test_an_issued_invoice_gets_a_new_due_date_and_its_history_says_why(ledger, tollbook, acme):
    moved = tollbook("invoice", "due-date", acme, "2026-12-31", "--reason", "payment plan")
    assert moved.code == 0, moved.err
    assert "now due on 2026-12-31" in moved.out
    assert ledger.invoice(acme).due_date == date(2026, 12, 31)

    history = tollbook("invoice", "history", acme, "--json").json()
    assert history[-1]["type"] == "Invoice.DueDateChanged"
    assert history[-1]["reason"] == "payment plan" and history[-1]["actor"] == "finance:test"
    listed = tollbook("invoice", "list", "--json").json()
    assert listed[0]["due_date"] == "2026-12-31"


def test_a_void_invoice_and_a_draft_refuse_a_new_due_date(ledger, tollbook, acme):
    ledger.void_invoice(acme, "t", "duplicate")
    void = tollbook("invoice", "due-date", acme, "2026-12-31", "--reason", "x")
    assert void.code == 1 and "is void: it has no due date to change" in void.err
    draft = ledger.create_invoice("ACME", "t")
    refused = tollbook("invoice", "due-date", str(draft), "2026-12-31", "--reason", "x")
    assert refused.code == 1 and "is a draft" in refused.err
    issued_dates = tollbook("invoice", "dates", acme, "--due", "2026-12-31")
    assert issued_dates.code == 1 and "is void: nothing on it changes" in issued_dates.err


def test_the_list_shows_credited_and_the_show_table_pads_prices(ledger, tollbook, acme):
    ledger.issue_credit_note(acme, "t", "goodwill", amount=D("10"))
    listed = tollbook("invoice", "list").out
    assert "credited" in listed and "partly_paid" not in listed
    row = next(line for line in listed.splitlines() if acme in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    # net 12,000.00 + 1.23 + 1.23 (1.2345), tax per line 2,400.00 + 0.25 + 0.25: 14,402.96;
    # total - credited - paid = due on the line itself
    assert cells[4:] == ["partly_credited", "GBP", "14402.96", "12.00", "0.00", "14390.96"]
    shown = tollbook("invoice", "show", acme).out
    for price in ("120.000000", "0.012300", "0.012345"):
        assert price in shown, shown


def test_seller_details_are_set_normalised_and_refused_when_malformed(ledger, tollbook):
    ok = tollbook(
        "settings",
        "set",
        "registration_number=01234567",
        "contact_email=billing@northwind.example",
        "sort_code=601613",
        "bank_account_number=31926819",
        "iban=gb29 nwbk 6016 1331 9268 19",
        "--json",
    )
    assert ok.code == 0, ok.err
    saved = ok.json()
    assert (saved["sort_code"], saved["iban"]) == ("60-16-13", "GB29NWBK60161331926819")


def test_a_credit_note_names_its_invoice_by_number_and_date(ledger, tollbook, acme):
    note = tollbook("credit-note", "new", acme, "--reason", "outage", "--amount", "5", "--json")
    assert note.code == 0, note.err
    assert (note.json()["invoice_number"], note.json()["invoice_date"]) == (acme, "2026-10-31")
