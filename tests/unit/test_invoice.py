"""Invoice aggregate: given events, when a command, then new events (or a refusal)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder

from adapters.ledger.event_mapper import PydanticMapper
from domain.aggregate import Stamp
from domain.changes import DatesChanges, LineChanges
from domain.errors import EmptyInvoice, HasAllocations, InvalidInput, InvoiceNotEditable
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine

STAMP = Stamp(actor="test", at=datetime(2026, 10, 1, tzinfo=UTC))
BILLING = BillingSnapshot(
    customer_name="Acme",
    customer_account="ACME",
    billing_address="1 Road",
    customer_tax_number="",
    seller_name="Seller",
    seller_address="",
    seller_tax_number="",
)


def line(description="Calls", quantity="1", price="10.00", rate="20") -> InvoiceLine:
    return InvoiceLine(
        line_id=uuid4(),
        description=description,
        quantity=D(quantity),
        unit_price=D(price),
        tax_rate=D(rate),
    )


def draft(lines: tuple[InvoiceLine, ...] = ()) -> Invoice:
    return Invoice.draft(
        uuid4(),
        customer_id=uuid4(),
        customer_account="ACME",
        currency="GBP",
        invoice_date=date(2026, 10, 31),
        due_date=date(2026, 11, 14),
        period_start=None,
        period_end=None,
        memo="",
        stamp=STAMP,
        lines=lines,
    )


def replay(invoice: Invoice) -> Invoice:
    state = None
    for event in invoice.collect_events():
        state = event.mutate(state)
    assert isinstance(state, Invoice)
    return state


def test_a_draft_takes_lines_and_issue_freezes_number_and_totals():
    invoice = draft()
    invoice.add_line(line(quantity="3", price="25.00"), STAMP)
    invoice.add_line(line(quantity="1234.5", price="0.0123"), STAMP)
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)

    events = invoice.collect_events()
    assert [type(e).__name__ for e in events] == ["Drafted", "LineAdded", "LineAdded", "Issued"]
    issued = events[-1]
    assert isinstance(issued, Invoice.Issued)
    assert (issued.net, issued.tax, issued.total) == (D("90.18"), D("18.04"), D("108.22"))
    assert invoice.status() == "issued" and invoice.outstanding == D("108.22")


def test_editing_a_line_records_before_and_after():
    invoice = draft()
    first = line()
    invoice.add_line(first, STAMP)
    invoice.edit_line(first.line_id, LineChanges.model_validate({"quantity": D("2")}), STAMP)
    edited = invoice.collect_events()[-1]
    assert isinstance(edited, Invoice.LineEdited)
    assert (edited.before.quantity, edited.after.quantity) == (D("1"), D("2"))


def test_an_issued_invoice_refuses_every_line_change():
    invoice = draft()
    first = line()
    invoice.add_line(first, STAMP)
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)
    for change in (
        lambda: invoice.add_line(line(), STAMP),
        lambda: invoice.edit_line(
            first.line_id, LineChanges.model_validate({"quantity": D("2")}), STAMP
        ),
        lambda: invoice.remove_line(first.line_id, STAMP),
        lambda: invoice.change_dates(DatesChanges(due_date=date(2026, 12, 1)), STAMP),
    ):
        with pytest.raises(InvoiceNotEditable):
            change()


def test_an_empty_draft_cannot_be_issued():
    with pytest.raises(EmptyInvoice):
        draft().issue("INV-1", date(2026, 10, 31), BILLING, STAMP)


@pytest.mark.parametrize(
    ("quantity", "price", "rate"),
    [("0", "1", "20"), ("-1", "1", "20"), ("1", "-1", "20"), ("1", "1", "101"), ("1", "1", "-1")],
)
def test_lines_with_impossible_figures_are_refused(quantity, price, rate):
    with pytest.raises(InvalidInput):
        draft().add_line(line(quantity=quantity, price=price, rate=rate), STAMP)


def test_void_needs_a_reason_and_nothing_allocated():
    invoice = draft()
    invoice.add_line(line(), STAMP)
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)
    with pytest.raises(InvalidInput):
        invoice.void(STAMP)
    payment_id = uuid4()
    invoice.apply_payment(payment_id, D("1.00"), STAMP)
    with pytest.raises(HasAllocations):
        invoice.void(Stamp("t", STAMP.at, "wrong customer"))
    invoice.unapply_payment(payment_id, D("1.00"), STAMP)
    invoice.void(Stamp("t", STAMP.at, "wrong customer"))
    assert invoice.status() == "void" and invoice.outstanding == 0


def test_status_is_derived_from_payments_credits_and_the_due_date():
    invoice = draft()
    invoice.add_line(line(price="100.00"), STAMP)  # 120.00 with tax
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)
    assert invoice.status(today=date(2026, 11, 15)) == "overdue"
    invoice.apply_payment(uuid4(), D("20.00"), STAMP)
    assert invoice.status(today=date(2026, 11, 1)) == "partly_paid"
    invoice.record_credit(uuid4(), "CN-1", D("100.00"), STAMP)
    assert invoice.outstanding == 0 and invoice.status() == "paid"


def test_replaying_the_events_rebuilds_the_same_invoice():
    invoice = draft()
    invoice.add_line(line(), STAMP)
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)
    invoice.apply_payment(uuid4(), D("5.00"), STAMP)
    totals, outstanding, version = invoice.totals, invoice.outstanding, invoice.version
    rebuilt = replay(invoice)
    assert (rebuilt.totals, rebuilt.outstanding, rebuilt.version) == (totals, outstanding, version)
    assert rebuilt.billing == BILLING


def test_a_draft_opened_with_its_lines_is_one_event_and_takes_more_lines_like_any_draft():
    first, second = line(price="100.00"), line("Trunk", price="20.00")
    invoice = draft((first, second))
    invoice.add_line(line("Extra", price="1.00"), STAMP)
    invoice.issue("INV-1", date(2026, 10, 31), BILLING, STAMP)

    events = invoice.collect_events()
    assert [type(e).__name__ for e in events] == ["Drafted", "LineAdded", "Issued"]
    drafted = events[0]
    assert isinstance(drafted, Invoice.Drafted) and drafted.lines == (first, second)
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Invoice)
    assert [li.description for li in rebuilt.lines.values()] == ["Calls", "Trunk", "Extra"]
    assert rebuilt.totals.total == D("145.20") and rebuilt.version == 3


@pytest.mark.parametrize(
    ("quantity", "price", "rate"),
    [("0", "1", "20"), ("-1", "1", "20"), ("1", "-1", "20"), ("1", "1", "101"), ("1", "1", "-1")],
)
def test_a_draft_refuses_to_open_with_a_line_add_line_would_refuse(quantity, price, rate):
    with pytest.raises(InvalidInput):
        draft((line(), line(quantity=quantity, price=price, rate=rate)))


def test_a_draft_checks_each_line_as_written_though_an_earlier_line_shares_its_values():
    # the draft checks a value its lines share once; 20.00000 equals 20 but has 5 places
    with pytest.raises(InvalidInput, match="tax rate"):
        draft((line(rate="20"), line(rate="20.00000")))
    with pytest.raises(InvalidInput, match="line period"):
        draft((line(), line().model_copy(update={"period_start": date(1500, 1, 1)})))


def test_a_draft_refuses_to_open_with_two_lines_of_the_same_id():
    twice = line()
    with pytest.raises(InvalidInput):
        draft((twice, twice))


def test_a_drafted_event_stored_before_it_could_carry_lines_loads_with_none():
    invoice = draft()
    invoice.add_line(line(), STAMP)
    mapper = PydanticMapper(transcoder=JSONTranscoder())
    stored = [mapper.to_stored_event(event) for event in invoice.collect_events()]
    old_state = json.loads(stored[0].state)
    del old_state["lines"]  # exactly what a draft stored before the field existed holds
    stored[0] = dataclasses.replace(stored[0], state=json.dumps(old_state).encode())

    loaded = [mapper.to_domain_event(event) for event in stored]
    assert isinstance(loaded[0], Invoice.Drafted) and loaded[0].lines == ()
    rebuilt = None
    for event in loaded:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Invoice) and len(rebuilt.lines) == 1
    assert rebuilt.totals.total == D("12.00")
