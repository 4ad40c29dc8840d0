"""Property tests: random command sequences never break the money invariants, and replaying
the stored events always rebuilds the same state."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.views import invoice_doc, payment_doc
from domain.errors import BillingError
from domain.invoice import Invoice
from domain.payment import Payment
from projections.balances import Balances

ACCOUNTS = ("ACME", "BETA")
amounts = st.decimals(min_value=D("0.01"), max_value=D("300"), places=2)
pick = st.integers(min_value=0, max_value=50)

commands = st.one_of(
    st.tuples(st.just("invoice"), st.sampled_from(ACCOUNTS), amounts, st.booleans()),
    st.tuples(st.just("pay"), st.sampled_from(ACCOUNTS), amounts, st.booleans()),
    st.tuples(st.just("complete"), pick),
    st.tuples(st.just("cancel"), pick),
    st.tuples(st.just("allocate"), pick, pick, amounts),
    st.tuples(st.just("unallocate"), pick, pick, amounts),
    st.tuples(st.just("credit"), pick, amounts),
    st.tuples(st.just("void"), pick),
    st.tuples(st.just("refund"), pick, amounts),
)


def run(ledger: Ledger, command: tuple, invoices: list, payments: list) -> None:
    kind = command[0]
    if kind == "invoice":
        _, account, net, issue = command
        invoice_id = ledger.create_invoice(account, "p")
        ledger.add_line(invoice_id, "p", description="x", quantity=D("1"), unit_price=net)
        invoices.append(ledger.issue_invoice(invoice_id, "p") if issue else invoice_id)
    elif kind == "pay":
        _, account, amount, completed = command
        status = "completed" if completed else "pending"
        payments.append(ledger.record_payment(account, "p", amount=amount, status=status))
    elif (not payments and kind in ("complete", "cancel", "allocate", "unallocate", "refund")) or (
        not invoices and kind in ("allocate", "unallocate", "credit", "void")
    ):
        return
    elif kind == "complete":
        ledger.complete_payment(payments[command[1] % len(payments)], "p")
    elif kind == "cancel":
        ledger.cancel_payment(payments[command[1] % len(payments)], "p", "r")
    elif kind == "allocate":
        ledger.allocate(
            payments[command[1] % len(payments)],
            [(invoices[command[2] % len(invoices)], command[3])],
            "p",
        )
    elif kind == "unallocate":
        ledger.unallocate(
            payments[command[1] % len(payments)],
            invoices[command[2] % len(invoices)],
            command[3],
            "p",
            "r",
        )
    elif kind == "credit":
        ledger.issue_credit_note(invoices[command[1] % len(invoices)], "p", "r", amount=command[2])
    elif kind == "void":
        ledger.void_invoice(invoices[command[1] % len(invoices)], "p", "r")
    elif kind == "refund":
        ledger.refund_payment(payments[command[1] % len(payments)], command[2], "p")


def check_invariants(ledger: Ledger) -> None:
    all_invoices = LogFolds(ledger).invoices()
    all_payments = LogFolds(ledger).payments()
    from_payments: dict[tuple, D] = {}
    for payment in all_payments:
        assert 0 <= payment.allocated + payment.refunded <= payment.amount
        if payment.status != "completed":
            assert payment.allocated == 0 and payment.refunded == 0
        for invoice_id, amount in payment.allocations.items():
            assert amount > 0
            from_payments[(payment.id, invoice_id)] = amount
    from_invoices: dict[tuple, D] = {}
    for invoice in all_invoices:
        assert invoice.allocated + invoice.credited <= invoice.totals.total
        assert invoice.outstanding >= 0
        for payment_id, amount in invoice.allocations.items():
            from_invoices[(payment_id, invoice.id)] = amount
            payment = ledger.payment(payment_id)
            assert payment.details.customer_id == invoice.customer_id
            assert payment.currency == invoice.currency
    assert from_payments == from_invoices
    numbers = sorted(int(i.number.rsplit("-", 1)[1]) for i in all_invoices if i.number)
    assert numbers == list(range(1, len(numbers) + 1))
    # Replaying every aggregate's stored events gives back exactly the current state.
    for invoice in all_invoices:
        assert invoice_doc(ledger.as_of(Invoice, invoice.id)) == invoice_doc(invoice)
    for payment in all_payments:
        assert payment_doc(ledger.as_of(Payment, payment.id)) == payment_doc(payment)
    # The balance fold agrees with the aggregates.
    balances = Balances().fold(event for _, event in ledger.all_events())
    for row in balances.all():
        mine = [i for i in all_invoices if i.customer_account == row.customer_account]
        assert row.outstanding == sum((i.outstanding for i in mine), D(0))
        theirs = [p for p in all_payments if p.details.customer_account == row.customer_account]
        assert row.unallocated == sum((p.unallocated for p in theirs), D(0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=25))
def test_random_command_sequences_never_break_the_money_invariants(sequence):
    ledger = build_ledger("memory://", clock=SteppingClock(datetime(2026, 10, 1, tzinfo=UTC)))
    for account in ACCOUNTS:
        ledger.register_customer(
            "p",
            account_number=account,
            name=account,
            currency="GBP",
            tax_rate=D("20"),
            tax_description="VAT",
            payment_terms_days=7,
        )
    invoices: list = []
    payments: list = []
    for command in sequence:
        # A refused command must leave no trace: the invariants below prove it.
        with contextlib.suppress(BillingError):
            run(ledger, command, invoices, payments)
    check_invariants(ledger)
