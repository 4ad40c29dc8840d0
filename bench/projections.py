"""Projection rebuild (both stores, 100k and 1M events): rebuilding every read model from event
zero against the event store's own paged read of the same events.

    .venv/bin/python -m bench.projections           # 100,000 and 1,000,000 events, both stores
    .venv/bin/python -m bench.projections --quick   # 20,000 and 100,000 events
    .venv/bin/python -m bench.projections --stores sqlite --lag   # and live lag under writes

ours       ``Runner.rebuild()`` of ALL read models, as ``tollbook projections rebuild`` runs it
           (same batch size, the store's tables reset by the rebuild itself each round, the
           secondary indexes built at the end), in events/s.
yardstick  the eventsourcing recorder's ``select_notifications`` over the same events in pages
           of the same size, and ``json.loads`` of every event's stored state: the least any
           reader of the log must do, in events/s.

Rounds alternate (ours, yardstick, ...), median of 3. Goals per store and size: ours >= 0.5x
the yardstick; and per store, the rebuild's cost per event at the larger size at most 1.2x its
cost at the smaller one (no cost that grows with the log: a scan per event, a missing index).
That line also shows the same comparison of ours relative to the yardstick's cost per event at
each size, which cancels a change of the machine's load between the two sizes.

The log is a billing mix (customers; invoices drafted with their lines as a billing run does,
or drafted and given lines by hand; issued; payments received, some pending then completed,
allocated in full or in part; credit notes, voids, un-allocations and refunds), built once
from real domain events: a template of a few hundred invoices is made with the aggregates'
own commands, and copies of its stored events with new ids and numbers are saved through the
ledger's recorder (hash chain included). The larger store is the smaller one extended.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import StoredEvent

from adapters.cli.rebuild_child import child_factory
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.logging import configure_logging
from adapters.store.read_models import open_store
from bench.harness import Goal, header, interleave, median, own_database, report
from domain import allocation
from domain.aggregate import Aggregate, Stamp
from domain.credit_note import credit_invoice
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine
from domain.payment import Payment, PaymentDetails
from projections.runner import REBUILD_BATCH_SIZE, Runner

ROUNDS = 3
TARGET_RATIO = 0.5
FLAT_LIMIT = 1.2
CUSTOMERS = 400
TEMPLATE_INVOICES = 400
#: the template's own ids start with this; each copy puts its number there instead
MARK = "f00dface"
#: and its document numbers carry this, replaced by the copy's number
NUMBER_MARK = "#####"
SAVE_CHUNK = 5_000  # events per insert (one transaction)


def _marked_id() -> UUID:
    return UUID(MARK + uuid4().hex[8:])


@dataclass
class Template:
    """One copy's worth of stored events, in log order, with marked ids and numbers."""

    events: list[StoredEvent]

    def copy(self, n: int) -> Iterator[StoredEvent]:
        mark, number_mark = MARK.encode(), NUMBER_MARK.encode()
        prefix = f"{0xA0000000 + n:08x}"
        number = f"{n:05d}".encode()
        ids: dict[UUID, UUID] = {}
        for event in self.events:
            originator = ids.get(event.originator_id)
            if originator is None:
                text = str(event.originator_id)
                originator = event.originator_id
                if text.startswith(MARK):
                    originator = UUID(prefix + text[8:])
                ids[event.originator_id] = originator
            yield StoredEvent(
                originator_id=originator,
                originator_version=event.originator_version,
                topic=event.topic,
                state=event.state.replace(mark, prefix.encode()).replace(number_mark, number),
            )


def make_template(ledger: Ledger, customers: list[tuple[UUID, str]], seed: int = 7) -> Template:
    """A few hundred invoices' worth of real domain events (validated, as commands make them)."""
    rng = random.Random(seed)
    log: list[Any] = []

    def flush(*aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            log.extend(aggregate.collect_events())

    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    billing = BillingSnapshot(
        customer_name="Bench Ltd",
        customer_account="BENCH",
        billing_address="1 Bench Street",
        customer_tax_number="GB123456789",
        seller_name="tollbook",
        seller_address="2 Ledger Road",
        seller_tax_number="GB987654321",
    )
    for i in range(TEMPLATE_INVOICES):
        customer_id, account = customers[i % len(customers)]
        at = start + timedelta(hours=7 * i)
        stamp = Stamp("finance:bench", at)
        day = at.date()
        period_start = date(day.year, day.month, 1)

        def line(
            description: str, price: str, quantity: int = 1, period_start: date = period_start
        ) -> InvoiceLine:
            return InvoiceLine(
                line_id=_marked_id(),
                description=description,
                quantity=D(quantity),
                unit_price=D(price),
                tax_rate=D(20),
                tax_description="VAT 20%",
                period_start=period_start,
                period_end=period_start + timedelta(days=27),
            )

        billing_run = i % 2 == 0
        lines = (
            [
                line(f"Calls to {where}", f"{rng.randint(100, 9999) / 100:.2f}", rng.randint(1, 9))
                for where in rng.sample(["France", "Spain", "Mobile", "UK", "Freephone"], 3)
            ]
            if billing_run
            else []
        )
        invoice = Invoice.draft(
            _marked_id(),
            customer_id=customer_id,
            customer_account=account,
            currency="GBP",
            invoice_date=day,
            due_date=day + timedelta(days=14),
            period_start=period_start if billing_run else None,
            period_end=period_start + timedelta(days=27) if billing_run else None,
            memo="",
            stamp=stamp,
            lines=lines,
        )
        if not billing_run:
            for n in range(rng.randint(1, 2)):
                invoice.add_line(line(f"Port {n}", "9.99", rng.randint(1, 4)), stamp)
        invoice.issue(f"INV-{NUMBER_MARK}-{i:04d}", day, billing, stamp)
        flush(invoice)
        total = invoice.totals.total
        fate = rng.random()
        if fate < 0.04:  # credited
            credit_line = line("Goodwill credit", "5.00")
            note = credit_invoice(
                _marked_id(),
                invoice,
                [credit_line],
                f"CN-{NUMBER_MARK}-{i:04d}",
                day,
                Stamp("finance:bench", at, "goodwill"),
            )
            flush(note, invoice)
            total = invoice.outstanding
        if fate > 0.97:  # voided, unpaid
            invoice.void(Stamp("finance:bench", at, "duplicate"))
            flush(invoice)
            continue
        if fate > 0.92:  # left unpaid
            continue
        paid_at = Stamp("finance:bench", at + timedelta(days=rng.randint(1, 40)))
        pending = 0.2 < fate < 0.25
        amount = total if fate < 0.8 else (total / 2).quantize(D("0.01"))
        details = PaymentDetails(
            customer_id=customer_id,
            customer_account=account,
            currency="GBP",
            amount=amount,
            received_on=paid_at.at.date(),
            reference=f"BACS {i}",
        )
        payment = Payment.receive(
            _marked_id(), details, "pending" if pending else "completed", paid_at
        )
        if pending:
            payment.complete(paid_at)
        flush(payment)
        allocation.allocate(payment, invoice, amount, paid_at)
        flush(payment, invoice)
        if 0.6 < fate < 0.62:  # taken back, part refunded
            allocation.unallocate(
                payment, invoice, amount, Stamp("finance:bench", paid_at.at, "wrong invoice")
            )
            payment.refund((amount / 2).quantize(D("0.01")), "bank transfer", f"R-{i}", paid_at)
            flush(payment, invoice)
    return Template([ledger.mapper.to_stored_event(event) for event in log])


def _register_customers(ledger: Ledger) -> list[tuple[UUID, str]]:
    customers = []
    for n in range(CUSTOMERS):
        account = f"C{n:05d}"
        customer_id = ledger.register_customer(
            "finance:bench", account_number=account, name=f"Customer {n} Ltd", currency="GBP"
        )
        customers.append((customer_id, account))
    return customers


class Log:
    """The bench's event store: created once, extended to each size in turn."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ledger = build_ledger(url)
        self.template = make_template(self.ledger, _register_customers(self.ledger))
        self.copies = 0

    @property
    def events(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def grow(self, target: int) -> None:
        recorder = self.ledger.recorder
        began = time.perf_counter()
        chunk: list[StoredEvent] = []
        while self.events + len(chunk) < target:
            for event in self.template.copy(self.copies):
                chunk.append(event)
                if len(chunk) == SAVE_CHUNK:
                    recorder.insert_events(chunk)
                    chunk = []
            self.copies += 1
            if self.events + len(chunk) >= target:
                break
        if chunk:
            recorder.insert_events(chunk)
        if self.url.startswith("postgres"):
            with psycopg.connect(self.url, autocommit=True) as conn:  # as autovacuum would
                conn.execute(f"ANALYZE {recorder.events_table_name}")
        took = time.perf_counter() - began
        print(f"  log holds {self.events:,} events (saved in {took:,.1f} s)", flush=True)

    def rebuild(self) -> float:
        """Ours: every read model rebuilt from event zero, as the CLI's rebuild does."""
        store = open_store(self.url, self.ledger.recorder.events_table_name)
        table = self.ledger.recorder.events_table_name
        child = child_factory(self.url, self.url, table)  # as the CLI's rebuild runs it
        runner = Runner(self.ledger, store, batch_size=REBUILD_BATCH_SIZE, child=child)
        gc.collect()
        began = time.perf_counter()
        applied = runner.rebuild()
        took = time.perf_counter() - began
        if applied != self.events:
            raise AssertionError(f"rebuild applied {applied} of {self.events} events")
        return applied / took

    def raw_read(self) -> float:
        """The yardstick: the recorder's paged read of the same events and json.loads of each."""
        recorder = self.ledger.recorder
        loads = json.loads
        gc.collect()
        began = time.perf_counter()
        count, start = 0, 0
        while True:
            page = recorder.select_notifications(
                start, REBUILD_BATCH_SIZE, inclusive_of_start=False
            )
            for notification in page:
                loads(notification.state)
            count += len(page)
            if len(page) < REBUILD_BATCH_SIZE:
                break
            start = page[-1].id
        took = time.perf_counter() - began
        if count != self.events:
            raise AssertionError(f"read {count} of {self.events} events")
        return count / took

    def close(self) -> None:
        self.ledger.close()


STORE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def bench_store(store: str, sizes: list[int], lag: bool) -> list[Goal]:
    goals: list[Goal] = []
    per_event: list[tuple[int, float]] = []
    name = STORE_NAMES[store]
    with own_database(store, "rebuild") as url:
        log = Log(url)
        try:
            for size in sizes:
                print(f"-- {name}, {size:,} events", flush=True)
                log.grow(size)
                rounds = interleave(ROUNDS, ours=log.rebuild, yardstick=log.raw_read)
                ours, yardstick = median(rounds["ours"]), median(rounds["yardstick"])
                label = f"{size // 1000:,}k" if size < 1_000_000 else f"{size / 1e6:g}M"
                goals.append(
                    Goal.at_least(
                        f"projection rebuild ({name}, {label} events)",
                        ours=ours,
                        yardstick=yardstick,
                        unit="events/s",
                        yardstick_name="select_notifications + json.loads",
                        target=TARGET_RATIO,
                    )
                )
                per_event.append((size, 1 / ours, 1 / yardstick))
            if lag:
                live_lag(log)
        finally:
            log.close()
    (small, small_cost, small_read), (large, large_cost, large_read) = per_event[0], per_event[-1]
    # the goal compares figures taken minutes apart, so the machine's load moves it; the same
    # cost per event relative to the yardstick's at each size cancels the load as the ratio
    # goals do (the yardstick reads the same log each time): shown beside it
    relative = (large_cost / large_read) / (small_cost / small_read)
    goals.append(
        Goal.at_most(
            f"projection rebuild cost per event flat ({name}, {large:,} vs {small:,} events)",
            ours=large_cost * 1e6,
            yardstick=small_cost * 1e6,
            unit="µs/event",
            yardstick_name=f"at {small:,} events",
            target=FLAT_LIMIT,
            note=(
                f"relative to the yardstick's cost per event at each size: {relative:.2f}×"
                f" ({large_cost / large_read:.2f} at {large:,} vs"
                f" {small_cost / small_read:.2f} at {small:,})"
            ),
        )
    )
    return goals


def live_lag(log: Log, seconds: float = 5.0, rate: float = 20.0) -> None:
    """p50/p99 of commit -> visible in the balances read model while a follower runs (no goal)."""
    ledger = log.ledger
    runner = Runner(ledger, open_store(log.url, ledger.recorder.events_table_name))
    runner.catch_up()
    customer = ledger.register_customer(
        "finance:bench", account_number="LAG", name="Lag Ltd", currency="GBP"
    )
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, 0.05), daemon=True)
    follower.start()
    lags: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ledger.record_payment(customer, "finance:bench", amount=D("1.00"), status="completed")
        committed = time.monotonic()
        position = ledger.recorder.max_notification_id()
        while runner.store.tracking(["balances"])["balances"].position < position:
            time.sleep(0.002)
        lags.append(time.monotonic() - committed)
        time.sleep(max(0.0, 1 / rate - lags[-1]))
    stop.set()
    follower.join()
    q = statistics.quantiles(lags, n=100)
    print(
        f"  live lag commit -> balance view: p50 {q[49] * 1000:.0f} ms,"
        f" p99 {q[98] * 1000:.0f} ms ({len(lags)} writes at {rate:g}/s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k and 100k events")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="events per size, ascending (default 100k and 1M)"
    )
    parser.add_argument(
        "--stores", nargs="+", choices=sorted(STORE_NAMES), default=["sqlite", "postgres"]
    )
    parser.add_argument("--lag", action="store_true", help="also live lag under writes")
    args = parser.parse_args()
    configure_logging("warning")
    sizes = args.sizes or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    header(f"projection rebuild vs select_notifications + json.loads, {sizes} events")
    goals: list[Goal] = []
    for store in args.stores:
        goals += bench_store(store, sizes, args.lag)
    report(*goals)


if __name__ == "__main__":
    main()
