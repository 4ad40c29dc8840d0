"""API reads under 20 concurrent clients against the same server's liveness check (issue #16,
row "API reads, 20 clients").

    .venv/bin/python -m bench.api_reads            # PostgreSQL and SQLite, the issue's sizes
    .venv/bin/python -m bench.api_reads --quick    # smaller ledger, shorter rounds
    .venv/bin/python -m bench.api_reads --store sqlite --workers 2 --seconds 3

For each store it seeds a fresh database (customers, issued invoices with lines, payments
allocated to some of them, written as aggregates in large transactions, not over HTTP), brings
the read models up to date, starts the real server (``tollbook serve --role api``) as a
subprocess on a free loopback port, and drives it with 20 client threads, each on its own
keep-alive connection (``http.client``), with three reads:

- ``GET /invoices/{id}``: one invoice, a random one per request;
- ``GET /invoices?limit=50``: the first page of the invoice list;
- ``GET /balances``: the balances page.

The server runs ``--workers 2`` on PostgreSQL (two API processes, as docs/operations.md advises
there) and one process on SQLite, unless ``--workers`` says otherwise; the yardstick is served
by the same processes.

The yardstick is ``GET /health/live`` on the same server in the same run: the liveness route,
which answers without touching the database. (``GET /health`` reads every read model's
tracking row and the log's head: a readiness report, not a cheap liveness check; it is shown
as a figure, not used as the yardstick.) Rounds alternate (read, liveness, read, ...) for
``--seconds`` each; the median of three is reported. Goals per read: requests/s at least 0.7 times
the liveness route's, and p99 latency at most 2 times its p99.

Plain GETs are the goal's figures. The same reads with ``If-None-Match`` (a client that keeps
what it read; answered 304 with no body) are shown beside them.
"""

from __future__ import annotations

import argparse
import http.client
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from bench.harness import Goal, header, interleave, median, own_database, report

TOLLBOOK = str(Path(sys.executable).parent / "tollbook")
CLIENTS = 20
LIVENESS = "/health/live"


@dataclass(frozen=True)
class Sizes:
    customers: int
    invoices: int
    seconds: float  # per round and side


FULL = Sizes(customers=200, invoices=5_000, seconds=5.0)
QUICK = Sizes(customers=50, invoices=1_000, seconds=2.0)


# --------------------------------------------------------------------- seeding


def seed(url: str, customers: int, invoices: int) -> tuple[list[str], str]:
    """Customers, issued invoices (two lines each) and payments, written as aggregates in
    large transactions; the read models caught up. Returns the invoice ids and a read key."""
    from adapters.app.context import Services
    from adapters.store.read_models import SqlViewStore
    from domain import allocation
    from domain.aggregate import Stamp
    from domain.invoice import BillingSnapshot, Invoice
    from domain.invoice_line import InvoiceLine
    from domain.payment import Payment, PaymentDetails
    from projections.runner import Runner

    services = Services.from_url(url)
    try:
        ledger = services.ledger
        accounts: list[tuple[UUID, str]] = []
        for n in range(customers):
            account = f"C{n:05d}"
            customer_id = ledger.register_customer(
                "bench",
                account_number=account,
                name=f"Customer {n} Ltd",
                currency="GBP",
                tax_rate=Decimal(20),
                tax_description="VAT 20%",
                payment_terms_days=14,
            )
            accounts.append((customer_id, account))
        rng = random.Random(16)
        stamp = Stamp("bench", datetime(2026, 1, 1, tzinfo=UTC))
        ids: list[str] = []
        batch: list[object] = []
        for n in range(invoices):
            customer_id, account = accounts[n % len(accounts)]
            day = date(2026, 1 + n % 11, 1 + n % 28)
            invoice = Invoice.draft(
                uuid4(),
                customer_id=customer_id,
                customer_account=account,
                currency="GBP",
                invoice_date=day,
                due_date=date(day.year, day.month + 1, day.day),
                period_start=None,
                period_end=None,
                memo="",
                stamp=stamp,
                lines=[
                    InvoiceLine(
                        line_id=uuid4(),
                        description=description,
                        quantity=Decimal(rng.randint(1, 20)),
                        unit_price=Decimal(f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}"),
                        tax_rate=Decimal(20),
                        tax_description="VAT 20%",
                    )
                    for description in ("Line rental", "Calls")
                ],
            )
            billing = BillingSnapshot(
                customer_name=f"Customer {account}",
                customer_account=account,
                billing_address="",
                customer_tax_number="",
                seller_name="tollbook",
                seller_address="",
                seller_tax_number="",
            )
            invoice.issue(f"INV-{n + 1:06d}", day, billing, stamp)
            batch.append(invoice)
            ids.append(str(invoice.id))
            if n % 2 == 0:  # half are paid, in full or in part
                amount = invoice.outstanding if n % 4 == 0 else Decimal("10.00")
                details = PaymentDetails(
                    customer_id=customer_id,
                    customer_account=account,
                    currency="GBP",
                    amount=amount,
                    received_on=day,
                )
                payment = Payment.receive(uuid4(), details, "completed", stamp)
                allocation.allocate(payment, invoice, amount, stamp)
                batch.append(payment)
            if len(batch) >= 400:
                ledger.save(*batch)  # type: ignore[arg-type]
                batch = []
        if batch:
            ledger.save(*batch)  # type: ignore[arg-type]
        table = getattr(ledger.recorder, "events_table_name", "")
        Runner(ledger, SqlViewStore(services.db, table)).catch_up()
        key = services.api_keys.create("bench-reads", "read")
    finally:
        services.close()
    return ids, key


# --------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(url: str, workers: int | None) -> Iterator[int]:
    """``tollbook serve --role api`` on a free loopback port, logging as it would in service
    (info, JSON lines, here to a file); stopped with SIGTERM."""
    port = free_port()
    command = [TOLLBOOK, "--db", url, "serve", "--role", "api", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_live(port, process)
            yield port
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.returncode not in (0, -signal.SIGTERM):
                log.seek(0)
                print(log.read().decode(errors="replace")[-3000:], file=sys.stderr)


def _wait_live(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", LIVENESS)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not come up")


# --------------------------------------------------------------------- the load


@dataclass
class Load:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


Ask = Callable[[random.Random], tuple[str, dict[str, str]]]


def drive(port: int, ask: Ask, seconds: float) -> Load:
    """``CLIENTS`` threads, each on one keep-alive connection, sending ``GET path`` with the
    headers ``ask(rng)`` gives until ``seconds`` have passed; every latency and status kept."""
    load = Load()
    lock = threading.Lock()
    ready = threading.Barrier(CLIENTS + 1)
    errors: list[BaseException] = []
    stop_at = [0.0]

    def client(index: int) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        try:
            conn.connect()
            ready.wait()
            while True:
                path, headers = ask(rng)
                started = time.perf_counter()
                if started >= stop_at[0]:
                    break
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status not in (200, 304):
                    raise AssertionError(f"GET {path} -> {response.status}: {body[:300]!r}")
        except BaseException as error:
            errors.append(error)
        finally:
            conn.close()
            with lock:
                load.latencies += latencies
                for status, count in statuses.items():
                    load.statuses[status] = load.statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600
    ready.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return load


def etags_of(port: int, paths: list[str], headers: dict[str, str]) -> dict[str, str]:
    """The ETag each path answers with now (for the conditional GETs)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    found: dict[str, str] = {}
    for path in paths:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        tag = response.getheader("ETag")
        if tag:
            found[path] = tag
    conn.close()
    return found


# --------------------------------------------------------------------- one store


@dataclass(frozen=True)
class Read:
    name: str
    ask: Ask


def run_store(store: str, sizes: Sizes, workers: int, conditional: bool) -> list[Goal]:
    with own_database(store, "api_reads") as url:
        began = time.perf_counter()
        ids, key = seed(url, sizes.customers, sizes.invoices)
        print(
            f"{store}: seeded {sizes.customers} customers, {sizes.invoices:,} invoices in"
            f" {time.perf_counter() - began:,.1f} s",
            flush=True,
        )
        auth = {"Authorization": f"Bearer {key}"}
        reads = [
            Read("GET one invoice", lambda rng: (f"/invoices/{rng.choice(ids)}", auth)),
            Read("GET invoice list (50)", lambda rng: ("/invoices?limit=50", auth)),
            Read("GET balances", lambda rng: ("/balances", auth)),
        ]
        liveness = Read(f"GET {LIVENESS}", lambda rng: (LIVENESS, {}))
        with served(url, workers) as port:
            for read in [*reads, liveness]:  # warm every route (imports, pools, caches)
                drive(port, read.ask, 0.5)
            health = drive(port, lambda rng: ("/health", {}), min(2.0, sizes.seconds))
            print(
                f"  GET /health (readiness, not the yardstick): {health.rate:,.0f} req/s,"
                f" p99 {health.p99() * 1000:.1f} ms",
                flush=True,
            )
            goals: list[Goal] = []
            for read in reads:
                p99s: dict[str, list[float]] = {"ours": [], "yardstick": []}

                def side(
                    name: str, ask: Ask, p99s: dict[str, list[float]] = p99s
                ) -> Callable[[], float]:
                    def run() -> float:
                        load = drive(port, ask, sizes.seconds)
                        p99s[name].append(load.p99())
                        return load.rate

                    return run

                rounds = interleave(
                    3, ours=side("ours", read.ask), yardstick=side("yardstick", liveness.ask)
                )
                ours, yard = median(rounds["ours"]), median(rounds["yardstick"])
                ours_p99, yard_p99 = median(p99s["ours"]) * 1000, median(p99s["yardstick"]) * 1000
                work = f"{read.name}, {CLIENTS} clients ({store}, {workers} API process(es))"
                goals += [
                    Goal.at_least(
                        work,
                        ours=ours,
                        yardstick=yard,
                        unit="req/s",
                        yardstick_name=f"GET {LIVENESS}",
                        target=0.7,
                    ),
                    Goal.at_most(
                        f"{work} p99",
                        ours=ours_p99,
                        yardstick=yard_p99,
                        unit="ms",
                        yardstick_name=f"GET {LIVENESS} p99",
                        target=2.0,
                    ),
                ]
                if conditional:
                    _conditional(port, read, ids, auth, sizes.seconds)
        return goals


def _conditional(
    port: int, read: Read, ids: list[str], auth: dict[str, str], seconds: float
) -> None:
    """The same read by a client that keeps what it read: If-None-Match, answered 304."""
    if read.name == "GET one invoice":
        sample = [f"/invoices/{i}" for i in ids[:500]]
    else:
        sample = [read.ask(random.Random(0))[0]]
    tags = etags_of(port, sample, auth)
    if not tags:
        print(f"  {read.name} with If-None-Match: no ETag", flush=True)
        return

    def ask(rng: random.Random) -> tuple[str, dict[str, str]]:
        path = rng.choice(sample)
        return path, {**auth, "If-None-Match": tags.get(path, '"none"')}

    load = drive(port, ask, seconds)
    print(
        f"  {read.name} with If-None-Match: {load.rate:,.0f} req/s, p99"
        f" {load.p99() * 1000:.1f} ms, statuses {dict(sorted(load.statuses.items()))}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same yardstick")
    parser.add_argument("--store", choices=["postgres", "sqlite"], action="append")
    parser.add_argument(
        "--workers",
        type=int,
        help="tollbook serve --workers (default: 2 on PostgreSQL, as docs/operations.md advises"
        " for it; 1 on SQLite)",
    )
    parser.add_argument("--seconds", type=float, help="per round and side")
    parser.add_argument(
        "--no-conditional", action="store_true", help="skip the If-None-Match figures"
    )
    args = parser.parse_args()
    from adapters.logging import configure_logging

    configure_logging(level="warning")  # the seeding's own progress lines stay quiet
    sizes = QUICK if args.quick else FULL
    if args.seconds:
        sizes = Sizes(sizes.customers, sizes.invoices, args.seconds)
    header(f"API reads, {CLIENTS} clients ({'quick' if args.quick else 'full'})")
    goals: list[Goal] = []
    for store in args.store or ["postgres", "sqlite"]:
        workers = args.workers or (2 if store == "postgres" else 1)
        goals += run_store(store, sizes, workers, not args.no_conditional)
    report(*goals)


if __name__ == "__main__":
    main()
