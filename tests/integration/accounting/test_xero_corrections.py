"""Un-allocations, refunds and voids replayed in the fake Xero as Xero documents them, contact
names kept unique, and every exported document read back equal to the ledger."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from domain.changes import CustomerChanges
from tests.fakes import views
from tests.integration.accounting.helpers import (
    connection_to,
    correction_cycle,
    reconcile_exported,
)


class Crash(Exception):
    pass


def _amount_due(xero: Any, number: str) -> D:
    [invoice] = [i for i in xero.invoices.values() if i["InvoiceNumber"] == number]
    return D(invoice["AmountDue"])


def test_the_correction_cycle_lands_as_xero_documents_it_and_reads_back_equal(
    ledger, xero, make_exporter
):
    cycle = correction_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(xero))

    report = exporter.run()

    assert report.stopped is None
    assert [(i.label, i.outcome) for i in report.items if i.outcome != "exported"] == []
    assert exporter.store.dead_letters("xero") == []
    assert exporter.store.reconciliation("xero") == []  # no note left for a person
    for number in cycle.numbers:
        assert _amount_due(xero, number) == ledger.invoice(number).outstanding, number
    assert views.voided(xero) == [cycle.voided]
    # The payments an un-allocation replaced are deleted, never edited.
    deleted = [p for p in xero.payments.values() if p["Status"] == "DELETED"]
    assert sorted(p["Amount"] for p in deleted) == sorted(
        [D("30.00"), _swiss_total(ledger, cycle.voided)]
    )
    # Each refund: the customer's money received as an overpayment and refunded from it.
    assert sorted(o["Total"] for o in xero.overpayments.values()) == sorted(
        [D("15.00"), _swiss_total(ledger, cycle.voided)]
    )
    assert {(o["Status"], o["RemainingCredit"]) for o in xero.overpayments.values()} == {
        ("PAID", D(0))
    }
    refunds = [p for p in xero.payments.values() if p["PaymentType"] == "AROVERPAYMENTPAYMENT"]
    assert sum(p["Amount"] for p in refunds) == cycle.refunded
    names = sorted(c["Name"] for c in xero.contacts.values() if "Acme" in c["Name"])
    assert names == ["Acme Telecom Ltd", "Acme Telecom Ltd (ACME2)"]

    result = reconcile_exported(exporter, ledger)

    assert sorted(c.number for c in result.checked) == sorted(cycle.documents)
    assert result.differing == []
    statuses = {c.number: (c.ledger_status, c.remote_status) for c in result.checked}
    assert statuses[cycle.voided] == ("voided", "voided")
    assert statuses[cycle.numbers[0]] == ("paid", "paid")
    assert statuses[cycle.numbers[1]] == ("open", "open")
    assert statuses[cycle.credit_note] == statuses[cycle.full_credit] == ("paid", "paid")
    assert statuses[cycle.numbers[4]] == ("paid", "paid")  # credited in full


def _swiss_total(ledger: Any, number: str) -> D:
    return D(ledger.invoice(number).totals.total)


def test_a_payment_deleted_by_hand_in_xero_is_a_difference(ledger, xero, make_exporter):
    cycle = correction_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(xero))
    exporter.run()
    second = cycle.numbers[1]
    [paid] = [
        p
        for p in xero.payments.values()
        if p["Status"] == "AUTHORISED" and p.get("Invoice", {}).get("InvoiceNumber") == second
    ]
    with xero.lock:  # a person deletes the payment in Xero's own screens
        xero._delete_payment(paid["PaymentID"], {"Status": "DELETED"})

    result = reconcile_exported(exporter, ledger)

    [differing] = result.differing
    assert differing.number == second and differing.differences == ("amount due",)
    assert differing.remote_due - differing.ledger_due == paid["Amount"] == D("10.00")


def test_a_rerun_after_a_crash_finds_what_the_corrections_left_and_sends_nothing_twice(
    ledger, xero, make_exporter
):
    correction_cycle(ledger)
    crashed: set[str] = set()

    def crash_once(item: Any) -> None:
        if item.kind in ("unallocation", "refund") and item.event_key not in crashed:
            crashed.add(item.event_key)
            raise Crash(item.label)

    while True:  # die after each correction was sent, before it was recorded
        dying = make_exporter(ledger, connection_to(xero))
        dying.after_send = crash_once
        try:
            dying.run()
            break
        except Crash:
            xero.idempotent.clear()  # and Xero has forgotten the idempotency keys by now

    assert len(crashed) == 4
    assert dying.store.dead_letters("xero") == []
    assert len(xero.overpayments) == 2  # one per refund, never a second
    assert len([p for p in xero.payments.values() if p["Status"] == "DELETED"]) == 2
    assert reconcile_exported(dying, ledger).differing == []


def test_xero_refuses_to_void_an_invoice_a_person_paid_there_and_says_why(
    ledger, xero, make_exporter
):
    correction_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(xero))
    exporter.run()
    invoice_id = ledger.create_invoice("ACME1", "t")
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(1), unit_price=D(5))
    number = ledger.issue_invoice(invoice_id, "t")
    exporter.run()
    [remote] = [i for i in xero.invoices.values() if i["InvoiceNumber"] == number]
    with xero.lock:  # keyed in Xero by hand, never in the ledger
        xero._new_payment(
            {
                "Invoice": {"InvoiceID": remote["InvoiceID"]},
                "Account": {"Code": "090"},
                "Date": "2026-10-02",
                "Amount": D("1.00"),
            }
        )
    ledger.void_invoice(number, "t", "issued by mistake")

    report = exporter.run()

    [dead] = [i for i in report.items if i.outcome == "dead"]
    assert dead.kind == "void" and "has a payment or credit note allocated" in dead.detail
    assert remote["Status"] == "AUTHORISED"


def test_a_contact_name_taken_in_xero_gets_the_account_number_only_then(
    ledger, xero, make_exporter
):
    with xero.lock:  # an accountant's own contact already holds the name
        xero._new_contact({"Name": "Globex Carriers", "AccountNumber": "THEIRS"})
    for account, name in (("GLOBEX", "Globex Carriers"), ("INITECH", "Initech")):
        ledger.register_customer(
            "t",
            account_number=account,
            name=name,
            currency="GBP",
            tax_rate=D("20"),
            tax_description="VAT 20%",
            payment_terms_days=14,
        )
    exporter = make_exporter(ledger, connection_to(xero))

    exporter.run()

    ours = {c["AccountNumber"]: c["Name"] for c in xero.contacts.values()}
    assert ours == {
        "THEIRS": "Globex Carriers",
        "GLOBEX": "Globex Carriers (GLOBEX)",
        "INITECH": "Initech",
    }
    # A change of details keeps the name unique too, and an exact twin is still refused.
    ledger.change_customer(
        "GLOBEX", CustomerChanges.model_validate({"email": "ap@globex.example"}), "t"
    )
    assert make_exporter(ledger, connection_to(xero)).run().count("dead") == 0
    assert ours["GLOBEX"] == next(
        c["Name"] for c in xero.contacts.values() if c["AccountNumber"] == "GLOBEX"
    )
    with pytest.raises(Exception, match="must be unique across all active contacts"):
        xero._new_contact({"Name": "initech "})
