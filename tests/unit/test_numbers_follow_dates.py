"""Invoice numbers and dates agree: the year of the number is the invoice date's, and within a
sequence numbers never go back in date (docs/lifecycle.md, "Numbers and dates")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from domain.changes import DatesChanges, SettingsChanges
from domain.errors import NumberOutOfDateOrder
from tests.helpers import customer, event_count


def _draft(ledger, day: date) -> str:
    invoice_id = ledger.create_invoice("ACME", "t", invoice_date=day)
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(1), unit_price=D(10))
    return invoice_id


def test_an_invoice_dated_31_december_issued_in_january_takes_a_number_of_its_year(
    memory_ledger, clock
):
    customer(memory_ledger)
    clock.set(datetime(2026, 12, 31, 9, tzinfo=UTC))
    first = memory_ledger.issue_invoice(_draft(memory_ledger, date(2026, 12, 30)), "t")
    late = _draft(memory_ledger, date(2026, 12, 31))
    clock.set(datetime(2027, 1, 4, 9, tzinfo=UTC))
    january = _draft(memory_ledger, date(2027, 1, 4))
    assert memory_ledger.issue_invoice(january, "t") == "INV-2027-000001"
    assert memory_ledger.issue_invoice(late, "t") == "INV-2026-000002"
    assert first == "INV-2026-000001"
    issued = memory_ledger.invoice("INV-2026-000002")
    assert (issued.invoice_date, issued.issued_on) == (date(2026, 12, 31), date(2027, 1, 4))


def test_an_invoice_dated_before_the_latest_numbered_is_refused_until_redated(memory_ledger, clock):
    customer(memory_ledger)
    clock.set(datetime(2026, 11, 2, 9, tzinfo=UTC))
    older = _draft(memory_ledger, date(2026, 11, 1))
    newer = _draft(memory_ledger, date(2026, 11, 2))
    assert memory_ledger.issue_invoice(newer, "t") == "INV-2026-000001"
    events = event_count(memory_ledger)
    with pytest.raises(NumberOutOfDateOrder) as refused:
        memory_ledger.issue_invoice(older, "t")
    assert refused.value.field == "invoice_date"
    assert "2026-11-01" in str(refused.value) and "2026-11-02" in str(refused.value)
    assert event_count(memory_ledger) == events  # no number taken, nothing issued
    memory_ledger.change_invoice_dates(older, DatesChanges(invoice_date=date(2026, 11, 2)), "t")
    assert memory_ledger.issue_invoice(older, "t") == "INV-2026-000002"
    # the same day twice is in order
    assert memory_ledger.issue_invoice(_draft(memory_ledger, date(2026, 11, 2)), "t") == (
        "INV-2026-000003"
    )


def test_a_format_without_the_year_is_one_sequence_in_date_order_across_years(memory_ledger, clock):
    customer(memory_ledger)
    memory_ledger.change_settings(SettingsChanges(invoice_number_format="N{seq:04d}"), "t")
    clock.set(datetime(2027, 1, 5, 9, tzinfo=UTC))
    assert memory_ledger.issue_invoice(_draft(memory_ledger, date(2027, 1, 5)), "t") == "N0001"
    with pytest.raises(NumberOutOfDateOrder):
        memory_ledger.issue_invoice(_draft(memory_ledger, date(2026, 12, 31)), "t")


def test_credit_notes_are_numbered_in_the_year_they_are_issued(memory_ledger, clock):
    customer(memory_ledger)
    clock.set(datetime(2026, 12, 31, 9, tzinfo=UTC))
    number = memory_ledger.issue_invoice(_draft(memory_ledger, date(2026, 12, 31)), "t")
    clock.set(datetime(2027, 1, 2, 9, tzinfo=UTC))
    note = memory_ledger.issue_credit_note(number, "t", "refund", amount=D(1))
    assert note == "CN-2027-000001"
