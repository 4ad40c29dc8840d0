"""Load over real HTTP: concurrent clients issuing invoices and allocating payments, then
every invariant checked; prints requests/s and latency percentiles.

    .venv/bin/python bench/api.py                                    # SQLite file, 20 clients
    .venv/bin/python bench/api.py --db "postgresql://postgres@127.0.0.1:5432/test?schema=bench"
    .venv/bin/python bench/api.py --clients 40 --operations 50

It starts ``tollbook serve --role api`` on a free loopback port (the database must be empty or
at least hold no other customers named LOAD-*), creates a few customers and payments, runs the
clients, then checks: no payment allocated beyond its amount, no invoice paid beyond its
total, every issued number unique and the numbers gapless. tests/service/test_load.py runs the
same driver (bounded) on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

TOLLBOOK = str(Path(sys.executable).parent / "tollbook")


@dataclass
class LoadReport:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    statuses: dict[int, int] = field(default_factory=dict)
    numbers: list[str] = field(default_factory=list)  # every number an issue answered with

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class Client:
    """One API client with its own connection; records latency and status of every call."""

    def __init__(self, base: str, key: str, report: LoadReport, lock: threading.Lock) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        self.report, self.lock = report, lock

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        started = time.perf_counter()
        response = self.http.request(method, path, json=body)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.report.latencies.append(elapsed)
            self.report.statuses[response.status_code] = (
                self.report.statuses.get(response.status_code, 0) + 1
            )
        if response.status_code >= 500:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response


def setup(base: str, key: str, customers: int, payments: int) -> dict[str, list[str]]:
    """Customers LOAD-n, each with ``payments`` completed payments of 500.00."""
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    world: dict[str, list[str]] = {}
    for n in range(customers):
        account = f"LOAD-{n}"
        http.post(
            "/customers",
            json={"account_number": account, "name": f"Load {n} Ltd", "currency": "GBP"},
        ).raise_for_status()
        world[account] = [
            http.post(
                "/payments",
                json={
                    "customer": account,
                    "amount": "500.00",
                    "currency": "GBP",
                    "status": "completed",
                },
            ).json()["id"]
            for _ in range(payments)
        ]
    return world


def run_load(
    base: str,
    key: str,
    *,
    clients: int = 20,
    operations: int = 10,
    customers: int = 4,
    seed: int = 7,
) -> LoadReport:
    """Each client does ``operations`` rounds of: issue an invoice, then allocate one of its
    customer's payments (shared with other clients) over that customer's open invoices."""
    world = setup(base, key, customers, payments=3)
    report = LoadReport(clients, 0.0)
    lock = threading.Lock()
    issued: dict[str, list[str]] = {account: [] for account in world}
    errors: list[BaseException] = []
    start = threading.Barrier(clients)

    def client_loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(base, key, report, lock)
        start.wait()
        try:
            for _ in range(operations):
                account = rng.choice(list(world))
                invoice = _issue(client, account, rng)
                with lock:
                    report.numbers.append(invoice["number"])
                    issued[account].append(invoice["id"])
                    open_invoices = list(issued[account][-3:])
                payment = rng.choice(world[account])
                client.call(
                    "POST",
                    f"/payments/{payment}/allocations",
                    {
                        "allocations": [
                            {
                                "invoice": inv,
                                "amount": f"{rng.randint(5, 90)}.{rng.randint(0, 99):02d}",
                            }
                            for inv in open_invoices
                        ]
                    },
                )
        except BaseException as error:
            errors.append(error)
        finally:
            client.http.close()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return report


def _issue(client: Client, account: str, rng: random.Random) -> dict[str, Any]:
    draft = client.call("POST", "/invoices", {"customer": account})
    assert draft.status_code == 201, draft.text
    invoice_id = draft.json()["id"]
    line = client.call(
        "POST",
        f"/invoices/{invoice_id}/lines",
        {"description": "Termination", "quantity": "1", "unit_price": f"{rng.randint(20, 120)}.00"},
    )
    assert line.status_code == 201, line.text
    for _ in range(5):  # a 409 concurrency_conflict asks the client to try again
        issued = client.call("POST", f"/invoices/{invoice_id}/issue")
        if issued.json().get("code") != "concurrency_conflict":
            break
    assert issued.status_code == 200, issued.text
    document: dict[str, Any] = issued.json()
    return document


def every(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every row of a paged list: follows X-Next-Cursor until the last page."""
    rows: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "1000"}
    while True:
        response = http.get(path, params=params)
        response.raise_for_status()
        rows += response.json()
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            return rows
        params["cursor"] = cursor


def check_invariants(base: str, key: str, report: LoadReport) -> list[str]:
    """Everything that must hold however the requests interleaved; returns the violations."""
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    problems: list[str] = []
    invoices = [i for i in every(http, "/invoices") if i["number"]]
    payments = every(http, "/payments")
    allocated_to: dict[str, Decimal] = {}
    for payment in payments:
        if Decimal(payment["allocated"]) > Decimal(payment["amount"]):
            problems.append(f"payment {payment['id']} over-allocated: {payment['allocated']}")
        for allocation in payment["allocations"]:
            invoice_id = allocation["invoice_id"]
            allocated_to[invoice_id] = allocated_to.get(invoice_id, Decimal(0)) + Decimal(
                allocation["amount"]
            )
    for invoice in invoices:
        paid, total = Decimal(invoice["paid"]), Decimal(invoice["total"])
        if paid > total:
            problems.append(f"invoice {invoice['number']} paid {paid} of {total}")
        if allocated_to.get(invoice["id"], Decimal(0)) != paid:
            problems.append(f"invoice {invoice['number']}: allocations do not add up to paid")
    numbers = [invoice["number"] for invoice in invoices]
    if len(numbers) != len(set(numbers)):
        problems.append("duplicate invoice numbers")
    if sorted(report.numbers) != sorted(numbers):
        problems.append("the numbers the API answered differ from the numbers stored")
    sequence = sorted(int(number.rsplit("-", 1)[-1]) for number in numbers)
    if sequence != list(range(1, len(sequence) + 1)):
        problems.append(f"numbers are not gapless from 1: {sequence[:5]}...{sequence[-5:]}")
    return problems


# --------------------------------------------------------------------- running a server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(
    url: str, processes: int = 1, workers: int = 1
) -> Iterator[tuple[str, Callable[[], str]]]:
    """``tollbook serve --role api`` process(es) on loopback ports, each ``--workers``
    ``workers``; yields the first base URL and a function creating an admin key. Stopped with
    SIGTERM on exit."""
    env = {**os.environ, "TOLLBOOK_LOG_LEVEL": "warning"}
    ports = [free_port() for _ in range(processes)]
    # the servers' log lines go to a file (a pipe nobody reads would block them once full);
    # its end is shown when the block fails
    logs = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed after the servers stop
    running = [
        subprocess.Popen(
            [TOLLBOOK, "--db", url, "serve", "--role", "api", "--port", str(port)]
            + (["--workers", str(workers)] if workers > 1 else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=logs,
        )
        for port in ports
    ]
    base = f"http://127.0.0.1:{ports[0]}"
    try:
        for port in ports:
            _wait_healthy(f"http://127.0.0.1:{port}")

        def new_key() -> str:
            out = subprocess.run(
                [
                    TOLLBOOK,
                    "--db",
                    url,
                    "apikey",
                    "create",
                    f"load-{time.time_ns()}",
                    "--scope",
                    "admin",
                    "--json",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout

            return str(json.loads(out)["key"])

        try:
            yield base, new_key
        except BaseException:
            logs.seek(0)
            print("server log (end):\n" + logs.read()[-4000:], file=sys.stderr, flush=True)
            raise
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # never leave a server holding the database
                process.kill()
                process.wait()
                raise
        logs.close()


def _wait_healthy(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--operations", type=int, default=20, help="rounds per client")
    parser.add_argument("--customers", type=int, default=4)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='tollbook-bench-')}/api.sqlite"
    with served(url) as (base, new_key):
        key = new_key()
        report = run_load(
            base, key, clients=args.clients, operations=args.operations, customers=args.customers
        )
        problems = check_invariants(base, key, report)
    print(f"store: {url.split('?')[0]}")
    print(f"clients: {report.clients}, requests: {report.requests}, in {report.seconds:.1f} s")
    print(f"throughput: {report.rate:.0f} requests/s")
    p50, p99 = report.percentile(0.5) * 1000, report.percentile(0.99) * 1000
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(report.latencies) * 1000:.1f} ms")
    print(f"statuses: {dict(sorted(report.statuses.items()))}")
    print(f"mean latency: {statistics.fmean(report.latencies) * 1000:.1f} ms")
    print("invariants: " + ("all hold" if not problems else "; ".join(problems)))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
