"""What FreshBooks refuses, and what our client refuses rather than let FreshBooks' books drift.

Each refusal is exact (the remote's errno and message, or ours), changes nothing in the fake,
writes no ledger event, and on the exporter becomes one dead letter a person can settle.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import httpx
import pytest

from tests.helpers import event_count
from tests.integration.accounting.helpers import connection_to
from tests.integration.accounting.test_freshbooks_cycle import SQLITE_ONLY, billing_month


def _http(fake) -> httpx.Client:
    return httpx.Client(
        base_url=f"{fake.url}/accounting/account/{fake.ACCOUNT}",
        headers={"Authorization": f"Bearer {fake.TOKEN}"},
    )


def _line(cost: str = "10.00", tax: str | None = "20") -> dict:
    return {
        "name": "x",
        "qty": "1",
        "unit_cost": {"amount": cost, "code": "GBP"},
        "taxName1": "VAT",
        "taxAmount1": tax,
    }


@pytest.fixture
def sent(freshbooks):
    """A client with one invoice of 12.00, marked sent."""
    http = _http(freshbooks)
    client = http.post("/users/clients", json={"client": {"organization": "Acme"}}).json()
    client_id = client["response"]["result"]["client"]["id"]
    made = http.post(
        "/invoices/invoices",
        json={
            "invoice": {
                "customerid": client_id,
                "invoice_number": "INV-1",
                "currency_code": "GBP",
                "create_date": "2026-10-01",
                "lines": [_line()],
            }
        },
    ).json()["response"]["result"]["invoice"]
    http.put(f"/invoices/invoices/{made['id']}", json={"invoice": {"action_mark_as_sent": True}})
    return http, client_id, made["id"]


REFUSALS = [
    # (what is sent, errno, field, message)
    (
        (
            "POST",
            "/payments/payments",
            {
                "payment": {
                    "invoiceid": "{invoice}",
                    "amount": {"amount": "5.00", "code": "GBP"},
                    "type": "Credit",
                    "date": "2026-10-02",
                }
            },
        ),
        "amount",
        "Amount exceeds the client's credit of 0.",
    ),
    (
        (
            "POST",
            "/payments/payments",
            {
                "payment": {
                    "invoiceid": "{invoice}",
                    "amount": {"amount": "5.00", "code": "GBP"},
                    "type": "Barter",
                    "date": "2026-10-02",
                }
            },
        ),
        "type",
        "Invalid payment type Barter.",
    ),
    (
        (
            "POST",
            "/payments/payments",
            {
                "payment": {
                    "invoiceid": "{invoice}",
                    "amount": {"amount": "5.00", "code": "EUR"},
                    "type": "Cash",
                    "date": "2026-10-02",
                }
            },
        ),
        "amount",
        "Payment currency differs from the invoice.",
    ),
    (
        (
            "POST",
            "/payments/payments",
            {
                "payment": {
                    "invoiceid": "{invoice}",
                    "amount": {"amount": "0.001", "code": "GBP"},
                    "type": "Cash",
                    "date": "2026-10-02",
                }
            },
        ),
        "amount",
        "Amount must be positive, to 2 decimals.",
    ),
    (
        (
            "POST",
            "/invoices/invoices",
            {
                "invoice": {
                    "customerid": "{client}",
                    "invoice_number": "INV-1",
                    "currency_code": "GBP",
                    "lines": [_line()],
                }
            },
        ),
        "invoice_number",
        "Invoice number already exists.",
    ),
    (
        (
            "POST",
            "/invoices/invoices",
            {
                "invoice": {
                    "customerid": "{client}",
                    "invoice_number": "INV-2",
                    "currency_code": "GBP",
                    "lines": [_line(tax="8.8755")],
                }
            },
        ),
        "taxAmount1",
        "Tax percentage must be 0 to 100, up to 3 decimals.",
    ),
    (
        (
            "POST",
            "/invoices/invoices",
            {
                "invoice": {
                    "customerid": "{client}",
                    "invoice_number": "INV-3",
                    "currency_code": "GBP",
                    "lines": [],
                }
            },
        ),
        "lines",
        "At least one line is required.",
    ),
    (
        (
            "POST",
            "/invoices/invoices",
            {
                "invoice": {
                    "customerid": 1,
                    "invoice_number": "INV-4",
                    "currency_code": "GBP",
                    "lines": [_line()],
                }
            },
        ),
        "customerid",
        "Client not found.",
    ),
    (
        ("POST", "/users/clients", {"client": {"currency_code": "GBP"}}),
        "organization",
        "At least one of organization, first name, last name or email is required.",
    ),
]


@pytest.mark.parametrize(("request_", "field", "message"), REFUSALS)
def test_the_fake_refuses_what_freshbooks_refuses_and_keeps_nothing(
    freshbooks, sent, request_, field, message
):
    http, client_id, invoice_id = sent
    method, path, body = request_
    text = (
        json.dumps(body)
        .replace('"{invoice}"', str(invoice_id))
        .replace('"{client}"', str(client_id))
    )
    before = repr((freshbooks.clients, freshbooks.invoices, freshbooks.payments))

    answer = http.request(method, path, content=text)

    assert answer.status_code == 422
    (error,) = answer.json()["response"]["errors"]
    assert (error["errno"], error["field"], error["message"]) == (2001, field, message)
    assert repr((freshbooks.clients, freshbooks.invoices, freshbooks.payments)) == before


def test_a_deleted_invoice_takes_no_payment(freshbooks, sent):
    http, _, invoice_id = sent
    http.put(f"/invoices/invoices/{invoice_id}", json={"invoice": {"vis_state": 1}})

    answer = http.post(
        "/payments/payments",
        json={
            "payment": {
                "invoiceid": invoice_id,
                "amount": {"amount": "1.00", "code": "GBP"},
                "type": "Cash",
            }
        },
    )

    assert answer.status_code == 422
    assert answer.json()["response"]["errors"][0]["message"] == "Invoice not found."
    assert freshbooks.payments == {}


def test_an_overpayment_pays_the_invoice_and_becomes_the_clients_credit(freshbooks, sent):
    http, client_id, invoice_id = sent

    made = http.post(
        "/payments/payments",
        json={
            "payment": {
                "invoiceid": invoice_id,
                "amount": {"amount": "20.00", "code": "GBP"},
                "type": "Cash",
            }
        },
    ).json()["response"]["result"]["payment"]

    invoice = freshbooks.invoices[str(invoice_id)]
    assert (made["amount"]["amount"], invoice["outstanding"]["amount"]) == ("12.00", "0.00")
    assert (invoice["v3_status"], invoice["status"]) == ("paid", 4)
    assert freshbooks.credit_balance(str(client_id)) == D("8.00")
    assert made["overpaymentid"] is not None


@SQLITE_ONLY
def test_a_payment_deleted_in_freshbooks_makes_the_unallocation_one_dead_letter(
    ledger, freshbooks, make_exporter
):
    month = billing_month(ledger)
    exporter = make_exporter(ledger, connection_to(freshbooks))
    exporter.run()
    second = ledger.invoice(month.invoices[1])
    ledger.unallocate(month.refund_of, second.id, D("2.50"), "t", "again")
    events = event_count(ledger)
    # A person deletes, in FreshBooks, what the spread payment paid on the second invoice.
    remote_second = exporter.store.remote_ids("freshbooks")[("invoice", str(second.id))]
    (held,) = [
        p
        for p in freshbooks.payments.values()
        if f"payment:{month.refund_of}" in p["note"] and str(p["invoiceid"]) == remote_second
    ]
    held["vis_state"] = 1

    report = make_exporter(ledger, connection_to(freshbooks)).run()

    (dead,) = [i for i in report.items if i.outcome == "dead"]
    assert dead.kind == "unallocation"
    assert dead.detail == (
        f"FreshBooks holds 0.00 GBP of this payment on {month.invoices[1]}, less than the"
        " 10.00 the ledger keeps there: reconcile the invoice first"
    )
    assert event_count(ledger) == events


@SQLITE_ONLY
def test_a_void_of_an_invoice_freshbooks_still_has_paid_is_refused(
    ledger, freshbooks, make_exporter
):
    ledger.register_customer("t", account_number="ACME", name="Acme", currency="GBP")
    invoice_id = ledger.create_invoice("ACME", "t")
    ledger.add_line(invoice_id, "t", description="Fee", quantity=D(1), unit_price=D(10))
    number = ledger.issue_invoice(invoice_id, "t")
    make_exporter(ledger, connection_to(freshbooks)).run()
    (remote,) = freshbooks.invoices.values()
    # Someone recorded a payment in FreshBooks that the ledger never had.
    _http(freshbooks).post(
        "/payments/payments",
        json={
            "payment": {
                "invoiceid": remote["id"],
                "amount": {"amount": "1.00", "code": "GBP"},
                "type": "Cash",
            }
        },
    )
    ledger.void_invoice(number, "t", "issued by mistake")
    events = event_count(ledger)

    report = make_exporter(ledger, connection_to(freshbooks)).run()

    (dead,) = [i for i in report.items if i.outcome == "dead"]
    assert dead.detail == (
        f"FreshBooks invoice {number} still has 1.00 paid or credited: remove those payments"
        " in FreshBooks, then retry"
    )
    assert remote["vis_state"] == 0 and event_count(ledger) == events


@SQLITE_ONLY
def test_a_wrong_token_stops_the_run_and_sends_nothing(ledger, freshbooks, make_exporter):
    billing_month(ledger)

    report = make_exporter(ledger, connection_to(freshbooks, access_token="stolen")).run()

    assert report.stopped is not None and "refused the access token" in report.stopped
    assert freshbooks.clients == {} and freshbooks.invoices == {}
