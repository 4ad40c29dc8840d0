"""Prepaid and credit on SQLite and PostgreSQL: credit applied automatically when an invoice
is issued, top-ups, and the low prepaid balance notice (once, on the crossing)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.changes import CustomerChanges
from domain.customer import Customer
from tests.integration.billing import customer, paid
from tests.integration.billing_helpers_prepaid import draft, events_named


@pytest.fixture
def ledger(make_ledger):
    ledger = make_ledger()
    customer(ledger, "ACME")
    return ledger


def prepaid(ledger, threshold: str | None = None) -> None:
    changes = {"auto_apply_credit": True}
    if threshold is not None:
        changes["low_balance_threshold"] = {"amount": D(threshold), "currency": "GBP"}
    ledger.change_customer("ACME", CustomerChanges.model_validate(changes), "t")


def test_credit_is_applied_oldest_payment_first_in_the_issue_itself(ledger):
    prepaid(ledger)
    older = paid(ledger, "ACME", "50.00")  # top-ups: payments with no invoice
    newer = paid(ledger, "ACME", "100.00")
    number = ledger.issue_invoice(draft(ledger, "100.00"), "t")  # 120.00 with VAT

    invoice = ledger.invoice(number)
    assert invoice.outstanding == 0 and invoice.status() == "paid"
    assert invoice.allocations == {older: D("50.00"), newer: D("70.00")}
    assert ledger.payment(newer).unallocated == D("30.00")
    assert ledger.prepaid_balance("ACME") == D("30.00")
    # issued and paid in one save: the allocations are stamped with why they happened
    applied = events_named(ledger, "Payment.Allocated")
    assert {e.reason for e in applied} == {"customer credit applied on issue (auto_apply_credit)"}


def test_without_the_setting_credit_stays_unallocated(ledger):
    payment = paid(ledger, "ACME", "500.00")
    number = ledger.issue_invoice(draft(ledger, "100.00"), "t")
    assert ledger.invoice(number).outstanding == D("120.00")
    assert ledger.payment(payment).unallocated == D("500.00")


def test_an_invoice_larger_than_the_credit_is_paid_in_part(ledger):
    prepaid(ledger)
    paid(ledger, "ACME", "20.00")
    number = ledger.issue_invoice(draft(ledger, "100.00"), "t")
    assert ledger.invoice(number).outstanding == D("100.00")
    assert ledger.invoice(number).status() == "partly_paid"


def test_the_low_balance_notice_is_recorded_once_when_the_balance_crosses_below(ledger):
    prepaid(ledger, threshold="50.00")
    paid(ledger, "ACME", "200.00")
    ledger.issue_invoice(draft(ledger, "100.00"), "t")  # 200 -> 80: still above
    assert events_named(ledger, "Customer.PrepaidBalanceLow") == []
    ledger.issue_invoice(draft(ledger, "25.00"), "t")  # 80 -> 50: at the threshold
    assert events_named(ledger, "Customer.PrepaidBalanceLow") == []
    ledger.issue_invoice(draft(ledger, "10.00"), "t")  # 50 -> 38: crosses below
    [low] = events_named(ledger, "Customer.PrepaidBalanceLow")
    assert (low.balance, low.threshold, low.previous_balance) == (
        D("38.00"),
        D("50.00"),
        D("50.00"),
    )
    assert low.currency == "GBP"
    ledger.issue_invoice(draft(ledger, "10.00"), "t")  # 38 -> 26: still below, no new notice
    assert len(events_named(ledger, "Customer.PrepaidBalanceLow")) == 1
    paid(ledger, "ACME", "100.00")  # topped up: 126
    ledger.issue_invoice(draft(ledger, "80.00"), "t")  # 126 -> 30: crosses again
    assert len(events_named(ledger, "Customer.PrepaidBalanceLow")) == 2


def test_a_refund_or_a_manual_allocation_that_crosses_below_records_it_too(ledger):
    prepaid(ledger, threshold="100.00")
    payment = paid(ledger, "ACME", "150.00")
    ledger.refund_payment(payment, D("40.00"), "t")  # 150 -> 110
    assert events_named(ledger, "Customer.PrepaidBalanceLow") == []
    ledger.refund_payment(payment, D("20.00"), "t")  # 110 -> 90
    assert len(events_named(ledger, "Customer.PrepaidBalanceLow")) == 1
    second = paid(ledger, "ACME", "100.00")  # 190
    ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"auto_apply_credit": False}), "t"
    )
    number = ledger.issue_invoice(draft(ledger, "100.00"), "t")
    ledger.allocate(second, [(number, D("100.00"))], "t")  # 190 -> 90
    assert len(events_named(ledger, "Customer.PrepaidBalanceLow")) == 2


def test_the_customer_shows_its_credit_settings(ledger):
    prepaid(ledger, threshold="25.50")
    profile = ledger.customer("ACME").latest
    assert profile.auto_apply_credit and profile.low_balance_threshold is not None
    assert profile.low_balance_threshold.model_dump() == {"amount": D("25.50"), "currency": "GBP"}
    assert isinstance(ledger.customer("ACME"), Customer)
