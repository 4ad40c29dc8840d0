"""Issue #19's documents in the portal: a new due date, the void form only where voiding is
allowed, credit notes linked and downloadable, the credited column, shared price decimals, the
seller details page and the chart by invoice date."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.clock import SteppingClock
from domain.invoice import Invoice
from tests.pdf_support import flowing, page_texts
from tests.portal.support import (
    Browser,
    acme,
    action_error,
    completed_payment,
    error_of,
    issued,
    signed_in,
    value_of,
)


def test_an_issued_invoice_takes_a_new_due_date_with_a_reason(finance: Browser, ledger: Any):
    acme(ledger)
    invoice_id = issued(ledger, "100.00")
    url = f"/portal/invoices/{invoice_id}"
    page = finance.get(url).text
    assert f'action="/portal/invoices/{invoice_id}/due-date"' in page
    assert value_of(page, "due-due_date") == "2026-10-31"

    no_reason = finance.post(url + "/due-date", {"due_date": "2026-12-15"})
    assert no_reason.status_code == 422
    assert "a reason is required" in error_of(no_reason.text, "due-reason")
    early = finance.post(url + "/due-date", {"due_date": "2026-09-01", "reason": "asked"})
    assert "before invoice date" in error_of(early.text, "due-due_date")
    assert value_of(early.text, "due-reason") == "asked"
    assert ledger.invoice(invoice_id).due_date == date(2026, 10, 31)

    done = finance.follow(
        finance.post(url + "/due-date", {"due_date": "2026-12-15", "reason": "disputed line"})
    ).text
    assert "is now due on 2026-12-15" in done
    last = ledger.events_of(invoice_id)[-1]
    assert isinstance(last, Invoice.DueDateChanged)
    assert (last.actor, last.reason, last.after) == ("fiona", "disputed line", date(2026, 12, 15))
    history = finance.get(url + "/history").text
    assert "due date changed: 2026-10-31 -&gt; 2026-12-15" in history
    assert "disputed line" in history

    # the forms show only where the ledger would accept them
    open_one = issued(ledger, "10.00")
    credited = issued(ledger, "10.00")
    ledger.issue_credit_note(credited, "setup", "goodwill", amount=Decimal("1.00"))
    paid = issued(ledger, "10.00")
    ledger.allocate(completed_payment(ledger, "12.00"), [(paid, Decimal("12.00"))], "setup")
    draft = ledger.create_invoice("ACME", "setup")

    def forms(invoice_id: Any) -> tuple[bool, bool]:
        page = finance.get(f"/portal/invoices/{invoice_id}").text
        return "Void invoice</button>" in page, "Change due date</button>" in page

    assert forms(open_one) == (True, True)
    assert forms(credited) == (False, True)
    assert forms(paid) == (False, False)
    assert forms(draft) == (False, False)
    # a void posted anyway is refused next to the form, as before
    refused = finance.post(f"/portal/invoices/{credited}/void", {"reason": "x"})
    assert "credit notes applied" in action_error(refused.text)


def test_credit_notes_are_linked_and_download_as_the_cli_renders_them(
    finance: Browser, ledger: Any, clock: SteppingClock
):
    acme(ledger)
    invoice_id = issued(ledger, "100.00")
    number = ledger.issue_credit_note(invoice_id, "setup", "outage", amount=Decimal("10.00"))
    note = ledger.credit_note(number)
    page = finance.get(f"/portal/invoices/{invoice_id}").text
    link = f'href="/portal/credit-notes/{note.id}.pdf"'
    assert link in page and f">{number}</a>" in page

    pdf = finance.get(f"/portal/credit-notes/{note.id}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{number}.pdf"' in pdf.headers["content-disposition"]
    text = flowing(page_texts(pdf.content)[0])
    invoice = ledger.invoice(invoice_id)
    assert f"Credits invoice {invoice.number} of 1 Oct 2026" in text
    assert finance.get(f"/portal/credit-notes/{number}.pdf").content == pdf.content
    assert finance.get("/portal/credit-notes/CN-1999-000001.pdf").status_code == 404

    # the customer chart counts an invoice in the month of its date, not of its issue
    acme(ledger, "BETA")
    dated = ledger.create_invoice("BETA", "setup", invoice_date=date(2026, 10, 31))
    ledger.add_line(dated, "setup", description="Oct", quantity=Decimal(1), unit_price=Decimal(100))
    clock.advance(days=35)  # issued on 5 November, dated 31 October
    ledger.issue_invoice(dated, "setup")
    page = finance.get("/portal/customers/BETA").text
    bars = dict(re.findall(r'class="bar-invoiced"><title>([^:]+): invoiced ([^<]+)</title>', page))
    assert bars["Oct 26"] == "120.00 GBP" and bars["Nov 26"] == "0 GBP"


def test_the_list_adds_up_and_a_credit_alone_reads_partly_credited(finance: Browser, ledger: Any):
    acme(ledger)
    credited = issued(ledger, "100.00")  # 120.00
    ledger.issue_credit_note(credited, "setup", "goodwill", amount=Decimal("10.00"))  # 12.00
    paid = issued(ledger, "50.00")  # 60.00
    ledger.allocate(completed_payment(ledger, "20.00"), [(paid, Decimal("20.00"))], "setup")
    page = finance.get("/portal/invoices").text

    assert ">Credited</th>" in page
    row = page[page.index(f'href="/portal/invoices/{credited}"') :].split("</tr>")[0]
    assert "Partly credited" in row and "Partly paid" not in row
    cells = re.findall(r'class="num">([\d,.]+)', row)
    assert cells == ["120.00", "12.00", "0.00", "108.00"]  # total - credited - paid = due
    totals = page[page.index('class="totals"') :].split("</tr>")[0]
    assert re.findall(r'class="num">([\d,.]+)', totals) == ["180.00", "12.00", "20.00", "148.00"]
    customer = finance.get("/portal/customers/ACME").text
    on_customer = customer[customer.index(f'href="/portal/invoices/{credited}"') :].split("</tr>")[
        0
    ]
    assert re.findall(r'class="num">([\d,.]+)', on_customer) == [
        "120.00",
        "12.00",
        "0.00",
        "108.00",
    ]
    filtered = finance.get("/portal/invoices", status="partly_credited").text
    assert str(credited) in filtered and str(paid) not in filtered

    # the unit prices of one table share their decimals
    invoice_id = ledger.create_invoice("ACME", "setup")
    for price in ("120", "0.0123", "0.012345"):
        ledger.add_line(
            invoice_id, "setup", description="x", quantity=Decimal(1), unit_price=Decimal(price)
        )
    page = finance.get(f"/portal/invoices/{invoice_id}").text
    lines = page[page.index('class="data lines"') : page.index("</table>")]
    assert re.findall(r'class="num">(\d[\d,]*\.\d+)</td>\s*<td class="num">20', lines) == [
        "120.000000",
        "0.012300",
        "0.012345",
    ]


def test_admins_set_the_seller_details_and_bad_bank_details_sit_at_their_field(
    app: Any, finance: Browser, auditor: Browser, ledger: Any
):
    form = {
        "company_name": "Northwind Voice Ltd",
        "address": "1 Exchange Sq\nLondon",
        "tax_number": "GB123456789",
        "registration_number": "01234567",
        "contact_email": "billing@northwind.example",
        "contact_phone": "+44 20 7946 0000",
        "iban": "GB29 NWBK 6016 1331 9268 19",
        "bic": "nwbkgb2l",
        "sort_code": "60 16 13",
        "bank_account_number": "31926819",
        "payment_instructions": "Reference the invoice",
    }
    assert finance.post("/portal/settings", form).status_code == 403
    assert auditor.get("/portal/settings").status_code == 200
    for admin in signed_in(app, "adam"):
        bad = admin.post("/portal/settings", {**form, "iban": "GB28 NWBK 6016 1331 9268 19"})
        assert bad.status_code == 422
        assert "check digits are wrong" in error_of(bad.text, "iban")
        assert value_of(bad.text, "sort_code") == "60 16 13"
        half = admin.post("/portal/settings", {**form, "bank_account_number": ""})
        assert "sort code and its 8-digit account number" in error_of(
            half.text, "bank_account_number"
        )
        assert ledger.settings().iban == ""
        saved = admin.follow(admin.post("/portal/settings", form)).text
        assert "Seller details saved." in saved
    settings = ledger.settings()
    assert (settings.iban, settings.bic, settings.sort_code) == (
        "GB29NWBK60161331926819",
        "NWBKGB2L",
        "60-16-13",
    )
    assert settings.registration_number == "01234567"
