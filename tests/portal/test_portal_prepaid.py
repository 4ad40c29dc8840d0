"""The customer's credit settings in the portal: applying credit automatically and the low
balance alert, saved with the other details; a bad threshold is the field's error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.helpers import event_count
from tests.portal.support import Browser, acme, completed_payment, error_of, issued, value_of

FORM = {
    "name": "Acme Telecom",
    "tax_rate": "20",
    "tax_description": "VAT 20%",
    "payment_terms_days": "14",
    "time_zone": "UTC",
}


def test_credit_settings_are_saved_and_shown(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    form = {**FORM, "auto_apply_credit": "yes", "low_balance_threshold": "75.50"}
    page = finance.follow(finance.post("/portal/customers/ACME/settings", form)).text
    profile = ledger.customer("ACME").latest
    assert profile.auto_apply_credit is True
    assert profile.low_balance_threshold.amount == Decimal("75.50")
    assert profile.low_balance_threshold.currency == "GBP"
    assert value_of(page, "s-low_balance_threshold") == "75.50"
    cleared = {**form, "auto_apply_credit": "no", "low_balance_threshold": ""}
    finance.follow(finance.post("/portal/customers/ACME/settings", cleared))
    profile = ledger.customer("ACME").latest
    assert profile.auto_apply_credit is False and profile.low_balance_threshold is None


def test_a_negative_or_too_fine_threshold_is_the_fields_error(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    before = event_count(ledger)
    for value, words in (("-5", "must not be negative"), ("0.001", "more decimals")):
        bad = {**FORM, "low_balance_threshold": value}
        response = finance.post("/portal/customers/ACME/settings", bad)
        assert response.status_code == 422
        assert words in error_of(response.text, "s-low_balance_threshold"), response.text[-2000:]
    assert event_count(ledger) == before


def test_the_credit_form_of_a_partly_paid_invoice_says_where_the_rest_goes(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    number = issued(ledger, "100.00")  # 120.00
    ledger.allocate(completed_payment(ledger, "50.00"), [(number, Decimal("50.00"))], "setup")
    invoice_id = ledger.invoice(number).id
    page = finance.get(f"/portal/invoices/{number}").text
    assert "goes back to those payments as customer credit" in page
    done = finance.follow(
        finance.post(
            f"/portal/invoices/{invoice_id}/credit-notes",
            {"mode": "full", "reason": "service cancelled"},
        )
    )
    assert done.status_code == 200
    invoice = ledger.invoice(number)
    assert invoice.status() == "credited" and invoice.allocated == 0
