"""API writes under 20 concurrent clients: payments recorded and allocated to issued invoices
over real HTTP, against the eventsourcing library's raw save of the same events.

    .venv/bin/python -m bench.api_writes            # the issue's size: 20 clients x 15 rounds
    .venv/bin/python -m bench.api_writes --quick    # 20 clients x 5 rounds
    .venv/bin/python -m bench.api_writes --only sqlite

**Ours**: ``tollbook serve --role api`` in its own process on a free loopback port, on a fresh
store (``own_database``). Before the clock starts, each client is given its own issued invoices
(customers and invoices set up through the ledger, in this process). Timed: 20 clients (threads,
one HTTP connection each, started together) each do ``rounds`` times: ``POST /payments``
(completed, 100.00) then ``POST /payments/{id}/allocations`` of 10.00 to one of its invoices.
Every request must succeed (201, then 200). The clients are ``http.client`` keep-alive
connections (``--client httpx``: httpx, as the bench was first run): each request is sent and
its whole answer read and parsed, but at ~0.2 ms of CPU instead of httpx's ~1.4 ms — the clients
run on the same two cores as the server and are not what is measured.

**Yardstick**: the eventsourcing library's stock ``Application`` (stock recorder, stock pool,
no hash chain, no HTTP) on a fresh database of the same store, in this process: 20 threads
each save, per round, a new payment (one ``PaymentReceived`` event), then the payment's
``AllocationApplied`` and the invoice's ``PaymentApplied`` together in one ``save`` — the same
events, the same number of saves, the same aggregates per save as the API writes. Its invoices
are created before the clock starts, as ours are.

Both sides are measured in **events per second**: the API's two requests of a round write the
same three events as the yardstick's two saves, so requests/s = events/s x 2/3. The API side
also reports requests/s and the p99 latency of its requests (goal: below 250 ms). Rounds
alternate (ours, yardstick, ...) and the median of three is reported, for SQLite and PostgreSQL.
After the last round, the API's invariants are checked (every payment's allocation, every
invoice's paid amount) and the audit chain verified.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate as StockAggregate
from eventsourcing.domain import event

from adapters.config import build_ledger, store_env
from adapters.ledger.application import Ledger
from bench.api import TOLLBOOK, every, served
from bench.harness import Goal, header, interleave, median, own_database, report
from domain.invoice_line import InvoiceLine

CLIENTS = 20
ROUNDS = 3
EVENTS_PER_ROUND = 3  # payment received; allocation on the payment and on the invoice
REQUESTS_PER_ROUND = 2
P99_LIMIT_MS = 250.0
PAYMENT = Decimal("100.00")
ALLOCATION = Decimal("10.00")


@dataclass
class Run:
    """One timed run of one side."""

    seconds: float = 0.0
    events: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else 0.0


def run_threads(clients: int, body: Callable[[int, threading.Barrier], None]) -> float:
    """Run ``body(index, start)`` in ``clients`` threads; the clock runs from the moment all
    of them pass the ``start`` barrier until the last one ends. Re-raises a thread's error."""
    errors: list[BaseException] = []
    began: list[float] = []
    start = threading.Barrier(clients, action=lambda: began.append(time.perf_counter()))

    def guarded(index: int) -> None:
        try:
            body(index, start)
        except BaseException as error:
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    if errors:
        raise errors[0]
    return ended - began[0]


# ------------------------------------------------------------------------------------ ours


class Client(Protocol):
    """One client thread's keep-alive HTTP connection: POST a JSON body, get the status and
    the response body (read whole)."""

    def get(self, path: str) -> tuple[int, bytes]: ...

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


class RawClient:
    """``http.client`` on one keep-alive connection (as bench.api_reads' clients): a real HTTP
    client that parses the status line, headers and the whole body of every answer, at a
    fraction of httpx's CPU per request; the clients share the two cores with the server."""

    def __init__(self, base: str, key: str) -> None:
        address = urlsplit(base)
        self.conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        self.conn.request("POST", path, json.dumps(body).encode(), self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


class HttpxClient:
    """httpx (what the bench used before: ~1.3-4 ms of client CPU per request here)."""

    def __init__(self, base: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )

    def get(self, path: str) -> tuple[int, bytes]:
        response = self.http.get(path)
        return response.status_code, response.content

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        response = self.http.post(path, json=body)
        return response.status_code, response.content

    def close(self) -> None:
        self.http.close()


class Api:
    """The running server, its key and the ledger the set-up writes through."""

    def __init__(self, url: str, base: str, key: str, client: str = "http.client") -> None:
        self.url, self.base, self.key, self.client = url, base, key, client
        self.ledger: Ledger = build_ledger(url)
        self.customers = [
            self.ledger.register_customer(
                "bench",
                account_number=f"W-{n}",
                name=f"Writes {n} Ltd",
                currency="GBP",
                tax_rate=Decimal("20"),
                tax_description="VAT",
                payment_terms_days=14,
            )
            for n in range(CLIENTS)
        ]

    def connect(self) -> Client:
        """One client's keep-alive connection, of the kind ``--client`` names."""
        if self.client == "httpx":
            return HttpxClient(self.base, self.key)
        return RawClient(self.base, self.key)

    def invoices(self, per_client: int) -> list[list[UUID]]:
        """Issued invoices (100.00 + VAT) for each client's own customer, set up untimed."""
        found: list[list[UUID]] = []
        for customer in self.customers:
            mine = []
            for _ in range(per_client):
                line = InvoiceLine(
                    line_id=uuid4(),
                    description="Termination",
                    quantity=Decimal(1),
                    unit_price=Decimal("100.00"),
                    tax_rate=Decimal(20),
                    tax_description="VAT 20%",
                )
                invoice = self.ledger.create_invoice(customer, "bench", lines=[line])
                self.ledger.issue_invoice(invoice, "bench")
                mine.append(invoice)
            found.append(mine)
        return found

    def run(self, rounds: int) -> Run:
        owned = self.invoices(rounds)
        run = Run()
        lock = threading.Lock()

        def client(index: int, start: threading.Barrier) -> None:
            http = self.connect()
            customer = f"W-{index}"  # by account number, as an integrator would
            mine: list[float] = []
            try:
                http.get("/health")  # the connection is open before the clock starts
                start.wait()
                for invoice in owned[index]:
                    began = time.perf_counter()
                    status, paid = http.post(
                        "/payments",
                        {
                            "customer": customer,
                            "amount": str(PAYMENT),
                            "currency": "GBP",
                            "status": "completed",
                        },
                    )
                    mine.append(time.perf_counter() - began)
                    assert status == 201, paid
                    began = time.perf_counter()
                    status, allocated = http.post(
                        f"/payments/{json.loads(paid)['id']}/allocations",
                        {"allocations": [{"invoice": str(invoice), "amount": str(ALLOCATION)}]},
                    )
                    mine.append(time.perf_counter() - began)
                    assert status == 200, allocated
            finally:
                http.close()
                with lock:
                    run.latencies += mine

        run.seconds = run_threads(CLIENTS, client)
        run.events = CLIENTS * rounds * EVENTS_PER_ROUND
        return run

    def check(self) -> list[str]:
        """Every payment allocated exactly once, every invoice paid what was allocated to it,
        and the audit chain intact."""
        http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=120
        )
        problems = []
        for payment in every(http, "/payments"):
            if Decimal(payment["allocated"]) != ALLOCATION:
                problems.append(f"payment {payment['id']} allocated {payment['allocated']}")
        for invoice in every(http, "/invoices"):
            if Decimal(invoice["paid"]) not in (Decimal(0), ALLOCATION):
                problems.append(f"invoice {invoice['number']} paid {invoice['paid']}")
        http.close()
        audit = subprocess.run(
            [TOLLBOOK, "--db", self.url, "audit", "verify"],
            capture_output=True,
            text=True,
            check=False,
        )
        if audit.returncode:
            problems.append(f"audit verify failed: {audit.stdout[-500:]}{audit.stderr[-500:]}")
        return problems


# ------------------------------------------------------------------------------- yardstick


class StockPayment(StockAggregate):
    @event("Received")
    def __init__(self, customer: str, amount: Decimal) -> None:
        self.customer = customer
        self.amount = amount
        self.allocations: dict[UUID, Decimal] = {}

    @event("AllocationApplied")
    def allocate(self, invoice_id: UUID, amount: Decimal) -> None:
        self.allocations[invoice_id] = amount


class StockInvoice(StockAggregate):
    @event("Issued")
    def __init__(self, customer: str, number: str, total: Decimal) -> None:
        self.customer = customer
        self.number = number
        self.total = total
        self.paid = Decimal(0)

    @event("PaymentApplied")
    def apply_payment(self, payment_id: UUID, amount: Decimal) -> None:
        self.paid += amount


class Stock:
    """The library's own Application on its own database, with its stock recorder."""

    def __init__(self, url: str) -> None:
        env = store_env(url)
        env.pop("APPLICATION_RECORDER_TOPIC")  # the library's own recorder, no hash chain
        for setting in ("POSTGRES_POOL_SIZE", "POSTGRES_MAX_OVERFLOW", "POSTGRES_LOCK_TIMEOUT"):
            env.pop(setting, None)  # the library's defaults
        self.app: Application[UUID] = Application(env=env)
        self.numbered = 0

    def run(self, rounds: int) -> Run:
        owned: list[list[StockInvoice]] = []
        for client in range(CLIENTS):
            mine = []
            for _ in range(rounds):
                self.numbered += 1
                invoice = StockInvoice(f"W-{client}", f"INV-{self.numbered}", Decimal("120.00"))
                self.app.save(invoice)
                mine.append(invoice)
            owned.append(mine)
        app = self.app

        def client(index: int, start: threading.Barrier) -> None:
            start.wait()
            for invoice in owned[index]:
                payment = StockPayment(f"W-{index}", PAYMENT)
                app.save(payment)
                payment.allocate(invoice.id, ALLOCATION)
                invoice.apply_payment(payment.id, ALLOCATION)
                app.save(payment, invoice)

        run = Run()
        run.seconds = run_threads(CLIENTS, client)
        run.events = CLIENTS * rounds * EVENTS_PER_ROUND
        return run

    def close(self) -> None:
        self.app.close()


# ------------------------------------------------------------------------------------ main


def measure(store: str, rounds: int, client: str = "http.client", workers: int = 1) -> list[Goal]:
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[store]
    with (
        own_database(store, "writes") as url,
        own_database(store, "writes_stock") as stock_url,
        served(url, workers=workers) as (base, new_key),
    ):
        api = Api(url, base, new_key(), client)
        stock = Stock(stock_url)
        runs: dict[str, list[Run]] = {"ours": [], "yardstick": []}

        def side(name: str, run: Callable[[int], Run]) -> Callable[[], float]:
            def measured() -> float:
                result = run(rounds)
                runs[name].append(result)
                return result.events_per_second

            return measured

        try:
            figures = interleave(
                ROUNDS, ours=side("ours", api.run), yardstick=side("yardstick", stock.run)
            )
            problems = api.check()
        finally:
            stock.close()
            api.ledger.close()
    if problems:
        raise AssertionError(f"{label}: " + "; ".join(problems[:10]))
    ours = runs["ours"]
    requests = median([run.requests_per_second for run in ours])
    p99 = median([run.p99_ms() for run in ours])
    print(
        f"{label}: ours {median(figures['ours']):,.0f} events/s ({requests:,.1f} requests/s,"
        f" p99 {p99:,.0f} ms); yardstick {median(figures['yardstick']):,.0f} events/s;"
        f" per round: {[round(r.p99_ms()) for r in ours]} ms p99",
        flush=True,
    )
    work = f"API writes, {CLIENTS} clients ({label})"
    if workers > 1:
        work = f"API writes, {CLIENTS} clients ({label}, {workers} API processes)"
    return [
        Goal.at_least(
            work,
            ours=median(figures["ours"]),
            yardstick=median(figures["yardstick"]),
            unit="events/s",
            yardstick_name="eventsourcing raw save, 20 threads,",
            target=0.5,
            note=f"{requests:,.1f} requests/s (2 requests = 3 events)",
        ),
        Goal.absolute(f"{work} p99 latency", figure=p99, unit="ms", limit=P99_LIMIT_MS),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds per client, not 15")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one store only")
    parser.add_argument("--rounds", type=int, help="rounds per client (overrides the size)")
    parser.add_argument(
        "--client",
        choices=("http.client", "httpx"),
        default="http.client",
        help="the clients' HTTP library (httpx: as the bench was first run, ~7x the CPU)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="tollbook serve --workers (API processes; default one; docs/operations.md: safe on"
        " SQLite, pays when the API has a spare core)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)
    header(
        f"API writes: {CLIENTS} clients x {rounds} rounds (payment + allocation),"
        f" clients on {args.client}"
    )
    random.seed(7)
    goals: list[Goal] = []
    for store in [args.only] if args.only else ["sqlite", "postgres"]:
        goals += measure(store, rounds, args.client, args.workers)
    report(*goals)


if __name__ == "__main__":
    sys.exit(main())
