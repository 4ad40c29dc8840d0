# ruff: noqa: E402  (imports follow the sys.path fix below)
"""Rebuild speed of the read models against the raw read rate, and live lag under writes.

    .venv/bin/python bench/projections.py                   # 30,000 events, SQLite
    .venv/bin/python bench/projections.py --events 1000000  # the issue's full size
    .venv/bin/python bench/projections.py --repeat 3        # interleaved rounds, best kept
    .venv/bin/python bench/projections.py --db postgresql://postgres@127.0.0.1:5432/test?schema=bench

Prints events/s for (1) reading and decoding every event without applying it and (2) rebuilding
all read models from event zero, in the same run (also per CPU second, which a shared machine
disturbs less; the rebuild's second thread counts there too); then p50/p99 of commit -> visible in
the balances read model while a writer records payments at a steady rate and a follower runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is named like the ``projections`` package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import gc
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import uuid4

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.logging import configure_logging
from adapters.store.read_models import open_store
from domain import allocation
from domain.aggregate import Stamp
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine
from domain.payment import Payment, PaymentDetails
from projections.runner import REBUILD_BATCH_SIZE, Runner

BILLING = BillingSnapshot(
    customer_name="Bench Ltd",
    customer_account="BENCH",
    billing_address="",
    customer_tax_number="",
    seller_name="tollbook",
    seller_address="",
    seller_tax_number="",
)


def fill(ledger, events: int, customer_id, per_save: int = 200) -> None:
    """Invoices issued and paid: 6 events per invoice, ``per_save`` invoices per transaction."""
    clock = SteppingClock(datetime(2026, 1, 1, tzinfo=UTC))
    written, n = 0, 0
    while written < events:
        batch = []
        for _ in range(per_save):
            n += 1
            stamp = Stamp("bench", clock())
            invoice = Invoice.draft(
                uuid4(),
                customer_id=customer_id,
                customer_account="BENCH",
                currency="GBP",
                invoice_date=date(2026, 1, 1),
                due_date=date(2026, 1, 15),
                period_start=None,
                period_end=None,
                memo="",
                stamp=stamp,
            )
            invoice.add_line(
                InvoiceLine(
                    line_id=uuid4(),
                    description="Calls",
                    quantity=D(1),
                    unit_price=D("10.00"),
                    tax_rate=D(20),
                    tax_description="VAT",
                ),
                stamp,
            )
            invoice.issue(f"B-{n}", date(2026, 1, 1), BILLING, stamp)
            details = PaymentDetails(
                customer_id=customer_id,
                customer_account="BENCH",
                currency="GBP",
                amount=D("12.00"),
                received_on=date(2026, 1, 2),
            )
            payment = Payment.receive(uuid4(), details, "completed", stamp)
            allocation.allocate(payment, invoice, D("12.00"), stamp)
            batch += [invoice, payment]
        ledger.save(*batch)
        written += 6 * per_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=REBUILD_BATCH_SIZE,
        help="events per transaction (default: what `tollbook projections rebuild` uses)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="raw/rebuild rounds (best kept)")
    parser.add_argument("--lag-seconds", type=float, default=5.0)
    parser.add_argument("--writes-per-second", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging("warning")
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    ledger = build_ledger(url)
    customer = ledger.register_customer(
        "bench", account_number="BENCH", name="Bench Ltd", currency="GBP"
    )
    started = time.perf_counter()
    fill(ledger, args.events, customer)
    total = ledger.recorder.max_notification_id() or 0
    print(f"wrote {total} events in {time.perf_counter() - started:.1f}s ({url})")

    raws, rebuilds = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        # a fresh store each round: the last round's row caches (a million rows at a million
        # events) would otherwise stay alive and slow the raw read (the cyclic GC walks them)
        store = open_store(url, ledger.recorder.events_table_name)
        runner = Runner(ledger, store, batch_size=args.batch_size)
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        # the same page size as the rebuild reads with, so both pay the same round trips
        decoded = sum(1 for _ in ledger.all_events(page_size=args.batch_size))
        raw = decoded / (time.perf_counter() - started)
        raw_cpu = decoded / (time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        runner.rebuild()
        rebuild = total / (time.perf_counter() - started)
        rebuild_cpu = total / (time.process_time() - cpu)
        raws.append(raw)
        rebuilds.append(rebuild)
        print(
            f"raw read + decode {raw:9,.0f} events/s | rebuild all models {rebuild:9,.0f}"
            f" events/s = {rebuild / raw:.0%} of raw (target 50%)"
            f" | per CPU second (both threads): raw {raw_cpu:,.0f}, rebuild {rebuild_cpu:,.0f}"
        )
    if args.repeat > 1:
        best_raw, best_rebuild = max(raws), max(rebuilds)
        print(
            f"best of {args.repeat}: raw {best_raw:,.0f} events/s, rebuild {best_rebuild:,.0f}"
            f" events/s = {best_rebuild / best_raw:.0%} of raw"
        )

    lags = live_lag(ledger, runner, customer, args.lag_seconds, args.writes_per_second)
    if lags:
        q = statistics.quantiles(lags, n=100)
        print(
            f"live lag commit -> balance view: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"
            f" ({len(lags)} writes at {args.writes_per_second}/s)"
        )


def live_lag(ledger, runner: Runner, customer, seconds: float, rate: float) -> list[float]:
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, 0.05), daemon=True)
    follower.start()
    lags: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ledger.record_payment(customer, "bench", amount=D("1.00"), status="completed")
        committed = time.monotonic()
        position = ledger.recorder.max_notification_id()
        while runner.store.tracking(["balances"])["balances"].position < position:
            time.sleep(0.002)
        lags.append(time.monotonic() - committed)
        time.sleep(max(0.0, 1 / rate - lags[-1]))
    stop.set()
    follower.join()
    return lags


if __name__ == "__main__":
    main()
