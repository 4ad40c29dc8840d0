"""Prepaid over HTTP: the customer's credit settings, credit applied as an invoice is issued,
and the low balance notice in the event feed."""

from __future__ import annotations

from tests.service.conftest import Api, issued_invoice, make_customer, ok


def _prepaid(writer: Api, threshold: str) -> dict:
    return ok(
        writer.patch(
            "/customers/ACME",
            {
                "auto_apply_credit": True,
                "low_balance_threshold": {"amount": threshold, "currency": "GBP"},
            },
        )
    )


def test_credit_settings_are_set_shown_and_removed(writer, reader):
    make_customer(writer)
    changed = _prepaid(writer, "50.00")
    assert changed["auto_apply_credit"] is True
    assert changed["low_balance_threshold"] == {"amount": "50.00", "currency": "GBP"}
    removed = ok(writer.patch("/customers/ACME", {"low_balance_threshold": None}))
    assert removed["low_balance_threshold"] is None and removed["auto_apply_credit"] is True
    assert ok(reader.get("/customers/ACME"))["low_balance_threshold"] is None


def test_a_top_up_pays_the_next_invoice_and_the_crossing_reaches_the_feed(writer, reader):
    make_customer(writer)
    _prepaid(writer, "50.00")
    top_up = {"customer": "ACME", "amount": "150.00", "status": "completed"}
    ok(writer.post("/payments", top_up), 201)

    invoice = issued_invoice(writer, price="100.00")  # 120.00: credit 150 -> 30

    assert invoice["status"] == "paid" and invoice["outstanding"] == "0.00"
    page = ok(reader.get("/events", types="Customer.PrepaidBalanceLow"))
    [low] = page["events"]
    assert low["payload"]["balance"] == "30.00" and low["payload"]["threshold"] == "50.00"
    assert low["payload"]["currency"] == "GBP"
    issued_invoice(writer, price="10.00")  # 30 -> 18: still below, no second notice
    assert len(ok(reader.get("/events", types="Customer.PrepaidBalanceLow"))["events"]) == 1
