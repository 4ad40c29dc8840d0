"""Discounts through the portal: granted from the invoice page, shown as their own lines,
refused next to the field that is wrong, taken back by removing a line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.portal.support import Browser, acme, error_of, value_of


def test_a_discount_is_granted_shown_refused_at_its_field_and_removed(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    opened = finance.post("/portal/invoices", {"customer": "ACME"})
    url = str(opened.headers["location"])
    invoice_id = url.rsplit("/", 1)[1]
    finance.follow(finance.post(url + "/lines", {"description": "Trunk", "unit_price": "80"}))

    too_much = finance.post(url + "/discounts", {"amount": "80.01", "line": "1"})
    assert too_much.status_code == 422
    assert "more than the 80.00 gbp" in error_of(too_much.text, "discount-amount")
    assert value_of(too_much.text, "discount-amount") == "80.01"
    over = finance.post(url + "/discounts", {"percent": "150"})
    assert "at most 100" in error_of(over.text, "discount-percent")
    assert len(ledger.invoice(invoice_id).lines) == 1

    page = finance.follow(finance.post(url + "/discounts", {"percent": "25", "line": "1"})).text
    assert "Discount 25% on Trunk" in page and "-20.00" in page
    invoice = ledger.invoice(invoice_id)
    assert invoice.totals.total == Decimal("72.00")
    [discount] = [line for line in invoice.lines.values() if line.kind == "discount"]
    assert f"?edit={discount.line_id}" not in page  # a discount line is not edited
    finance.follow(finance.post(f"{url}/lines/{discount.line_id}/remove"))
    assert ledger.invoice(invoice_id).totals.total == Decimal("96.00")


def test_a_customers_minimums_and_tiers_are_set_shown_and_refused_at_their_field(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    form = {
        "name": "Acme",
        "tax_rate": "20",
        "payment_terms_days": "30",
        "minimum_spend": "50.00",
        "minimum_invoice_amount": "5.00",
        "tiers": "UK Mobile=graduated:0-1000:0.01,1000-:0.008\r\nFrance=volume:0-:0.02",
    }
    finance.follow(finance.post("/portal/customers/ACME/settings", form))
    profile = ledger.customer("ACME").latest
    assert (profile.minimum_spend, profile.minimum_invoice_amount) == (
        Decimal("50.00"),
        Decimal("5.00"),
    )
    assert [(p.destination, p.mode) for p in profile.usage_prices] == [
        ("UK Mobile", "graduated"),
        ("France", "volume"),
    ]
    page = finance.get("/portal/customers/ACME").text
    assert value_of(page, "s-minimum_spend") == "50"  # as the portal writes amounts
    assert "UK Mobile=graduated:0-1000:0.01,1000-:0.008" in page
    gap = {**form, "tiers": "UK=graduated:0-100:0.01,200-:0.005"}
    refused = finance.post("/portal/customers/ACME/settings", gap)
    assert refused.status_code == 422 and "a gap" in error_of(refused.text, "s-tiers")
    negative = finance.post("/portal/customers/ACME/settings", {**form, "minimum_spend": "-1"})
    assert "must not be negative" in error_of(negative.text, "s-minimum_spend")
    assert len(ledger.customer("ACME").latest.usage_prices) == 2
