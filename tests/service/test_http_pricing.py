"""Pricing over HTTP: a discount granted on a draft, a customer's tiers, minimums and a
package's minimum spend, each answered as the documents the CLI prints."""

from __future__ import annotations

from tests.service.conftest import ok


def test_discounts_tiers_and_minimums_over_http(admin, writer, reader):
    ok(admin.patch("/settings", {"minimum_invoice_amount": "5.00"}))
    assert ok(reader.get("/settings"))["minimum_invoice_amount"] == "5.00"
    ok(writer.post("/customers", {"account_number": "C-1", "name": "One", "tax_rate": "20"}), 201)
    tiers = [
        {
            "destination": "UK Mobile",
            "mode": "volume",
            "tiers": [
                {"first": "0", "last": "1000", "rate": "0.0100"},
                {"first": "1000", "last": None, "rate": "0.0080"},
            ],
        }
    ]
    changed = ok(
        writer.patch(
            "/customers/C-1",
            {"usage_prices": tiers, "minimum_spend": "50.00", "minimum_invoice_amount": "1.00"},
        )
    )
    assert changed["usage_prices"][0]["tiers"][1] == {
        "first": "1000",
        "last": None,
        "rate": "0.0080",
    }
    assert (changed["minimum_spend"], changed["minimum_invoice_amount"]) == ("50.00", "1.00")
    package = ok(
        writer.post("/packages", {"name": "Trunk", "unit_price": "25", "minimum_spend": "10"}),
        201,
    )
    assert package["minimum_spend"] == "10"

    draft = ok(writer.post("/invoices", {"customer": "C-1"}), 201)
    ok(
        writer.post(f"/invoices/{draft['id']}/lines", {"description": "Trunk", "unit_price": "80"}),
        201,
    )
    granted = ok(
        writer.post(f"/invoices/{draft['id']}/discounts", {"percent": "10", "line": "1"}), 201
    )
    [line] = [line for line in granted["invoice"]["lines"] if line["kind"] == "discount"]
    assert (line["net"], line["discount"]["discount_id"]) == ("-8.00", granted["discount_id"])
    assert granted["invoice"]["total"] == "86.40"
    removed = ok(writer.delete(f"/invoices/{draft['id']}/lines/{line['line_id']}"))
    assert removed["total"] == "96.00"


def test_a_customers_minimum_invoice_amount_goes_back_to_the_accounts_by_null(writer):
    ok(writer.post("/customers", {"account_number": "C-2", "name": "Two"}), 201)
    assert ok(writer.get("/customers/C-2"))["minimum_invoice_amount"] is None
    set_ = ok(writer.patch("/customers/C-2", {"minimum_invoice_amount": "3.00"}))
    assert set_["minimum_invoice_amount"] == "3.00"

    cleared = ok(writer.patch("/customers/C-2", {"minimum_invoice_amount": None}))

    assert cleared["minimum_invoice_amount"] is None
    # already the account's: still a change asked for, answered as the customer stands
    again = ok(writer.patch("/customers/C-2", {"minimum_invoice_amount": None}))
    assert again["minimum_invoice_amount"] is None
