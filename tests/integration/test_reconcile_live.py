"""Reconcile under live writes: another thread keeps billing and a follower keeps moving the read
models while reconcile runs; it must never report a difference that is not there (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal as D

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.reconcile import reconcile
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
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline or len(results) < 4:
            heads.append(runner.head())
            results.append(reconcile(ledger, runner.store))
            if len(results) % 2:
                runner.catch_up()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not failures
    assert heads[-1] - heads[0] >= 20, "the writer should have been writing all along"
    assert [r for r in results if r] == []

    # and it still catches a real difference afterwards
    runner.catch_up()
    execute(store_url, "UPDATE rm_balances SET received = '0.01' WHERE customer_account = 'BETA'")
    found = {(d.check, d.subject, d.field) for d in reconcile(ledger, runner.store)}
    assert ("balances", "BETA GBP", "received") in found
