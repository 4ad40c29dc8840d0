"""Crediting a paid or partly paid invoice: the credit takes what is outstanding, the rest of
it is released from the payments' allocations and becomes customer credit, in one save."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.changes import CustomerChanges
from domain.errors import OverCredit
from domain.invoice import Invoice
from domain.payment import Payment
from tests.helpers import completed_payment, customer, event_count, issued_invoice


def test_a_partly_paid_invoice_credited_in_full_leaves_the_paid_part_as_customer_credit(
    memory_ledger,
):
    customer(memory_ledger)
    number = issued_invoice(memory_ledger)  # 120.00
    payment = completed_payment(memory_ledger, amount="50.00")
    memory_ledger.allocate(payment, [(number, D("50.00"))], "t")
    before = event_count(memory_ledger)

    memory_ledger.issue_credit_note(number, "t", "cancelled service", full=True)

    invoice = memory_ledger.invoice(number)
    assert (invoice.credited, invoice.allocated, invoice.outstanding) == (D("120.00"), 0, 0)
    assert invoice.status() == "credited"
    assert memory_ledger.payment(payment).unallocated == D("50.00")
    new = [type(e).__qualname__ for _, e in list(memory_ledger.all_events())[before:]]
    # released before credited: the invoice never shows a negative outstanding
    assert new.index("Invoice.PaymentUnapplied") < new.index("Invoice.Credited")
    assert "Payment.Unallocated" in new


def test_the_latest_allocation_is_released_first_and_only_what_exceeds_the_outstanding(
    memory_ledger,
):
    customer(memory_ledger)
    number = issued_invoice(memory_ledger)  # 120.00
    first = completed_payment(memory_ledger, amount="60.00")
    second = completed_payment(memory_ledger, amount="40.00")
    memory_ledger.allocate(first, [(number, D("60.00"))], "t")
    memory_ledger.allocate(second, [(number, D("40.00"))], "t")  # 20.00 outstanding

    memory_ledger.issue_credit_note(number, "t", "discount", amount=D("50.00"))  # 60.00 gross

    invoice = memory_ledger.invoice(number)
    assert invoice.outstanding == 0
    assert memory_ledger.payment(second).unallocated == D("40.00")
    assert memory_ledger.payment(first).unallocated == 0
    assert invoice.allocations == {first: D("60.00")}


def test_a_credit_beyond_what_was_never_credited_is_refused_and_writes_nothing(memory_ledger):
    customer(memory_ledger)
    number = issued_invoice(memory_ledger)  # 120.00
    payment = completed_payment(memory_ledger, amount="120.00")
    memory_ledger.allocate(payment, [(number, D("120.00"))], "t")
    memory_ledger.issue_credit_note(number, "t", "part", amount=D("50.00"))  # 60.00
    before = event_count(memory_ledger)
    with pytest.raises(OverCredit, match=r"60\.00 GBP of .* not credited yet"):
        memory_ledger.issue_credit_note(number, "t", "again", full=True)
    assert event_count(memory_ledger) == before
    assert memory_ledger.payment(payment).unallocated == D("60.00")


def test_customer_credit_equals_the_sum_of_unallocated_payments_after_a_release(memory_ledger):
    customer(memory_ledger)
    number = issued_invoice(memory_ledger)
    payment = completed_payment(memory_ledger, amount="150.00")
    memory_ledger.allocate(payment, [(number, D("120.00"))], "t")
    memory_ledger.issue_credit_note(number, "t", "refunded service", full=True)
    paid = memory_ledger.payment(payment)
    invoice = memory_ledger.invoice(number)
    assert isinstance(paid, Payment) and isinstance(invoice, Invoice)
    assert paid.unallocated == D("150.00") and paid.allocated <= paid.amount
    assert invoice.outstanding >= 0


def test_without_read_models_credit_is_found_by_a_scan_of_the_log(memory_ledger):
    customer(memory_ledger)
    customer(memory_ledger, "OTHER")
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"auto_apply_credit": True}), "t"
    )
    completed_payment(memory_ledger, "OTHER", amount="500.00")  # another customer's credit
    mine = completed_payment(memory_ledger, amount="30.00")
    number = issued_invoice(memory_ledger)  # 120.00
    assert memory_ledger.invoice(number).allocations == {mine: D("30.00")}
    assert memory_ledger.prepaid_balance("OTHER") == D("500.00")
