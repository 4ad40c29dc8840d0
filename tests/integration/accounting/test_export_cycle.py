"""A month of billing replayed into each accounting system, exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest

from tests.fakes import views
from tests.integration.accounting.helpers import billing_cycle, connection_to

SYSTEMS = ["xero", "clearbooks", "freshbooks"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_billing_cycle_lands_in_each_system_once_and_a_rerun_sends_nothing(
    system, ledger, fakes, make_exporter
):
    fake = fakes(system)
    cycle = billing_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(fake))

    report = exporter.run()

    assert report.stopped is None
    assert [i.outcome for i in report.items if i.outcome != "exported"] == []
    assert views.contacts(fake) == ["ACME", "GLX-0042"] or views.contacts(fake) == [
        "ACME",
        "GLOBEX",
    ]
    issued = views.invoices(fake)
    assert sorted(issued) == sorted(cycle.numbers)  # the draft never left the ledger
    assert issued[cycle.numbers[0]] == D("39.60") and issued[cycle.numbers[1]] == D("54.00")
    assert views.credit_notes(fake) == [cycle.credit_note]
    assert views.payments(fake) == cycle.paid  # the pending payment was not sent
    assert views.voided(fake) == [cycle.voided]
    assert report.position == ledger.recorder.max_notification_id()
    if system == "xero":
        assert fake.spec_violations == []

    requests_before = len(fake.requests)
    again = make_exporter(ledger, connection_to(fake)).run()

    assert again.items == [] and len(fake.requests) == requests_before
    assert sorted(views.invoices(fake)) == sorted(cycle.numbers)


def test_new_events_after_a_run_are_picked_up_from_the_tracked_position(
    ledger, xero, make_exporter
):
    cycle = billing_cycle(ledger)
    make_exporter(ledger, connection_to(xero)).run()
    invoice_id = ledger.create_invoice("GLOBEX", "t")
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(100), unit_price=D("0.10"))
    number = ledger.issue_invoice(invoice_id, "t")

    report = make_exporter(ledger, connection_to(xero)).run()

    assert [(i.kind, i.label) for i in report.items] == [("invoice", number)]
    assert sorted(views.invoices(xero)) == sorted([*cycle.numbers, number])


def test_a_customer_already_in_xero_is_matched_by_external_id_not_by_name(
    ledger, xero, make_exporter
):
    # The accountant created Globex by hand, with our external id as its contact number, and
    # another contact happens to carry the name "Acme Telecom Ltd" under a different account.
    globex, other = str(uuid.uuid4()), str(uuid.uuid4())
    xero.contacts[globex] = {
        "ContactID": globex,
        "Name": "GLOBEX CARRIERS (old)",
        "ContactNumber": "GLX-0042",
        "AccountNumber": "G1",
    }
    xero.contacts[other] = {
        "ContactID": other,
        "Name": "Acme Telecom Ltd (UK)",
        "ContactNumber": "X9",
        "AccountNumber": "OTHER",
    }
    billing_cycle(ledger)

    make_exporter(ledger, connection_to(xero)).run()

    globex_invoices = [i for i in xero.invoices.values() if i["Contact"]["ContactID"] == globex]
    assert len(globex_invoices) == 1
    assert not any(i["Contact"]["ContactID"] == other for i in xero.invoices.values())
    assert len(xero.contacts) == 3  # Acme was created, Globex matched


def test_a_dry_run_lists_what_would_be_sent_and_sends_nothing(ledger, xero, make_exporter):
    cycle = billing_cycle(ledger)

    report = make_exporter(ledger, connection_to(xero)).run(dry_run=True)

    assert {i.outcome for i in report.items} == {"would export"}
    assert [i.label for i in report.items if i.kind == "invoice"] == cycle.numbers
    assert xero.requests == []
    assert make_exporter(ledger, connection_to(xero)).store.position("xero") == 0
