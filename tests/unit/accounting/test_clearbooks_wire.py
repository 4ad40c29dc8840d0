"""Clear Books' wire: numbers as prefix + integer, lines it totals as the ledger does, requests
built only from its types, replies parsed with no DTD."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal as D

import pytest

from adapters.accounting import clearbooks_wire as wire
from adapters.accounting import documents as docs
from adapters.accounting.clearbooks import clear_books_line, item_total, split_number
from adapters.accounting.errors import RemoteRejected


@pytest.mark.parametrize(
    ("number", "prefix", "digits"),
    [
        ("INV-2026-000042", "INV-2026-0000", 42),
        ("CN-2026-001000", "CN-2026-00", 1000),
        ("7", "", 7),
        ("A/2026/10", "A/2026/", 10),
    ],
)
def test_a_number_goes_as_prefix_and_integer_that_spell_it_exactly(number, prefix, digits):
    assert split_number(number) == (prefix, digits)
    assert f"{prefix}{digits}" == number


@pytest.mark.parametrize("number", ["INV-A", "INV-000", "", "2026-INV"])
def test_a_number_clear_books_cannot_hold_is_refused_before_sending(number):
    with pytest.raises(RemoteRejected, match="prefix and an integer"):
        split_number(number)


def _line(quantity, price, rate, net, tax):
    return docs.Line("Calls", D(quantity), D(price), D(rate), "", "usage", D(net), D(tax))


def test_a_penny_price_goes_as_priced_and_a_finer_one_as_one_times_the_net():
    priced = clear_books_line(_line("10", "1.50", "20", "15.00", "3.00"), "GBP")
    finer = clear_books_line(_line("1234.5", "0.012345", "20", "15.24", "3.05"), "GBP")

    assert (priced["quantity"], priced["unitPrice"], priced["vatRate"]) == (D(10), D("1.50"), "0.2")
    assert (finer["quantity"], finer["unitPrice"]) == (D(1), D("15.24"))
    assert finer["description"] == "Calls (1234.5 × 0.012345)"
    assert item_total(finer, "GBP") == D("18.29")  # the ledger's 15.24 + 3.05


def test_a_line_with_tenths_of_a_penny_is_refused():
    with pytest.raises(RemoteRejected, match="pounds and pence"):
        clear_books_line(_line("1", "1.005", "0", "1.005", "0"), "BHD")


def test_requests_are_built_only_from_clear_books_types_attributes_and_elements():
    body = wire.envelope(
        "key",
        "createPayment",
        {
            "payment": {
                "description": "Payment",
                "invoices": [{"id": 7, "amount": D("5.00")}],
                "type": "sales",
                "accountingDate": date(2026, 10, 1),
                "amount": D("5.00"),
                "entityId": 3,
                "paymentMethod": 1,
                "bankAccount": "7502001",
                "external_id": "k",
            }
        },
    )
    payment = ET.fromstring(body).find(f"*/{{{wire.NS}}}createPayment/payment")
    assert payment is not None
    assert payment.get("external_id") == "k" and payment.findtext("amount") == "5.00"
    allocation = payment.find(f"invoices/{{{wire.NS}}}PaymentInvoice")
    assert allocation is not None
    assert (allocation.findtext("id"), allocation.get("amount")) == ("7", "5.00")

    with pytest.raises(wire.WireError, match="Payment has no member 'currency'"):
        wire.envelope("key", "createPayment", {"payment": {"currency": "GBP"}})
    with pytest.raises(wire.WireError, match=r"Payment\.description is required"):
        wire.envelope("key", "createPayment", {"payment": {"type": "sales"}})


def test_any_dtd_in_a_message_is_refused_even_a_harmless_one():
    with pytest.raises(wire.HostileReply, match="DTDForbidden"):
        wire.parse(b'<?xml version="1.0"?><!DOCTYPE a []><a/>')
    assert wire.parse(b"<a><b>1</b></a>").findtext("b") == "1"
