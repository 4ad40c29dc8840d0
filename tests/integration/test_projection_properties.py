"""Property: for any sequence of billing commands, the read models equal a direct fold."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.reconcile import reconcile
from domain.errors import BillingError
from projections.balances import Balances
from projections.customer_balances import BALANCES
from tests.integration.billing import customer, runner_for

amounts = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)
# a share (percent) of what is available, so most generated commands are ones the ledger accepts
shares = st.integers(min_value=1, max_value=120)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("invoice"), amounts),
        st.tuples(st.just("pay"), amounts, st.booleans()),
        st.tuples(st.just("complete"), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("allocate"), st.integers(0, 5), st.integers(0, 5), shares),
        st.tuples(st.just("unallocate"), st.integers(0, 5), st.integers(0, 5), shares),
        st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 100)),
        st.tuples(st.just("credit"), st.integers(0, 5), shares),
        st.tuples(st.just("void"), st.integers(0, 5)),
        st.tuples(
            st.just("catch_up"),
        ),
    ),
    min_size=3,
    max_size=20,
)
accounts = itertools.count()


def share(amount: D, percent: int) -> D:
    return (amount * percent / 100).quantize(D("0.01"))


def run(ledger, runner, account: str, steps) -> None:
    invoices: list[str] = []
    payments = []
    for step in steps:
        kind, *args = step
        try:
            if kind == "invoice":
                invoice_id = ledger.create_invoice(account, "p")
                ledger.add_line(invoice_id, "p", description="x", quantity=D(1), unit_price=args[0])
                invoices.append(ledger.issue_invoice(invoice_id, "p"))
            elif kind == "pay":
                status = "completed" if args[1] else "pending"
                payments.append(ledger.record_payment(account, "p", amount=args[0], status=status))
            elif kind == "catch_up":
                runner.catch_up()  # part-way: later events must apply on top, exactly once
            elif not payments and kind in (
                "complete",
                "cancel",
                "refund",
                "allocate",
                "unallocate",
            ):
                continue
            elif kind == "complete":
                ledger.complete_payment(payments[args[0] % len(payments)], "p")
            elif kind == "cancel":
                ledger.cancel_payment(payments[args[0] % len(payments)], "p")
            elif kind == "refund":
                pay = ledger.payment(payments[args[0] % len(payments)])
                ledger.refund_payment(pay.id, share(pay.unallocated, args[1]), "p")
            elif not invoices:
                continue
            elif kind == "allocate":
                pay, inv = payments[args[0] % len(payments)], invoices[args[1] % len(invoices)]
                available = min(ledger.payment(pay).unallocated, ledger.invoice(inv).outstanding)
                ledger.allocate(pay, [(inv, share(available, args[2]))], "p")
            elif kind == "unallocate":
                pay, inv = payments[args[0] % len(payments)], invoices[args[1] % len(invoices)]
                allocated = ledger.invoice(inv).allocations.get(pay, D(0))
                ledger.unallocate(pay, inv, share(allocated, args[2]), "p", "property")
            elif kind == "credit":
                invoice = ledger.invoice(invoices[args[0] % len(invoices)])
                net = share(invoice.outstanding / D("1.2"), args[1])
                ledger.issue_credit_note(invoice.id, "p", "p", amount=net)
            elif kind == "void":
                ledger.void_invoice(invoices[args[0] % len(invoices)], "p", "property")
        except BillingError:
            pass  # a refused command records nothing: that is part of the property


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=commands)
def test_read_models_always_equal_a_direct_fold_of_the_events(ledger, store_url, steps):
    account = f"P{next(accounts)}"
    customer(ledger, account)
    runner = runner_for(ledger, store_url, batch_size=7)
    run(ledger, runner, account, steps)
    runner.catch_up()

    fold = Balances().fold(event for _, event in ledger.all_events())
    rows = {(r["customer_account"], r["currency"]): r for r in runner.store.select(BALANCES)}
    for expected in fold.all():
        row = rows[(expected.customer_account, expected.currency)]
        assert (row["invoiced"], row["credited"], row["received"]) == (
            expected.invoiced,
            expected.credited,
            expected.received,
        )
        assert (row["allocated"], row["refunded"], row["outstanding"]) == (
            expected.allocated,
            expected.refunded,
            expected.outstanding,
        )
    assert reconcile(ledger, runner.store) == []
