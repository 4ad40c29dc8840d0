"""A new due date (``Invoice.DueDateChanged``) follows to each accounting system as far as that
system lets it: Xero edits an approved invoice's DueDate but not one with money allocated to
it; FreshBooks moves ``due_offset_days`` (its ``due_date`` is read-only); Clear Books' API has
no way to edit an invoice. What could not be sent is noted in the run, and ``export
reconcile`` names the invoice whose due date differs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from tests.fakes.xero import FakeXero, ValidationFailed
from tests.integration.accounting.helpers import connection_to, reconcile_exported

# The export does not depend on the store: SQLite only keeps the suite fast.
SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

NEW_DUE = date(2026, 12, 15)


def _two_invoices(ledger: Any) -> tuple[str, str]:
    """An unpaid invoice and a partly paid one of one customer."""
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Telecom Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    numbers = []
    for price in ("100.00", "40.00"):
        invoice_id = ledger.create_invoice("ACME", "t")
        ledger.add_line(invoice_id, "t", description="Calls", quantity=D(1), unit_price=D(price))
        numbers.append(ledger.issue_invoice(invoice_id, "t"))
    payment = ledger.record_payment("ACME", "t", amount=D("10.00"), status="completed")
    ledger.allocate(payment, [(numbers[1], D("10.00"))], "t")
    return numbers[0], numbers[1]


def _remote_due(fake: Any, number: str) -> date:
    from tests.fakes.clearbooks import FakeClearBooks
    from tests.fakes.xero import _parse_date

    with fake.lock:
        if isinstance(fake, FakeXero):
            [found] = [i for i in fake.invoices.values() if i["InvoiceNumber"] == number]
            return _parse_date(found["DueDate"])
        if isinstance(fake, FakeClearBooks):
            [key] = [k for k in fake.invoices if fake.number(k) == number]
            return date.fromisoformat(str(fake.invoices[key]["dateDue"])[:10])
        [found] = [i for i in fake.invoices.values() if i["invoice_number"] == number]
        return date.fromisoformat(found["due_date"])


# system -> (the unpaid invoice's, the partly paid one's) due date there after the export
FOLLOWS = {
    "xero": (True, False),  # money allocated: Xero does not edit it
    "freshbooks": (True, True),
    "clearbooks": (False, False),  # no API method edits an invoice
}


@SQLITE
@pytest.mark.parametrize("system", sorted(FOLLOWS))
def test_a_new_due_date_follows_where_the_system_lets_it_and_reconcile_shows_the_rest(
    system: str, ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    fake = fakes(system)
    unpaid, part_paid = _two_invoices(ledger)
    exporter = make_exporter(ledger, connection_to(fake))
    assert exporter.run().count("dead") == 0
    before = {n: ledger.invoice(n).due_date for n in (unpaid, part_paid)}
    assert reconcile_exported(exporter, ledger).differing == []

    for number in (unpaid, part_paid):
        ledger.change_due_date(number, NEW_DUE, "t", "customer asked for more time")
    report = exporter.run()
    again = exporter.run()

    assert (report.count("dead"), report.count("parked")) == (0, 0)
    followed = dict(zip((unpaid, part_paid), FOLLOWS[system], strict=True))
    noted = [item for item in report.items if item.outcome == "noted"]
    assert sorted(item.label.split()[0] for item in noted) == sorted(
        n for n, moved in followed.items() if not moved
    )
    assert all("due date: nothing sent" in item.detail for item in noted)
    assert again.count("exported") == again.count("noted") == 0  # each event once
    for number, moved in followed.items():
        assert _remote_due(fake, number) == (NEW_DUE if moved else before[number]), number
    result = reconcile_exported(exporter, ledger)
    differing = {c.number: c for c in result.differing}
    assert set(differing) == {n for n, moved in followed.items() if not moved}
    for checked in differing.values():
        assert checked.differences == ("due date",)
        assert (checked.ledger_due_date, checked.remote_due_date) == (
            NEW_DUE,
            before[checked.number],
        )


@SQLITE
def test_the_fake_xero_refuses_a_new_due_date_on_an_invoice_with_a_payment(
    ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    fake = fakes("xero")
    _, part_paid = _two_invoices(ledger)
    assert make_exporter(ledger, connection_to(fake)).run().count("dead") == 0
    [invoice_id] = [k for k, i in fake.invoices.items() if i["InvoiceNumber"] == part_paid]

    with fake.lock, pytest.raises(ValidationFailed) as refused:
        fake._update_invoice(invoice_id, {"InvoiceID": invoice_id, "DueDate": "2026-12-15"})

    assert "payment or credit note allocated" in str(refused.value.messages)


@SQLITE
def test_an_unreadable_freshbooks_create_date_is_a_dead_letter_not_a_guess(
    ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    """The offset is counted from the invoice's create_date as FreshBooks holds it; one it
    cannot read is refused in words (a dead letter), never replaced by a guess."""
    fake = fakes("freshbooks")
    unpaid, _ = _two_invoices(ledger)
    exporter = make_exporter(ledger, connection_to(fake))
    assert exporter.run().count("dead") == 0
    with fake.lock:
        [held] = [i for i in fake.invoices.values() if i["invoice_number"] == unpaid]
        held["create_date"] = "31/10/2026\u202e"
        puts = sum(r.method == "PUT" for r in fake.requests)

    ledger.change_due_date(unpaid, NEW_DUE, "t", "customer asked for more time")
    report = exporter.run()

    [dead] = [item for item in report.items if item.outcome == "dead"]
    assert dead.kind == "due_date" and "no readable create_date" in dead.detail
    assert sum(r.method == "PUT" for r in fake.requests) == puts
