"""Customer and payment pages: register, settings, packages, balance, aged debt and the chart;
record, complete, cancel, and allocate one payment across several invoices at once."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from adapters.clock import SteppingClock
from adapters.ledger.folds import LogFolds
from tests.portal.support import (
    Browser,
    acme,
    action_error,
    completed_payment,
    error_of,
    issued,
    sip_trunk,
    value_of,
)

CUSTOMER = {
    "account_number": "ACME",
    "name": "Acme Telecom",
    "currency": "gbp",
    "tax_rate": "20",
    "tax_description": "VAT 20%",
    "payment_terms_days": "14",
    "time_zone": "Europe/London",
}


def test_register_a_customer_and_its_errors(finance: Browser, ledger: Any) -> None:
    page = finance.follow(finance.post("/portal/customers", CUSTOMER)).text
    assert "Customer ACME registered." in page
    customer = ledger.customer("ACME")
    assert customer.currency == "GBP" and customer.latest.payment_terms_days == 14
    assert ledger.events_of(customer.id)[0].actor == "fiona"

    cases = [
        ({}, "account_number", "already exists"),
        ({"account_number": "NEW", "currency": "XYZ"}, "currency", "xyz"),
        ({"account_number": "NEW", "time_zone": "Mars/Base"}, "time_zone", "unknown time zone"),
        ({"account_number": "NEW", "tax_rate": "101"}, "tax_rate", "between 0 and 100"),
        ({"account_number": "NEW", "payment_terms_days": "ten"}, "payment_terms_days", "whole"),
        ({"account_number": "NEW", "name": ""}, "name", "the customer name is required"),
    ]
    for change, field, words in cases:
        response = finance.post("/portal/customers", {**CUSTOMER, **change})
        assert response.status_code == 422, change
        assert words in error_of(response.text, field), (change, response.text[-2500:])
        assert value_of(response.text, "tax_description") == "VAT 20%"
    assert [c.registered.account_number for c in LogFolds(ledger).customers()] == ["ACME"]


def test_customer_page_shows_balance_aged_debt_chart_invoices_and_payments(
    finance: Browser, ledger: Any, clock: SteppingClock
) -> None:
    acme(ledger)
    old = issued(ledger, "100.00")  # 120.00, due 2026-10-31
    ledger.allocate(completed_payment(ledger, "50.00"), [(old, Decimal("50.00"))], "setup")
    clock.advance(days=45)  # mid November: the rest of the October invoice is 1-30 days late
    issued(ledger, "10.00")  # 12.00, current
    page = finance.get("/portal/customers/ACME").text
    balance = page[page.index('id="balance-GBP"') :]
    assert re.search(r"Invoiced</dt><dd>132\.00 GBP", balance)
    assert re.search(r'class="outstanding">82\.00 GBP', balance)
    aged = page[page.index('aria-label="Aged debt"') :]
    assert re.search(
        r"<th scope=\"row\">GBP</th><td class=\"num\">12\.00</td>"
        r"<td class=\"num\">70\.00</td>",
        aged,
    )
    assert "Overdue" in page and "Partly paid" not in page.split("Payments</h2>")[0][-10:]
    # the chart: 12 months, October invoiced 120 and paid 50, November invoiced 12
    bars = re.findall(r'class="bar-(invoiced|paid)"><title>([^<]+)</title>', page)
    assert len(bars) == 24
    assert ("invoiced", "Oct 26: invoiced 120.00 GBP") in bars
    assert ("paid", "Oct 26: paid 50.00 GBP") in bars
    assert ("invoiced", "Nov 26: invoiced 12.00 GBP") in bars
    assert "50.00 GBP" in page.split("Payments</h2>")[1]


def test_change_settings_now_and_scheduled(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    page = finance.get("/portal/customers/ACME").text
    assert value_of(page, "s-tax_rate") == "20"
    form = {
        "name": "Acme Telecom plc",
        "tax_rate": "20",
        "tax_description": "VAT 20%",
        "payment_terms_days": "30",
        "time_zone": "UTC",
        "invoice_line_grouping": "destination",
    }
    finance.follow(finance.post("/portal/customers/ACME/settings", form))
    customer = ledger.customer("ACME")
    assert customer.latest.name == "Acme Telecom plc"
    assert customer.latest.invoice_line_grouping == "destination"
    assert {e.actor for e in ledger.events_of(customer.id)[1:]} == {"fiona"}

    later = {**form, "tax_rate": "17.5", "effective_from": "2027-01-01", "reason": "new law"}
    page = finance.follow(finance.post("/portal/customers/ACME/settings", later)).text
    assert "Details saved (from 2027-01-01)." in page and "Scheduled changes" in page
    assert ledger.customer("ACME").profile_on(ledger.today()).tax_rate == 20

    bad = finance.post("/portal/customers/ACME/settings", {**form, "time_zone": "Nowhere"})
    assert bad.status_code == 422
    assert "unknown time zone" in error_of(bad.text, "s-time_zone")
    assert value_of(bad.text, "s-name") == "Acme Telecom plc"


def test_assign_and_end_packages(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    sip_trunk(ledger)
    sip_trunk(ledger, currency="EUR", name="Euro trunk")
    page = finance.get("/portal/customers/ACME").text
    assert ">SIP trunk (" in page and "Euro trunk (" not in page  # only its currency offered
    wrong = finance.post(
        "/portal/customers/ACME/packages", {"package": "Euro trunk", "start_date": "2026-10-01"}
    )
    assert "is priced in eur" in error_of(wrong.text, "assign-package")
    backwards = finance.post(
        "/portal/customers/ACME/packages",
        {"package": "SIP trunk", "start_date": "2026-10-10", "end_date": "2026-10-01"},
    )
    assert "cannot end before it starts" in error_of(backwards.text, "assign-end_date")
    assert value_of(backwards.text, "assign-start_date") == "2026-10-10"
    finance.follow(
        finance.post(
            "/portal/customers/ACME/packages",
            {"package": "SIP trunk", "quantity": "4", "start_date": "2026-10-01"},
        )
    )
    [assignment] = ledger.customer("ACME").assignments.values()
    assert assignment.quantity == 4 and assignment.end_date is None
    url = f"/portal/customers/ACME/packages/{assignment.assignment_id}/end"
    refused = finance.post(url, {"end_date": "2026-09-01"})
    assert "cannot end before it starts" in action_error(refused.text)
    finance.follow(finance.post(url, {"end_date": "2026-12-31"}))
    [assignment] = ledger.customer("ACME").assignments.values()
    assert str(assignment.end_date) == "2026-12-31"


def test_record_complete_and_cancel_payments(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    bad = finance.post("/portal/payments", {"customer": "ACME", "amount": "0", "status": "pending"})
    assert "greater than zero" in error_of(bad.text, "pay-amount")
    bad = finance.post("/portal/payments", {"customer": "NOPE", "amount": "10"})
    assert "unknown customer" in error_of(bad.text, "pay-customer")
    bad = finance.post("/portal/payments", {"customer": "ACME", "amount": "10.001"})
    assert "10.001" in error_of(bad.text, "pay-amount")
    assert value_of(bad.text, "pay-amount") == "10.001"
    assert LogFolds(ledger).payments("ACME") == []

    response = finance.post(
        "/portal/payments",
        {"customer": "ACME", "amount": "75.00", "status": "pending", "reference": "BACS 1"},
    )
    page = finance.follow(response).text
    assert "Payment of 75.00 GBP recorded (pending)." in page
    payment_url = response.headers["location"]
    [payment] = LogFolds(ledger).payments("ACME")
    assert payment.details.reference == "BACS 1" and payment.status == "pending"
    assert "Allocate across invoices" not in page  # a pending payment is not allocated

    finance.follow(finance.post(payment_url + "/complete"))
    assert ledger.payment(payment.id).status == "completed"
    again = finance.post(payment_url + "/complete")
    assert again.status_code == 409
    assert "only a pending payment completes" in action_error(again.text)
    finance.follow(finance.post(payment_url + "/cancel", {"reason": "bounced"}))
    cancelled = ledger.events_of(payment.id)[-1]
    assert ledger.payment(payment.id).status == "cancelled"
    assert (cancelled.actor, cancelled.reason) == ("fiona", "bounced")

    listed = finance.get("/portal/payments", customer="ACME", status="cancelled").text
    assert f"/portal/payments/{payment.id}" in listed
    listed = finance.get("/portal/payments", status="completed").text
    assert f"/portal/payments/{payment.id}" not in listed


def test_allocate_one_payment_across_several_invoices_all_or_nothing(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    first = issued(ledger, "100.00")  # 120.00
    second = issued(ledger, "50.00")  # 60.00
    payment = completed_payment(ledger, "150.00")
    url = f"/portal/payments/{payment}"
    page = finance.get(url).text
    assert f'name="amount_{first}"' in page and f'name="amount_{second}"' in page

    # the second amount is more than is due there: nothing at all is allocated
    refused = finance.post(
        url + "/allocations", {f"amount_{first}": "100.00", f"amount_{second}": "61.00"}
    )
    assert refused.status_code == 409
    assert "exceeds the 60.00 gbp outstanding" in error_of(refused.text, f"amount_{second}")
    assert value_of(refused.text, f"amount_{first}") == "100.00"
    assert ledger.invoice(first).allocated == 0 and ledger.payment(payment).allocated == 0

    over = finance.post(
        url + "/allocations", {f"amount_{first}": "120.00", f"amount_{second}": "60.00"}
    )
    assert "unallocated on the payment" in action_error(over.text)
    nothing = finance.post(url + "/allocations", {f"amount_{first}": "", f"amount_{second}": ""})
    assert "enter an amount for at least one invoice" in action_error(nothing.text)

    page = finance.follow(
        finance.post(
            url + "/allocations", {f"amount_{first}": "120.00", f"amount_{second}": "30.00"}
        )
    ).text
    assert "150.00 GBP allocated over 2 invoices." in page
    assert ledger.invoice(first).outstanding == 0
    assert ledger.invoice(second).outstanding == Decimal("30.00")
    assert ledger.payment(payment).unallocated == 0
    assert ledger.events_of(payment)[-1].actor == "fiona"
    customer = finance.get("/portal/customers/ACME").text
    assert re.search(r'class="outstanding">30\.00 GBP', customer)
