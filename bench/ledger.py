"""Ledger benchmark: commands per second for a realistic billing mix, and our event-store write
path against the eventsourcing library's raw append rate for the same events, same run.

    .venv/bin/python bench/ledger.py [--cycles 200] [--backends sqlite,postgres]

Mix per cycle: create invoice + 5 lines + issue + record payment + allocate (9 commands).
Target: our write path within 2x of the raw append rate (ratio printed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate as StockAggregate
from eventsourcing.domain import event
from rich.console import Console
from rich.table import Table

from adapters.config import build_ledger, store_env
from adapters.logging import configure_logging
from domain.aggregate import Stamp
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine

PG = "postgresql://postgres@127.0.0.1:5432/test"
EVENTS_PER_DOCUMENT = 7  # drafted + 5 lines + issued


class RawInvoice(StockAggregate):
    """The library's own aggregate with stock events, for the raw append rate."""

    @event("Drafted")
    def __init__(self, customer: str) -> None:
        self.customer = customer
        self.lines: list[str] = []

    @event("LineAdded")
    def add_line(self, text: str, amount: D) -> None:
        self.lines.append(text)

    @event("Issued")
    def issue(self, number: str) -> None:
        self.number = number


def mix(url: str, cycles: int) -> float:
    ledger = build_ledger(url)
    ledger.register_customer(
        "bench",
        account_number="BENCH",
        name="Bench Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT",
        payment_terms_days=14,
    )
    started = time.perf_counter()
    for _ in range(cycles):
        invoice_id = ledger.create_invoice("BENCH", "bench")
        for n in range(5):
            ledger.add_line(
                invoice_id,
                "bench",
                description=f"line {n}",
                quantity=D("3"),
                unit_price=D("0.0123"),
            )
        ledger.issue_invoice(invoice_id, "bench")
        payment = ledger.record_payment("BENCH", "bench", amount=D("1.00"), status="completed")
        ledger.allocate(payment, [(invoice_id, D("0.10"))], "bench")
    elapsed = time.perf_counter() - started
    ledger.close()
    return cycles * 9 / elapsed


def our_write_path(url: str, documents: int) -> float:
    """Events/s saving pre-built invoices (one event per save), as the commands do."""
    ledger = build_ledger(url)
    stamp = Stamp("bench", datetime(2026, 10, 1, tzinfo=UTC))
    billing = BillingSnapshot(
        customer_name="c",
        customer_account="c",
        billing_address="",
        customer_tax_number="",
        seller_name="s",
        seller_address="",
        seller_tax_number="",
    )
    batches = []
    for i in range(documents):
        invoice = Invoice.draft(
            uuid.uuid4(),
            customer_id=uuid.uuid4(),
            customer_account="c",
            currency="GBP",
            invoice_date=date(2026, 10, 1),
            due_date=date(2026, 10, 15),
            period_start=None,
            period_end=None,
            memo="",
            stamp=stamp,
        )
        pending = [invoice.collect_events()]
        for n in range(5):
            invoice.add_line(
                InvoiceLine(
                    line_id=uuid.uuid4(),
                    description=f"line {n}",
                    quantity=D("3"),
                    unit_price=D("0.0123"),
                    tax_rate=D("20"),
                ),
                stamp,
            )
            pending.append(invoice.collect_events())
        invoice.issue(f"INV-{i}", date(2026, 10, 1), billing, stamp)
        pending.append(invoice.collect_events())
        batches.append(pending)
    started = time.perf_counter()
    for pending in batches:
        for events in pending:
            ledger.save(*events)
    elapsed = time.perf_counter() - started
    ledger.close()
    return documents * EVENTS_PER_DOCUMENT / elapsed


def raw_append(url: str, documents: int) -> float:
    # The library as shipped: its own recorder, without our audit hash chain.
    env = {k: v for k, v in store_env(url).items() if k != "APPLICATION_RECORDER_TOPIC"}
    app: Application[uuid.UUID] = Application(env=env)
    started = time.perf_counter()
    for i in range(documents):
        agg = RawInvoice(customer="c")
        app.save(agg)
        for n in range(5):
            agg.add_line(text=f"line {n}", amount=D("0.04"))
            app.save(agg)
        agg.issue(number=f"INV-{i}")
        app.save(agg)
    elapsed = time.perf_counter() - started
    app.close()
    return documents * EVENTS_PER_DOCUMENT / elapsed


def with_store(backend: str, work):  # type: ignore[no-untyped-def]
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            return work(f"sqlite:///{folder}/bench.sqlite")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return work(f"{PG}?schema={schema}")
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    configure_logging("warning")
    table = Table(title=f"tollbook ledger benchmark ({args.cycles} cycles)")
    for column in (
        "store",
        "mix commands/s",
        "our write path events/s",
        "raw append events/s",
        "raw / ours",
    ):
        table.add_column(column, justify="right")
    for backend in args.backends.split(","):
        commands = with_store(backend, lambda url: mix(url, args.cycles))
        ours = with_store(backend, lambda url: our_write_path(url, args.cycles))
        raw = with_store(backend, lambda url: raw_append(url, args.cycles))
        table.add_row(
            backend, f"{commands:,.0f}", f"{ours:,.0f}", f"{raw:,.0f}", f"{raw / ours:.2f}x"
        )
    Console().print(table)
    print("target: raw / ours <= 2.00x (our write path within 2x of the library's raw append)")


if __name__ == "__main__":
    main()
