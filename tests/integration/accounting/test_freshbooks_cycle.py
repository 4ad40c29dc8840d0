"""A month of billing replayed into the fake FreshBooks, then read back through the real client:
every remote invoice and credit note totals and owes exactly what the ledger says."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest

from domain.credit_note import CreditLine
from tests.integration.accounting.helpers import connection_to

TOKYO = "東京テレコム株式会社 (Tokyo Telecom K.K.)"

#: for what does not depend on storage (the month itself runs on SQLite and PostgreSQL)
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@dataclass
class Month:
    invoices: list[str]  # issued, in order; the last one voided
    credit_note: str
    refund_of: Any


def _issue(ledger: Any, account: str, lines: list[tuple[str, str, str, str, str]]) -> str:
    invoice_id = ledger.create_invoice(account, "t")
    for description, quantity, price, rate, tax in lines:
        ledger.add_line(
            invoice_id,
            "t",
            description=description,
            quantity=D(quantity),
            unit_price=D(price),
            tax_rate=D(rate),
            tax_description=tax,
        )
    number: str = ledger.issue_invoice(invoice_id, "t")
    return number


def billing_month(ledger: Any) -> Month:
    """Unicode names, 4-6 dp prices, two tax rates, a credit note, a part payment, a payment
    over two invoices, an un-allocation, a refund and a void."""
    ledger.register_customer(
        "t",
        account_number="TKY",
        name=TOKYO,
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        email="keiri@tokyo-telecom.example",
        billing_address="千代田区丸の内1-1, 東京",
    )
    first = _issue(
        ledger,
        "TKY",
        [
            ("通話料 (calls to Osaka)", "1234.5", "0.012345", "20", "VAT 20%"),
            ("SMS ☎ bundle", "777.25", "0.04565", "5", "VAT 5%"),
            ("DID rental", "10", "1.50", "20", "VAT 20%"),
        ],
    )
    second = _issue(ledger, "TKY", [("Roaming Zürich", "3", "12.345678", "20", "VAT 20%")])
    third = _issue(ledger, "TKY", [("Setup fee", "1", "25.00", "20", "VAT 20%")])
    credit_note = ledger.issue_credit_note(
        first,
        "t",
        "SMS bundle over-charged",
        lines=[
            CreditLine.model_validate(
                {
                    "description": "SMS ☎ bundle",
                    "quantity": D("100"),
                    "unit_price": D("0.04565"),
                    "tax_rate": D("5"),
                    "tax_description": "VAT 5%",
                }
            )
        ],
    )
    part = ledger.record_payment("TKY", "t", amount=D("10.00"), status="completed")
    ledger.allocate(part, [(first, D("10.00"))], "t")
    spread = ledger.record_payment(
        "TKY", "t", amount=D("100.00"), status="completed", reference="BACS 0042 #internal"
    )
    owed_first = ledger.invoice(first).outstanding
    ledger.allocate(spread, [(first, owed_first), (second, D("20.00"))], "t")
    ledger.unallocate(spread, second, D("7.50"), "t", "allocated to the wrong invoice")
    ledger.refund_payment(spread, D("5.00"), "t", reference="refund BACS")
    ledger.void_invoice(third, "t", "issued by mistake")
    return Month([first, second, third], credit_note, spread)


def test_a_month_in_freshbooks_reads_back_exactly_as_the_ledger_has_it(
    ledger, freshbooks, make_exporter
):
    month = billing_month(ledger)
    exporter = make_exporter(ledger, connection_to(freshbooks))

    report = exporter.run()

    assert report.stopped is None
    assert exporter.store.dead_letters("freshbooks") == []
    outcomes = {(i.kind, i.outcome) for i in report.items}
    assert ("unallocation", "exported") in outcomes and ("refund", "noted") in outcomes
    remote = exporter.store.remote_ids("freshbooks")
    for number in month.invoices:
        invoice = ledger.invoice(number)
        back = exporter.client.read_back("invoice", remote[("invoice", str(invoice.id))])
        assert (back.number, back.currency) == (number, "GBP")
        assert back.total == invoice.totals.total, number
        assert back.amount_due == invoice.outstanding, number
    first, second, voided = (ledger.invoice(n) for n in month.invoices)
    statuses = [
        exporter.client.read_back("invoice", remote[("invoice", str(i.id))]).status
        for i in (first, second, voided)
    ]
    assert statuses == ["paid", "partial", "deleted"]  # marked sent, never left a draft
    assert first.outstanding == 0 and second.outstanding == second.totals.total - D("12.50")
    note = ledger.credit_note(month.credit_note)
    back = exporter.client.read_back("credit_note", remote[("credit_note", str(note.id))])
    assert (back.total, back.amount_due, back.status) == (note.totals.total, D(0), "applied")
    # Customer-facing names carry no account code; the identity rides in the private note.
    (client,) = freshbooks.clients.values()
    assert client["organization"] == TOKYO
    assert client["note"] == f"tollbook:{ledger.customer('TKY').id} account TKY"
    assert {i["organization"] for i in freshbooks.invoices.values()} == {TOKYO}
    # the private part of a payment reference never leaves the ledger
    assert not any("internal" in p["note"] for p in freshbooks.payments.values())


@SQLITE_ONLY
def test_a_rerun_after_the_month_sends_nothing_and_changes_nothing(
    ledger, freshbooks, make_exporter
):
    billing_month(ledger)
    make_exporter(ledger, connection_to(freshbooks)).run()
    before = (len(freshbooks.requests), repr(freshbooks.payments), repr(freshbooks.invoices))

    again = make_exporter(ledger, connection_to(freshbooks)).run()

    assert {i.outcome for i in again.items} <= {"already exported"}
    after = (len(freshbooks.requests), repr(freshbooks.payments), repr(freshbooks.invoices))
    assert after == before


LOST = [
    "/users/clients",  # the client is created
    "/invoices/invoices",  # invoices are created
    "/invoices/invoices/",  # invoices are marked sent, one is deleted
    "/credit_notes/",  # the credit note is created
    "/payments/payments",  # credit applied, payments made
    "/payments/payments/",  # a payment reduced by the un-allocation
]


@pytest.mark.parametrize("path", LOST)
@SQLITE_ONLY
def test_every_write_whose_answer_is_lost_is_found_not_redone(
    path, ledger, freshbooks, make_exporter
):
    month = billing_month(ledger)
    freshbooks.drop_responses_after_commit(3, path_contains=path)
    exporter = make_exporter(ledger, connection_to(freshbooks))

    report = exporter.run()

    assert report.stopped is None
    assert freshbooks._drop_after_commit < 3  # answers were lost on the way back
    assert exporter.store.dead_letters("freshbooks") == []
    assert len(freshbooks.clients) == 1 and len(freshbooks.credit_notes) == 1
    numbers = sorted(i["invoice_number"] for i in freshbooks.invoices.values())
    assert numbers == sorted(month.invoices)
    remote = exporter.store.remote_ids("freshbooks")
    for number in month.invoices:
        invoice = ledger.invoice(number)
        back = exporter.client.read_back("invoice", remote[("invoice", str(invoice.id))])
        assert (back.total, back.amount_due) == (invoice.totals.total, invoice.outstanding)


@SQLITE_ONLY
def test_two_customers_of_one_name_are_two_clients_told_apart_by_identity(
    ledger, freshbooks, make_exporter
):
    for account in ("ACME-UK", "ACME-DE"):
        ledger.register_customer("t", account_number=account, name="Acme Ltd", currency="GBP")
        _issue(ledger, account, [("Calls", "100", "0.10", "20", "VAT 20%")])

    make_exporter(ledger, connection_to(freshbooks)).run()

    clients = sorted(freshbooks.clients.values(), key=lambda c: c["note"])
    assert [c["organization"] for c in clients] == ["Acme Ltd", "Acme Ltd"]
    by_client = {str(i["customerid"]) for i in freshbooks.invoices.values()}
    assert by_client == {str(c["id"]) for c in clients}  # one invoice each, none crossed


@SQLITE_ONLY
def test_a_client_named_the_old_way_is_adopted_and_renamed(ledger, freshbooks, make_exporter):
    # An earlier version named clients "Name (ACCOUNT)" and kept no note.
    freshbooks.clients["4001"] = {
        "id": 4001,
        "userid": 4001,
        "vis_state": 0,
        "organization": f"{TOKYO} (TKY)",
        "note": "Pays late; call Hiro",
    }
    billing_month(ledger)

    make_exporter(ledger, connection_to(freshbooks)).run()

    assert list(freshbooks.clients) == ["4001"]
    client = freshbooks.clients["4001"]
    assert (client["organization"], client["email"]) == (TOKYO, "keiri@tokyo-telecom.example")
    customer = ledger.customer("TKY").id
    assert client["note"] == f"tollbook:{customer} account TKY\nPays late; call Hiro"
