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
