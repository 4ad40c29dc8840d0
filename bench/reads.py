"""Reads against a growing ledger: requests/s of ``GET /invoices``, ``GET /balances``, a
lookup of an unknown invoice reference, the invoice list sorted by amount due, aged
receivables and the customers a billing run reads, the way they were answered before (a fold
of the log, or a whole read model read and sorted in Python, per request, mounted beside the
API as ``/_main/...``) and through the query path (the API itself, and ``/_new/customers``),
in the same process, on the same store.

    .venv/bin/python bench/reads.py                           # SQLite, 400 then 2,000 invoices
    .venv/bin/python bench/reads.py --db "postgresql://postgres@127.0.0.1:5432/test?schema=bench_reads"
    .venv/bin/python bench/reads.py --sizes 400 2000 --seconds 3

Each size adds invoices (issued, one line each) and a payment per ten invoices, then runs each
request for ``--seconds`` through FastAPI's TestClient (no network, one client).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from adapters.ledger.folds import LogFolds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import APIRouter, HTTPException
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.logging import configure_logging
from adapters.queries import every_customer, queries_for
from adapters.queries.documents import amount_due, register_doc
from adapters.service.app import create_app
from adapters.views import balance_doc, invoice_doc
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine
from projections.aged_receivables import MOVEMENTS, age
from projections.balances import Balances
from projections.invoice_register import REGISTER


def main_routes(services: Services) -> APIRouter:
    """The three reads as ``main`` answered them: folds of the log on every request."""
    router = APIRouter(prefix="/_main")
    ledger = services.ledger

    @router.get("/invoices")
    def invoices() -> list[dict[str, Any]]:
        today = ledger.today()
        return [invoice_doc(i, today) for i in LogFolds(ledger).invoices()]

    @router.get("/balances")
    def balances() -> list[dict[str, Any]]:
        folded = Balances().fold(event for _, event in ledger.all_events())
        return [balance_doc(row) for row in folded.all()]

    @router.get("/invoices-by-due")
    def by_due() -> list[dict[str, Any]]:
        # the portal's sorted list before: the whole register, sorted in Python
        store = queries_for(ledger).store
        queries_for(ledger).catch_up()
        rows = store.select(REGISTER)
        rows.sort(key=lambda r: (amount_due(r), r["position"]), reverse=True)
        today = ledger.today()
        return [register_doc(row, today) for row in rows[:100]]

    @router.get("/aged")
    def aged() -> int:
        # `tollbook aged` before: every movement up to the day, aged at once
        queries_for(ledger).catch_up()
        day = ledger.today()
        movements = queries_for(ledger).store.select(MOVEMENTS, ranges={"on_date": (None, day)})
        return len(age(movements, day))

    @router.get("/customers")
    def customers() -> int:
        return len(LogFolds(ledger).customers())  # billing runs, rerating, the scheduler before

    @router.get("/invoices/{ref}")
    def lookup(ref: str) -> dict[str, Any]:
        # main's fallback after the DocumentNumber read: scan Issued, then Drafted events
        for _, event in ledger._ids_of(Invoice.Issued):
            if isinstance(event, Invoice.Issued) and event.number == ref:
                return {"id": str(event.originator_id)}
        for _, event in ledger._ids_of(Invoice.Drafted):
            if len(ref) >= 6 and str(event.originator_id).startswith(ref.lower()):
                return {"id": str(event.originator_id)}
        raise HTTPException(404, f"unknown invoice {ref!r}")

    return router


def new_routes(services: Services) -> APIRouter:
    """Reads the query path serves that have no route of their own."""
    router = APIRouter(prefix="/_new")

    @router.get("/customers")
    def customers() -> int:
        return len(every_customer(services.ledger))

    return router


def grow(services: Services, invoices: int) -> None:
    ledger = services.ledger
    try:
        ledger.customer("BENCH")
    except NotFound:
        ledger.register_customer(
            "bench",
            account_number="BENCH",
            name="Bench Ltd",
            currency="GBP",
            tax_rate=Decimal(20),
            tax_description="VAT 20%",
            payment_terms_days=14,
        )
    have = sum(1 for _ in ledger._ids_of(Invoice.Drafted))
    for n in range(have, invoices):
        line = InvoiceLine(
            line_id=uuid4(),
            description="Port",
            quantity=Decimal(1),
            unit_price=Decimal("10.00"),
            tax_rate=Decimal(20),
            tax_description="VAT 20%",
        )
        ledger.issue_invoice(ledger.create_invoice("BENCH", "bench", lines=[line]), "bench")
        if n % 10 == 0:
            ledger.record_payment("BENCH", "bench", amount=Decimal("5.00"), status="completed")


def rate(call: Callable[[], Any], seconds: float) -> float:
    call()  # warm: the first read may catch read models up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        call()
        done += 1
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 2000])
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    url = options.db or f"sqlite:///{tempfile.mkdtemp(prefix='tollbook-reads-')}/bench.sqlite"
    configure_logging(level="warning")
    services = Services.from_url(url)
    key = services.api_keys.create("bench", "read")
    app = create_app(services)
    app.include_router(main_routes(services))
    app.include_router(new_routes(services))
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})

    def get(path: str, status: int = 200) -> Callable[[], Any]:
        def call() -> None:
            response = client.get(path)
            assert response.status_code == status, (path, response.status_code, response.text)

        return call

    print(f"store: {url.split('?')[0].split('@')[-1]}")
    print("| invoices | events | request | main (fold) req/s | read models req/s | x |")
    print("|---|---|---|---|---|---|")
    for size in options.sizes:
        grow(services, size)
        events = services.ledger.recorder.max_notification_id() or 0
        for label, before, after in (
            ("GET /invoices", "/_main/invoices", "/invoices"),
            ("GET /balances", "/_main/balances", "/balances"),
            ("unknown ref", "/_main/invoices/abcdef99", "/invoices/abcdef99"),
            ("sorted by due", "/_main/invoices-by-due", "/invoices?sort=due&dir=desc"),
            ("aged", "/_main/aged", "/aged-receivables"),
            ("billing customers", "/_main/customers", "/_new/customers"),
        ):
            status = 404 if label == "unknown ref" else 200
            old = rate(get(before, status), options.seconds)
            new = rate(get(after, status), options.seconds)
            print(f"| {size} | {events} | {label} | {old:,.1f} | {new:,.1f} | {new / old:,.0f} |")
    services.close()


if __name__ == "__main__":
    main()
