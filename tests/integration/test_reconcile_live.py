"""Reconcile under live writes: another thread keeps billing and a follower keeps moving the read
models while reconcile runs; it must never report a difference that is not there (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.reconcile import reconcile
from domain.invoice import Invoice
from domain.payment import Payment
from projections.runner import all_projections
from tests.integration.billing import customer, execute, issued_invoice, paid, runner_for


def test_reconcile_finds_nothing_while_another_thread_writes(make_ledger, store_url):
    ledger = make_ledger()
    customer(ledger, "ACME")
    customer(ledger, "BETA")
    issued_invoice(ledger, "ACME", "10.00")
    runner = runner_for(ledger, store_url)
    runner.catch_up()
    follower = runner_for(make_ledger(), store_url, batch_size=5)  # as a service would
    stop = threading.Event()
    failures: list[BaseException] = []

    def bill() -> None:
        writer = build_ledger(store_url, clock=SteppingClock(datetime(2026, 11, 1, tzinfo=UTC)))
        try:
            n = 0
            while not stop.is_set():
                account = ("ACME", "BETA")[n % 2]
                number = issued_invoice(writer, account, f"{n % 7 + 1}.00")
                payment = paid(writer, account, "5.00")
                writer.allocate(payment, [(number, D("1.00"))], "t")
                n += 1
        except BaseException as error:
            failures.append(error)
        finally:
            writer.close()

    threads = [
        threading.Thread(target=bill),
        threading.Thread(target=follower.follow, args=(stop, 0.01)),
    ]
    for thread in threads:
        thread.start()
    results, heads = [], []
    try:
        # at least 1.5 s and 4 rounds, and until the writer has added 30 events meanwhile
        deadline, give_up = time.monotonic() + 1.5, time.monotonic() + 60
        while time.monotonic() < give_up and not failures:
            heads.append(runner.head())
            results.append(reconcile(ledger, runner.store))
            if len(results) % 2:
                runner.catch_up()
            if time.monotonic() > deadline and len(results) >= 4 and heads[-1] - heads[0] >= 30:
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not failures, failures
    assert heads[-1] - heads[0] >= 30, f"the writer should have been writing: {heads}"
    assert [r for r in results if r] == [], f"{len(results)} rounds, heads {heads}"

    # and it still catches a real difference afterwards
    runner.catch_up()
    execute(store_url, "UPDATE rm_balances SET received = '0.01' WHERE customer_account = 'BETA'")
    found = {(d.check, d.subject, d.field) for d in reconcile(ledger, runner.store)}
    assert ("balances", "BETA GBP", "received") in found


class StopHere(Exception):
    """Ends a catch-up after its first batch, as a killed runner would."""


def test_reconcile_finds_nothing_when_read_models_stopped_inside_a_save(ledger, store_url):
    customer(ledger, "ACME")
    number = issued_invoice(ledger, "ACME", "100.00")
    payment = paid(ledger, "ACME", "150.00")
    ledger.allocate(payment, [(number, D("40.00"))], "t")  # one save: payment, then invoice
    events = list(ledger.all_events())
    allocated = next(i for i, (_, e) in enumerate(events) if isinstance(e, Payment.Allocated))
    assert isinstance(events[allocated + 1][1], Invoice.PaymentApplied)
    position = events[allocated][0]
    followed = {cls for projection in all_projections() for cls in projection.follows}
    # a batch exactly as long as the followed events up to the payment's half of the save
    batch = sum(1 for at, e in events if at <= position and type(e) in followed)
    runner = runner_for(ledger, store_url, batch_size=batch)

    def stop(reached: int, head: int) -> None:
        raise StopHere

    with pytest.raises(StopHere):
        runner.catch_up(progress=stop)
    tracking = runner.store.tracking([p.name for p in all_projections()])
    assert {t.position for t in tracking.values()} == {position}

    assert reconcile(ledger, runner.store) == []
    runner.catch_up()
    assert reconcile(ledger, runner.store) == []
