"""The application service's rules, on in-memory persistence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.ledger.folds import LogFolds
from domain.changes import CustomerChanges
from domain.credit_note import CreditLine
from domain.errors import (
    AlreadyExists,
    CurrencyMismatch,
    CustomerMismatch,
    DuplicateIdempotencyKey,
    HasAllocations,
    InvalidInput,
    InvalidState,
    NotFound,
    OverAllocation,
    OverCredit,
    PaymentNotCompleted,
)
from tests.helpers import completed_payment, customer, event_count, issued_invoice


def test_invoice_from_a_package_autocompletes_quantity_price_and_tax(memory_ledger):
    customer(memory_ledger, rate="20")
    memory_ledger.define_package(
        "t", name="DID", unit_price=D("1.50"), currency="GBP", default_quantity=D("10")
    )
    memory_ledger.define_package(
        "t",
        name="Zero-rated",
        unit_price=D("5"),
        currency="GBP",
        tax_rate=D("0"),
        tax_description="Exempt",
    )
    invoice_id = memory_ledger.create_invoice("ACME", "t")
    memory_ledger.add_package_line(invoice_id, "DID", "t")
    memory_ledger.add_package_line(invoice_id, "DID", "t", quantity=D("3"), unit_price=D("1.00"))
    memory_ledger.add_package_line(invoice_id, "Zero-rated", "t")
    lines = list(memory_ledger.invoice(invoice_id).lines.values())
    assert [(ln.quantity, ln.unit_price, ln.tax_rate) for ln in lines] == [
        (D("10"), D("1.50"), D("20")),
        (D("3"), D("1.00"), D("20")),
        (D("1"), D("5"), D("0")),
    ]
    assert lines[2].tax_description == "Exempt"


def test_a_package_in_another_currency_never_lands_on_an_invoice(memory_ledger):
    customer(memory_ledger, currency="EUR")
    memory_ledger.define_package("t", name="GBP trunk", unit_price=D("1"), currency="GBP")
    invoice_id = memory_ledger.create_invoice("ACME", "t")
    with pytest.raises(CurrencyMismatch):
        memory_ledger.add_package_line(invoice_id, "GBP trunk", "t")
    with pytest.raises(CurrencyMismatch):
        memory_ledger.assign_package("ACME", "GBP trunk", "t", start_date=date(2026, 10, 1))


def test_numbers_are_consecutive_and_restart_each_year(memory_ledger, clock):
    customer(memory_ledger)
    first, second = issued_invoice(memory_ledger), issued_invoice(memory_ledger)
    assert (first, second) == ("INV-2026-000001", "INV-2026-000002")
    clock.advance(days=100)  # into 2027
    assert issued_invoice(memory_ledger) == "INV-2027-000001"


def test_a_failed_issue_takes_no_number(memory_ledger):
    customer(memory_ledger)
    empty = memory_ledger.create_invoice("ACME", "t")
    with pytest.raises(Exception, match="no lines"):
        memory_ledger.issue_invoice(empty, "t")
    assert issued_invoice(memory_ledger) == "INV-2026-000001"


def test_one_payment_across_two_invoices_leaves_credit(memory_ledger):
    customer(memory_ledger)
    first, second = (
        issued_invoice(memory_ledger, net="100.00"),
        issued_invoice(memory_ledger, net="50.00"),
    )
    payment = completed_payment(memory_ledger, amount="200.00")
    memory_ledger.allocate(payment, [(first, D("120.00")), (second, D("30.00"))], "t")
    assert memory_ledger.invoice(first).status() == "paid"
    assert memory_ledger.invoice(second).outstanding == D("30.00")
    assert memory_ledger.payment(payment).unallocated == D("50.00")


def test_allocation_is_all_or_nothing(memory_ledger):
    customer(memory_ledger)
    first, second = issued_invoice(memory_ledger), issued_invoice(memory_ledger)
    payment = completed_payment(memory_ledger, amount="200.00")
    before = event_count(memory_ledger)
    with pytest.raises(OverAllocation):
        memory_ledger.allocate(payment, [(first, D("100.00")), (second, D("100.01"))], "t")
    assert event_count(memory_ledger) == before
    assert memory_ledger.payment(payment).allocated == 0


def test_over_allocation_of_payment_or_invoice_is_refused(memory_ledger):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger, net="100.00")  # 120.00
    small = completed_payment(memory_ledger, amount="50.00")
    big = completed_payment(memory_ledger, amount="500.00")
    with pytest.raises(OverAllocation, match="unallocated on the payment"):
        memory_ledger.allocate(small, [(invoice, D("50.01"))], "t")
    with pytest.raises(OverAllocation, match="outstanding"):
        memory_ledger.allocate(big, [(invoice, D("120.01"))], "t")


def test_pending_and_cancelled_payments_cannot_be_allocated(memory_ledger):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger)
    pending = memory_ledger.record_payment("ACME", "t", amount=D("10"))
    with pytest.raises(PaymentNotCompleted):
        memory_ledger.allocate(pending, [(invoice, D("1"))], "t")
    memory_ledger.cancel_payment(pending, "t", "bounced")
    with pytest.raises(PaymentNotCompleted):
        memory_ledger.allocate(pending, [(invoice, D("1"))], "t")
    with pytest.raises(InvalidState):
        memory_ledger.complete_payment(pending, "t")


def test_allocations_never_cross_customers_or_currencies(memory_ledger):
    customer(memory_ledger, "ACME", "GBP")
    customer(memory_ledger, "OTHER", "GBP")
    invoice = issued_invoice(memory_ledger, "OTHER")
    payment = completed_payment(memory_ledger, "ACME")
    with pytest.raises(CustomerMismatch):
        memory_ledger.allocate(payment, [(invoice, D("1"))], "t")
    with pytest.raises(CurrencyMismatch):
        memory_ledger.record_payment("ACME", "t", amount=D("1"), currency="EUR")


def test_unallocate_returns_money_to_credit_and_allows_void(memory_ledger):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger)
    payment = completed_payment(memory_ledger, amount="120.00")
    memory_ledger.allocate(payment, [(invoice, D("120.00"))], "t")
    with pytest.raises(HasAllocations):
        memory_ledger.void_invoice(invoice, "t", "raised in error")
    with pytest.raises(InvalidInput, match="reason"):
        memory_ledger.unallocate(payment, invoice, D("120.00"), "t", "")
    memory_ledger.unallocate(payment, invoice, D("120.00"), "t", "raised in error")
    memory_ledger.void_invoice(invoice, "t", "raised in error")
    assert memory_ledger.invoice(invoice).status() == "void"
    assert memory_ledger.payment(payment).unallocated == D("120.00")


def test_refund_only_of_unallocated_credit(memory_ledger):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger)
    payment = completed_payment(memory_ledger, amount="150.00")
    memory_ledger.allocate(payment, [(invoice, D("120.00"))], "t")
    with pytest.raises(OverAllocation):
        memory_ledger.refund_payment(payment, D("30.01"), "t")
    memory_ledger.refund_payment(payment, D("30.00"), "t", reference="RF-1")
    assert memory_ledger.payment(payment).unallocated == 0


def test_credit_notes_are_numbered_linked_and_reduce_what_is_owed(memory_ledger):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger)  # 120.00
    number = memory_ledger.issue_credit_note(invoice, "t", "outage", amount=D("10.00"))
    assert number == "CN-2026-000001"
    note = memory_ledger.credit_note(number)
    assert (note.invoice_number, note.totals.total) == (invoice, D("12.00"))
    assert memory_ledger.invoice(invoice).outstanding == D("108.00")
    with pytest.raises(OverCredit):
        memory_ledger.issue_credit_note(invoice, "t", "again", amount=D("90.01"))
    with pytest.raises(InvalidInput, match="reason"):
        memory_ledger.issue_credit_note(invoice, "t", "", amount=D("1.00"))
    memory_ledger.issue_credit_note(
        invoice,
        "t",
        "rest",
        lines=[
            CreditLine.model_validate(
                {
                    "description": "rest",
                    "quantity": D("1"),
                    "unit_price": D("90.00"),
                    "tax_rate": D("20"),
                }
            )
        ],
    )
    assert memory_ledger.invoice(invoice).status() == "credited"


def test_the_same_idempotency_key_records_one_payment(memory_ledger):
    customer(memory_ledger)
    first = memory_ledger.record_payment("ACME", "t", amount=D("10"), idempotency_key="bank:1")
    with pytest.raises(DuplicateIdempotencyKey) as refused:
        memory_ledger.record_payment("ACME", "t", amount=D("10"), idempotency_key="bank:1")
    assert refused.value.existing_id == str(first)
    assert len(LogFolds(memory_ledger).payments("ACME")) == 1


def test_customer_changes_take_effect_from_their_date_and_spare_issued_invoices(
    memory_ledger, clock
):
    customer(memory_ledger)
    invoice = issued_invoice(memory_ledger)
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"billing_address": "New Road 2"}), "t"
    )
    memory_ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"tax_rate": D("5")}),
        "t",
        effective_from=date(2027, 1, 1),
    )
    acme = memory_ledger.customer("ACME")
    assert acme.profile_on(date(2026, 12, 31)).tax_rate == D("20")
    assert acme.profile_on(date(2027, 1, 1)).tax_rate == D("5")
    billing = memory_ledger.invoice(invoice).billing
    assert billing is not None and billing.billing_address == ""
    with pytest.raises(InvalidInput, match="currency"):
        memory_ledger.change_customer(
            "ACME", CustomerChanges.model_validate({"currency": "EUR"}), "t"
        )


def test_duplicates_and_unknowns_are_named(memory_ledger):
    customer(memory_ledger)
    with pytest.raises(AlreadyExists):
        customer(memory_ledger)
    for lookup in (
        memory_ledger.customer,
        memory_ledger.invoice,
        memory_ledger.payment,
        memory_ledger.package,
    ):
        with pytest.raises(NotFound):
            lookup("NOPE-123456")


def test_as_of_shows_the_invoice_as_it_stood(memory_ledger, clock):
    customer(memory_ledger)
    invoice_id = memory_ledger.create_invoice("ACME", "t")
    memory_ledger.add_line(invoice_id, "t", description="A", quantity=D("1"), unit_price=D("1"))
    moment = clock.advance(hours=1)
    clock.advance(hours=1)
    memory_ledger.add_line(invoice_id, "t", description="B", quantity=D("1"), unit_price=D("1"))
    memory_ledger.issue_invoice(invoice_id, "t")
    from domain.invoice import Invoice

    then = memory_ledger.as_of(Invoice, invoice_id, at=moment)
    assert (then.state, len(then.lines)) == ("draft", 1)
    assert memory_ledger.as_of(Invoice, invoice_id, version=3).state == "draft"
    assert memory_ledger.invoice(invoice_id).state == "issued"


def test_each_kind_of_customer_change_is_its_own_event(memory_ledger):
    customer_id = customer(memory_ledger)
    memory_ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate(
            {
                "billing_address": "2 Road",
                "tax_rate": D("5"),
                "payment_terms_days": 30,
                "invoice_line_grouping": "day",
                "external_accounting_id": "X-1",
                "time_zone": "Europe/Paris",
            }
        ),
        "t",
        reason="new contract",
    )
    kinds = [type(e).__name__ for e in memory_ledger.events_of(customer_id)]
    assert kinds == [
        "Registered",
        "BillingDetailsChanged",
        "TaxChanged",
        "PaymentTermsChanged",
        "LineGroupingChanged",
        "AccountingIdChanged",
        "TimeZoneChanged",
    ]
    latest = memory_ledger.customer("ACME").latest
    assert (latest.time_zone, latest.invoice_line_grouping, latest.tax_rate) == (
        "Europe/Paris",
        "day",
        D("5"),
    )
    with pytest.raises(InvalidInput, match="time zone"):
        memory_ledger.change_customer(
            "ACME", CustomerChanges.model_validate({"time_zone": "Mars/Olympus"}), "t"
        )
