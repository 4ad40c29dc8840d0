"""An issued invoice's new due date (``DueDateChanged``) and the status credit notes give."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import uuid4

import pytest

from domain.aggregate import Stamp
from domain.changes import DatesChanges
from domain.errors import InvalidInput, InvalidState, InvoiceNotEditable, OutOfRange
from domain.invoice import Invoice
from domain.invoice_status import STATUSES, status
from tests.unit.test_invoice import BILLING, STAMP, draft, line, replay

WHY = Stamp("finance", datetime(2026, 11, 20, 9, tzinfo=UTC), "customer asked for 30 more days")


def issued(price: str = "100.00") -> Invoice:
    invoice = draft()
    invoice.add_line(line(price=price), STAMP)  # 100.00 net, 120.00 with tax
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)
    return invoice


def test_an_issued_invoice_takes_a_new_due_date_with_its_reason_before_and_after():
    invoice = issued()
    invoice.change_due_date(date(2026, 12, 14), WHY)

    event = invoice.collect_events()[-1]
    assert isinstance(event, Invoice.DueDateChanged)
    assert (event.before, event.after) == (date(2026, 11, 14), date(2026, 12, 14))
    assert (event.actor, event.reason) == ("finance", "customer asked for 30 more days")
    assert event.timestamp == WHY.at
    assert invoice.due_date == date(2026, 12, 14)
    # overdue follows the new date; the lines and totals are as issued
    assert invoice.status(today=date(2026, 11, 20)) == "issued"
    assert invoice.status(today=date(2026, 12, 15)) == "overdue"
    assert invoice.totals.total == D("120.00")


def test_the_new_due_date_survives_a_replay_of_the_events():
    invoice = issued()
    invoice.change_due_date(date(2027, 1, 31), WHY)
    events = [*invoice.collect_events()]
    again = None
    for event in events:
        again = event.mutate(again)
    assert isinstance(again, Invoice) and again.due_date == date(2027, 1, 31)


def test_changing_an_issued_invoices_dates_points_at_the_due_date_not_at_lines():
    invoice = issued()
    with pytest.raises(InvoiceNotEditable, match="only its due date"):
        invoice.change_dates(DatesChanges(due_date=date(2026, 12, 1)), STAMP)


@pytest.mark.parametrize(
    ("stamp", "due", "error", "field"),
    [
        (Stamp("f", WHY.at, None), date(2026, 12, 14), InvalidInput, "reason"),
        (Stamp("f", WHY.at, "   "), date(2026, 12, 14), InvalidInput, "reason"),
        (WHY, date(2026, 10, 30), InvalidInput, "due_date"),  # before the invoice date
        (WHY, date(2026, 11, 14), InvalidInput, "due_date"),  # the same day: nothing changes
        (WHY, date(2100, 1, 1), OutOfRange, "due_date"),  # beyond the ledger's dates
    ],
)
def test_a_new_due_date_is_refused_without_a_reason_or_out_of_range(stamp, due, error, field):
    invoice = issued()
    invoice.collect_events()
    with pytest.raises(error) as raised:
        invoice.change_due_date(due, stamp)
    assert raised.value.field == field
    assert invoice.collect_events() == [] and invoice.due_date == date(2026, 11, 14)


def test_a_draft_a_void_and_a_settled_invoice_refuse_a_new_due_date_clearly():
    drafted = draft()
    drafted.add_line(line(), STAMP)
    void = issued()
    void.void(Stamp("f", WHY.at, "wrong customer"))
    paid = issued()
    paid.apply_payment(uuid4(), D("120.00"), STAMP)
    credited = issued()
    credited.record_credit(uuid4(), "CN-1", D("120.00"), STAMP)

    for invoice, words in [
        (drafted, "is a draft"),
        (void, "is void"),
        (paid, "is paid: nothing is owed"),
        (credited, "is credited: nothing is owed"),
    ]:
        assert not invoice.due_date_movable
        with pytest.raises(InvalidState, match=words):
            invoice.change_due_date(date(2026, 12, 31), WHY)
    assert issued().due_date_movable


def test_an_invoice_reduced_only_by_credit_notes_reads_credited_never_paid():
    invoice = issued()
    invoice.record_credit(uuid4(), "CN-1", D("20.00"), STAMP)
    assert invoice.status() == "partly_credited"
    assert invoice.status(today=date(2026, 12, 1)) == "overdue"
    invoice.apply_payment(uuid4(), D("10.00"), STAMP)
    assert invoice.status() == "partly_paid"  # money arrived: paid in part
    assert replay(invoice).status() == "partly_paid"

    credited = issued()
    credited.record_credit(uuid4(), "CN-1", D("120.00"), STAMP)
    assert credited.status() == "credited"


def test_every_status_the_rule_can_give_is_listed_once():
    given = {
        status("issued", D(1), D(0), D(0), date(2026, 1, 1)),
        status("issued", D(1), D(1), D(0), date(2026, 1, 1)),
        status("issued", D(1), D(0), D(1), date(2026, 1, 1)),
        status("issued", D(0), D(1), D(0), date(2026, 1, 1)),
        status("issued", D(0), D(0), D(1), date(2026, 1, 1)),
        status("issued", D(1), D(0), D(0), date(2026, 1, 1), date(2026, 2, 1)),
        status("draft", D(0), D(0), D(0), date(2026, 1, 1)),
        status("void", D(0), D(0), D(0), date(2026, 1, 1)),
    }
    assert given == set(STATUSES) and len(STATUSES) == len(set(STATUSES))


def test_voidable_says_what_void_accepts():
    invoice = issued()
    assert invoice.voidable
    invoice.record_credit(uuid4(), "CN-1", D("1.00"), STAMP)
    assert not invoice.voidable
    with pytest.raises(Exception):  # noqa: B017 - the refusal's own class is HasAllocations
        invoice.void(Stamp("f", WHY.at, "x"))
    assert not draft().voidable
