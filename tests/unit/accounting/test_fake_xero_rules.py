"""The fake Xero keeps Xero's documented rules for payments, voids, overpayments and contact
names, over real HTTP: what the correction tests rely on is the fake refusing as Xero does."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.unit.accounting.test_fake_xero_contract import GOOD_INVOICE, _put_invoice, xero  # noqa: F401

DAY = "/Date(1793404800000+0000)/"


def _errors(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"]]


def _contact(client: httpx.Client, name: str) -> httpx.Response:
    return client.put("/Contacts", content=json.dumps({"Contacts": [{"Name": name}]}))


def _pay(client: httpx.Client, invoice_id: str, amount: float) -> httpx.Response:
    body = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": DAY}
    return client.put("/Payments", content=json.dumps({**body, "Amount": amount}))


def _delete(client: httpx.Client, payment_id: str) -> httpx.Response:
    return client.post(f"/Payments/{payment_id}", content=json.dumps({"Status": "DELETED"}))


def _void(client: httpx.Client, invoice_id: str) -> httpx.Response:
    body = {"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]}
    return client.post(f"/Invoices/{invoice_id}", content=json.dumps(body))


def _invoice(client: httpx.Client, invoice_id: str) -> dict[str, Any]:
    invoice: dict[str, Any] = client.get(f"/Invoices/{invoice_id}").json()["Invoices"][0]
    return invoice


def test_payments_move_an_invoice_to_paid_and_deleting_them_moves_it_back_then_it_voids(
    xero,  # noqa: F811
):
    fake, client = xero
    contact_id = _contact(client, "Acme").json()["Contacts"][0]["ContactID"]
    made = _put_invoice(client, {**GOOD_INVOICE, "Contact": {"ContactID": contact_id}})
    invoice_id = made.json()["Invoices"][0]["InvoiceID"]  # 2 x 1.50 + 20 % = 3.60

    first = _pay(client, invoice_id, 1.0).json()["Payments"][0]["PaymentID"]
    assert _errors(_pay(client, invoice_id, 3.0)) == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    rest = _pay(client, invoice_id, 2.6).json()["Payments"][0]["PaymentID"]
    assert (_invoice(client, invoice_id)["Status"], _invoice(client, invoice_id)["AmountDue"]) == (
        "PAID",
        0,
    )
    assert _errors(_void(client, invoice_id)) == ["Invoice not of valid status for modification"]

    assert _delete(client, rest).json()["Payments"][0]["Status"] == "DELETED"
    after = _invoice(client, invoice_id)
    assert (after["Status"], after["AmountDue"], after["AmountPaid"]) == ("AUTHORISED", 2.6, 1.0)
    assert _errors(_delete(client, rest)) == ["This payment has already been deleted"]
    assert _errors(_void(client, invoice_id)) == [
        "This document cannot be edited as it has a payment or credit note allocated to it."
    ]
    _delete(client, first)
    assert _void(client, invoice_id).json()["Invoices"][0]["Status"] == "VOIDED"
    assert _errors(_pay(client, invoice_id, 1.0)) == [
        "Payment can only be made against Authorised documents"
    ]
    assert fake.spec_violations == []


def test_an_overpayment_is_refunded_up_to_its_remaining_credit(xero):  # noqa: F811
    fake, client = xero
    contact_id = _contact(client, "Acme").json()["Contacts"][0]["ContactID"]
    received = {
        "Type": "RECEIVE-OVERPAYMENT",
        "Contact": {"ContactID": contact_id},
        "BankAccount": {"Code": "090"},
        "Date": DAY,
        "LineAmountTypes": "NoTax",
        "LineItems": [{"Description": "credit", "LineAmount": 5.0}],
        "Reference": "R1",
    }
    made = client.put("/BankTransactions", content=json.dumps({"BankTransactions": [received]}))
    overpayment_id = made.json()["BankTransactions"][0]["OverpaymentID"]
    refund = {"Overpayment": {"OverpaymentID": overpayment_id}, "Account": {"Code": "090"}}
    refund["Date"] = DAY

    too_much = client.put("/Payments", content=json.dumps({**refund, "Amount": 6.0}))
    assert _errors(too_much) == ["Payment amount exceeds the amount outstanding on this document"]
    paid = client.put("/Payments", content=json.dumps({**refund, "Amount": 5.0})).json()
    overpayment = client.get(f"/Overpayments/{overpayment_id}").json()["Overpayments"][0]
    assert (overpayment["Status"], overpayment["RemainingCredit"]) == ("PAID", 0)
    assert paid["Payments"][0]["PaymentType"] == "AROVERPAYMENTPAYMENT"

    _delete(client, paid["Payments"][0]["PaymentID"])
    overpayment = client.get(f"/Overpayments/{overpayment_id}").json()["Overpayments"][0]
    assert (overpayment["Status"], overpayment["RemainingCredit"]) == ("AUTHORISED", 5.0)
    found = client.get("/BankTransactions", params={"where": 'Reference=="R1"'}).json()
    assert [t["OverpaymentID"] for t in found["BankTransactions"]] == [overpayment_id]
    assert fake.spec_violations == []


def test_a_contact_name_is_unique_among_active_contacts_in_any_letter_case(xero):  # noqa: F811
    fake, client = xero
    first = _contact(client, "Globex Carriers").json()["Contacts"][0]["ContactID"]

    assert _errors(_contact(client, "globex carriers ")) == [
        "The contact name globex carriers is already assigned to another contact. The contact"
        " name must be unique across all active contacts."
    ]
    fake.contacts[first]["ContactStatus"] = "ARCHIVED"  # archived in Xero's screens
    assert _contact(client, "Globex Carriers").status_code == 200


def test_discounts_follow_xeros_line_arithmetic_and_no_total_goes_below_zero(
    xero,  # noqa: F811
):
    fake, client = xero
    contact = {"ContactID": _contact(client, "Acme").json()["Contacts"][0]["ContactID"]}
    line = GOOD_INVOICE["LineItems"][0]  # 2 x 1.50 at 20 %
    lines = [
        {**line, "Quantity": 3, "UnitAmount": 3.35, "DiscountRate": 12.5},  # 10.05 - 12.5 %
        {**line, "UnitAmount": 5, "DiscountAmount": 0.99},  # 10.00 - 0.99
        {**line, "Quantity": 1, "UnitAmount": -4.01},  # a discount line
    ]
    made = _put_invoice(client, {**GOOD_INVOICE, "Contact": contact, "LineItems": lines})
    invoice = made.json()["Invoices"][0]
    assert [item["LineAmount"] for item in invoice["LineItems"]] == [8.79, 9.01, -4.01]
    assert (invoice["SubTotal"], invoice["TotalTax"], invoice["Total"]) == (13.79, 2.76, 16.55)

    below = [{**line, "UnitAmount": 1}, {**line, "Quantity": 1, "UnitAmount": -2.5}]
    refused = _put_invoice(
        client,
        {**GOOD_INVOICE, "Contact": contact, "LineItems": below, "InvoiceNumber": "INV-2"},
    )
    assert _errors(refused) == ["The document total cannot be negative."]
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": contact,
        "LineItems": [{**line, "DiscountRate": 10}],
        "Date": DAY,
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
    }
    put = client.put("/CreditNotes", content=json.dumps({"CreditNotes": [note]}))
    assert _errors(put) == ["Discounts are not supported on credit notes."]
    assert len(fake.invoices) == 1 and fake.credit_notes == {}
